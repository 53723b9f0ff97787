"""`run.py serve` in a real browser: the server runs as a subprocess, Chromium (Debian's, driven by
Playwright) loads the page and uses every tab as a person would: clicks a Go point and sees the
policy answer and the heat map and top 5 change, uploads a WAV, types a sentence, uploads a
picture, draws a digit, and sees each label. A bad request (an empty sentence, an occupied point) shows its
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
                    raise RuntimeError(f"run.py serve did not start (exit status {server.poll()}):\n"
                                       f"{log.read()[-3000:]}")
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


def settled_text(page, elem_id, changed_from=None, contains=None):
    """The text of component `elem_id` once the page has no request in progress (every Gradio
    status tracker hidden) and the text differs from `changed_from` / contains `contains`."""
    deadline = time.time() + ANSWER_MS / 1000
    while True:
        busy = page.locator("[data-testid=status-tracker]:not(.hide)").count()
        text = page.locator(f"#{elem_id}").inner_text()
        if not busy and text != changed_from and (contains is None or contains in text):
            return text
        if time.time() > deadline:
            raise AssertionError(f"#{elem_id} still reads {text!r} after {ANSWER_MS / 1000:.0f} s")
        page.wait_for_timeout(200)


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
    before = settled_text(page, "go-message")
    click_go_point(page, point)
    return settled_text(page, "go-message", changed_from=before)


def classify_audio(page, path):
    """Upload an audio file in the Speech tab; returns the message once it is classified."""
    open_tab(page, "Speech")
    before = settled_text(page, "speech-message")
    upload(page, "speech-audio", path, source_button="Upload file")
    return settled_text(page, "speech-message", changed_from=before)


def classify_sentence(page, text):
    """Type `text` in the Text tab, classify it, and wait for the message to change; returns the message."""
    open_tab(page, "Text")
    before = settled_text(page, "text-message")
    page.locator("#text-sentence textarea").fill(text)
    page.locator("#text-classify").click()
    return settled_text(page, "text-message", changed_from=before)


def classify_picture(page, path):
    """Upload a picture in the Image tab; returns the message once it is classified."""
    open_tab(page, "Image")
    page.get_by_role("tab", name="Upload", exact=True).click()
    before = settled_text(page, "image-message")
    upload(page, "image-upload", path)
    return settled_text(page, "image-message", changed_from=before)


def draw(page, strokes):
    """Draw `strokes` (each a list of (x, y) in fractions of the canvas) on the Image tab's sketchpad
    with the brush, and classify the drawing; returns the message."""
    open_tab(page, "Image")
    page.get_by_role("tab", name="Draw", exact=True).click()
    page.locator("#image-sketch button[aria-label=Brush]").click()
    box = page.locator("#image-sketch canvas").first.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0] * box["width"], box["y"] + stroke[0][1] * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=12)
        page.mouse.up()
    before = settled_text(page, "image-message")
    page.locator("#image-classify").click()
    return settled_text(page, "image-message", changed_from=before)


needs_chromium = needs_program("chromium", "apt-get install chromium")


@pytest.fixture(scope="module")
def page():
    pytest.importorskip("playwright")
    from playwright.sync_api import expect
    expect.set_options(timeout=ANSWER_MS)
    with serving() as url, browser_page(url) as page:
        yield page


@needs_chromium
def test_go_tab_plays_and_explains(page):
    from playwright.sync_api import expect
    open_tab(page, "Go")
    settled_text(page, "go-message", contains="Your move (black)")
    top_before = page.locator("#go-top").inner_text()
    board_before = page.locator("#go-board img").get_attribute("src")
    message = play_go(page, (3, 3))
    assert "You (black) played D4" in message and "The policy (white) answered" in message, message
    assert page.locator("#go-top").inner_text() != top_before
    assert page.locator("#go-board img").get_attribute("src") != board_before
    expect(page.locator("#go-planes img")).to_be_visible()
    message = play_go(page, (3, 3))  # the same point again: occupied
    assert "D4 is illegal for black: point is occupied" in message, message
    message = play_go(page, (15, 15))  # and the game goes on
    assert "You (black) played Q16" in message, message


@needs_chromium
def test_speech_tab_labels_a_wav(page):
    from playwright.sync_api import expect
    assert classify_audio(page, REPO / "examples" / "seven.wav").endswith(": 7"), "FSDD hears a 7"
    expect(page.locator("#speech-label")).to_contain_text("7")
    expect(page.locator("#speech-saliency img")).to_be_visible()


@needs_chromium
def test_text_tab_survives_an_empty_sentence(page):
    from playwright.sync_api import expect
    assert "empty sentence" in classify_sentence(page, "   ")
    assert "Kept n-grams" in classify_sentence(page, "a gorgeous , witty , seductive movie .")
    expect(page.locator("#text-label")).to_contain_text("positive")
    expect(page.locator("#text-words")).to_contain_text("seductive")


@needs_chromium
def test_image_tab_predicts_an_upload(page):
    from playwright.sync_api import expect
    assert "**" not in classify_picture(page, REPO / "examples" / "digit7.png")
    expect(page.locator("#image-message")).to_have_text("The picture: 7.")
    expect(page.locator("#image-explained img")).to_be_visible()


@needs_chromium
def test_image_tab_reads_a_drawing(page):
    assert draw(page, [[(0.5, 0.2), (0.5, 0.8)]]) == "The drawing: 1."
