"""Screenshots of each tab of `run.py serve` for the README, in a realistic state: a Go game some
moves in with the policy's heat map, a spoken digit's label and saliency, a sentence's word scores,
a digit's saliency and Grad-CAM with a Deep Dream of the example photo. Starts the server and
drives Debian's Chromium with the functions of tests/test_serve_browser.py, so the pictures show
what the browser test checks.

Rerun after changing a panel, from the repository root (about a minute):

    .venv/bin/python docs/serve/screenshots.py          # writes docs/serve/{go,speech,text,image}.png
"""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.test_serve_browser import (browser_page, classify_audio, classify_picture,  # noqa: E402
                                      classify_sentence, open_tab, play_go, serving, settled_text)

OUT = Path(__file__).resolve().parent
GO_MOVES = [(3, 15), (15, 3), (2, 13), (16, 15), (5, 16), (15, 13)]  # tried in turn; taken points are skipped
SENTENCE = "an intelligent , moving and beautifully acted drama that never condescends ."


def shoot(page, name):
    page.mouse.move(0, 0)  # no hover highlight in the picture
    path = OUT / f"{name}.png"
    page.locator(f"#tab-{name}").screenshot(path=str(path))
    print(f"wrote {path}")


def main():
    with serving() as url, browser_page(url, width=1280, height=1200) as page:
        open_tab(page, "Go")
        settled_text(page, "go-message", contains="Your move")
        for point in GO_MOVES:
            play_go(page, point)
        shoot(page, "go")
        classify_audio(page, REPO / "examples" / "seven.wav")
        shoot(page, "speech")
        classify_sentence(page, SENTENCE)
        shoot(page, "text")
        classify_picture(page, REPO / "examples" / "digit7.png")
        before = settled_text(page, "image-art-message")
        page.locator("#image-dream").click()
        settled_text(page, "image-art-message", changed_from=before)
        shoot(page, "image")


if __name__ == "__main__":
    main()
