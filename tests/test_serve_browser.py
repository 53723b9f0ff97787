"""`run.py serve` in a real browser: the server runs as a subprocess, Chromium (Debian's, driven by
Playwright) loads the page and uses every tab as a person would: clicks a Go point and sees the
policy answer and the heat map and top 5 change, uploads a WAV, types a sentence, uploads a
picture, and sees each label. A bad request (an empty sentence, an occupied point) shows its
message and the server goes on answering.

The functions before the tests start the server and drive each tab; `docs/serve/screenshots.py`
uses them to make the README's screenshots.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, needs_program

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
START_SECONDS = 120  # TensorFlow and Gradio imports on 2 busy cores
ANSWER_MS = 90_000   # the first answer of a tab loads its model


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(port=None, models=None):
    """The URL of `run.py serve` running in a subprocess (its output in a temporary log file,
    shown if it fails to start); the server is ended on exit."""
    port = port or free_port()
    command = [sys.executable, str(REPO / "run.py"), "serve", "--port", str(port)]
    if models:
        command += ["--models", str(models)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", GRADIO_ANALYTICS_ENABLED="False")
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.time() + START_SECONDS
            while True:
                if server.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"run.py serve did not start (exit status {server.poll()}):\n{log.read()[-3000:]}")
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(1)
            yield url
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@contextlib.contextmanager
def browser_page(url, width=1280, height=1100):
    """A Chromium page (Debian's browser, no download) with `url` loaded."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(ANSWER_MS)
            page.goto(url)
            yield page
        finally:
            browser.close()


def open_tab(page, name):
    page.get_by_role("tab", name=name, exact=True).click()


def click_go_point(page, point):
    """Click the centre of board point (row, col) in the Go tab's board picture."""
    from apps.go.web import PIXELS, point_pixel
    board = page.locator("#go-board img")
    board.wait_for()
    box = board.bounding_box()
    x, y = point_pixel(point)
    board.click(position={"x": x * box["width"] / PIXELS, "y": y * box["height"] / PIXELS})


def upload(page, elem_id, path, source_button=None):
    """Put a file into the file input of component `elem_id` (after choosing its upload source)."""
    if source_button:
        page.locator(f"#{elem_id} button[aria-label='{source_button}']").click()
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))


def play_go(page, point):
    """Play `point` in the Go tab and wait for the policy's answer; returns the message."""
    from playwright.sync_api import expect
    before = page.locator("#go-message").inner_text()
    click_go_point(page, point)
    expect(page.locator("#go-message")).not_to_have_text(before)
    return page.locator("#go-message").inner_text()


def classify_audio(page, path):
    from playwright.sync_api import expect
    open_tab(page, "Speech")
    upload(page, "speech-audio", path, source_button="Upload file")
    expect(page.locator("#speech-saliency img")).to_be_visible()
    return page.locator("#speech-label").inner_text()


def classify_sentence(page, text):
    """Type `text` in the Text tab, classify it, and wait for the message to change; returns the message."""
    from playwright.sync_api import expect
    open_tab(page, "Text")
    before = page.locator("#text-message").inner_text()
    page.locator("#text-sentence textarea").fill(text)
    page.locator("#text-classify").click()
    expect(page.locator("#text-message")).not_to_have_text(before)
    return page.locator("#text-message").inner_text()


def classify_picture(page, path):
    from playwright.sync_api import expect
    open_tab(page, "Image")
    page.get_by_role("tab", name="Upload", exact=True).click()
    upload(page, "image-upload", path)
    expect(page.locator("#image-explained img")).to_be_visible()
    return page.locator("#image-label").inner_text()


needs_chromium = needs_program("chromium", "apt-get install chromium")


@pytest.fixture(scope="module")
def page():
    pytest.importorskip("playwright")
    with serving() as url, browser_page(url) as page:
        yield page


@needs_chromium
def test_go_tab_plays_and_explains(page):
    from playwright.sync_api import expect
    open_tab(page, "Go")
    expect(page.locator("#go-message")).to_contain_text("Your move (black)")
    top_before = page.locator("#go-top").inner_text()
    message = play_go(page, (3, 3))
    assert "You (black) played D4" in message and "The policy (white) answered" in message, message
    expect(page.locator("#go-top")).not_to_have_text(top_before)
    expect(page.locator("#go-planes img")).to_be_visible()
    message = play_go(page, (3, 3))  # the same point again: occupied
    assert "D4 is illegal for black: point is occupied" in message, message
    message = play_go(page, (15, 15))  # and the game goes on
    assert "You (black) played Q16" in message, message


@needs_chromium
def test_speech_tab_labels_a_wav(page):
    label = classify_audio(page, REPO / "examples" / "seven.wav")
    assert "7" in label.split("\n")[0:3], label


@needs_chromium
def test_text_tab_survives_an_empty_sentence(page):
    from playwright.sync_api import expect
    assert "empty sentence" in classify_sentence(page, "   ")
    classify_sentence(page, "a gorgeous , witty , seductive movie .")
    expect(page.locator("#text-label")).to_contain_text("positive")
    expect(page.locator("#text-words")).to_contain_text("seductive")


@needs_chromium
def test_image_tab_predicts_an_upload(page):
    label = classify_picture(page, REPO / "examples" / "digit7.png")
    assert label.split("\n")[0].strip() == "7", label
