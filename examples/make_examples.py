#!/usr/bin/env python3
"""Rebuild the example inputs in this folder (see README.md here for what each one is).

    .venv/bin/python examples/make_examples.py

Every picture is drawn by this script (fixed seeds: the same bytes each run), the audio is
espeak-ng's output (`apt-get install espeak-ng`) resampled to 16 kHz mono 16-bit, and the Go
game is copied from the match archive in docs/matches/. Nothing here comes from a dataset.
"""
import subprocess
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GAME = "game009.sgf"  # the policy (black) beat GNU Go level 10 by 18.5 points
SENTENCES = [
    "a gorgeous , witty , seductive movie that never once talks down to its audience .",
    "the plot is a string of clichés , and the jokes land with a dull thud .",
    "not a bad film , just a forgettable one .",
    "the performances are superb , but the script gives them nothing to do in the second half .",
    "one of the most moving and beautifully made films of the year .",
]


def digit7(path):
    """A '7' of thick, slightly wobbly white strokes on black, as drawn with a mouse."""
    size, width = 200, 20
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(7)

    def stroke(points):
        points = [(x + rng.normal(0, 1.5), y + rng.normal(0, 1.5)) for x, y in points]
        draw.line(points, fill=255, width=width, joint="curve")
        for x, y in (points[0], points[-1]):  # round pen ends
            draw.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=255)
    stroke([(48, 52), (80, 49), (115, 47), (152, 44)])                 # the top bar
    stroke([(152, 44), (138, 75), (122, 108), (106, 142), (94, 168)])  # the long diagonal
    stroke([(88, 106), (112, 105), (140, 103)])                        # the crossbar
    image.filter(ImageFilter.GaussianBlur(1.2)).save(path, optimize=True)


def trousers(path):
    """A pair of dark grey trousers, front view, on a white background."""
    size = 200
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    draw.polygon([(62, 14), (138, 14), (150, 186), (110, 186), (100, 70), (90, 186), (50, 186)], fill=70)
    draw.rectangle([62, 14, 138, 26], fill=45)            # the waistband
    draw.line([(100, 26), (100, 68)], fill=50, width=2)    # the fly seam
    image.filter(ImageFilter.GaussianBlur(0.8)).save(path, optimize=True)


def _save_quantized(array, path, colours=96):
    """A float RGB array in [0, 1] as a palette PNG (small on disk, looks the same at this size)."""
    image = Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8), "RGB")
    image.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def photo(path):
    """A photo-like scene: a sky gradient, a sun, hills, a lake and a few trees."""
    size = 256
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    rgb = np.stack([0.35 + 0.5 * y, 0.55 + 0.35 * y, 0.95 - 0.25 * y], axis=-1)           # sky
    sun = np.exp(-(((x - 0.75) ** 2 + (y - 0.22) ** 2) / 0.004))
    rgb += sun[..., None] * np.array([0.6, 0.45, 0.1])
    far = y > 0.55 + 0.06 * np.sin(7 * x) + 0.03 * np.sin(19 * x + 1)
    rgb[far] = np.stack([0.25 + 0.1 * x, 0.45 + 0.1 * y, 0.35 * np.ones_like(x)], -1)[far]
    near = y > 0.68 + 0.05 * np.cos(5 * x + 2)
    rgb[near] = np.stack([0.2 + 0.2 * y, 0.55 - 0.1 * x, 0.15 + 0.05 * y], -1)[near]
    lake = ((x - 0.3) / 0.22) ** 2 + ((y - 0.86) / 0.07) ** 2 < 1
    rgb[lake] = np.stack([0.2 + 0.1 * x, 0.4 + 0.1 * x, 0.75 - 0.1 * y], -1)[lake]
    for cx, base, height in ((0.62, 0.75, 0.22), (0.7, 0.77, 0.18), (0.88, 0.74, 0.25)):
        crown = np.abs(x - cx) < 0.09 * (y - (base - height)) / height
        crown &= (y > base - height) & (y < base)
        rgb[crown] = np.array([0.08, 0.3, 0.12])
        trunk = (np.abs(x - cx) < 0.012) & (y >= base) & (y < base + 0.05)
        rgb[trunk] = np.array([0.35, 0.22, 0.1])
    _save_quantized(rgb, path)


def painting(path):
    """A swirly 'painting': bands of colour twisted around three whirl centres, with brush-stroke streaks."""
    size = 256
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    u, v = x.copy(), y.copy()
    for cx, cy, turn in ((0.3, 0.3, 4.0), (0.72, 0.42, -5.0), (0.42, 0.8, 3.0)):
        du, dv = u - cx, v - cy
        twist = turn * np.exp(-np.hypot(du, dv) / 0.18)  # rotate the plane around the centre, most near it
        u, v = cx + du * np.cos(twist) - dv * np.sin(twist), cy + du * np.sin(twist) + dv * np.cos(twist)
    rng = np.random.default_rng(3)
    noise = Image.fromarray((rng.random((size, size)) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    streaks = np.asarray(noise, dtype=float) / 255 - 0.5
    phase = 10 * v + 4 * u + 2 * streaks
    rgb = np.stack([0.25 + 0.25 * np.sin(phase + 1.0), 0.35 + 0.25 * np.sin(phase + 2.5),
                    0.6 + 0.3 * np.sin(phase)], axis=-1)
    rgb += (v > 0.85)[..., None] * np.array([0.1, 0.05, -0.2])   # a darker, warmer ground
    stroke = 0.8 + 0.2 * np.sin(60 * v + 12 * streaks)          # light and dark brush lines along the bands
    _save_quantized(rgb * stroke[..., None], path)


def speak(text, path, rate=16000, word_gap=None, lead=0.0):
    """espeak-ng saying `text` (en-us voice), resampled to `rate` Hz mono 16-bit (WAV or FLAC by suffix),
    after `lead` seconds of silence."""
    import librosa
    import soundfile
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw)] + (["-g", str(word_gap)] if word_gap else [])
                       + [text], check=True)
        audio, _ = librosa.load(raw, sr=rate, mono=True)
    audio = np.concatenate([np.zeros(int(lead * rate), audio.dtype), audio])
    soundfile.write(path, audio, rate, subtype="PCM_16")


def game(path):
    with zipfile.ZipFile(REPO / "docs" / "matches" / "go_policy_japanese.zip") as archive:
        path.write_bytes(archive.read(GAME))


def main():
    digit7(HERE / "digit7.png")
    trousers(HERE / "trousers.png")
    photo(HERE / "photo.png")
    painting(HERE / "painting.png")
    speak("yes", HERE / "yes.wav")
    speak("seven", HERE / "seven.wav")
    speak("three", HERE / "three.wav")
    speak("yes.  no.  stop.  go.", HERE / "yes_no_stop_go.flac", word_gap=60, lead=0.25)
    game(HERE / "game.sgf")
    (HERE / "sentences.txt").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    for path in sorted(HERE.iterdir()):
        print(f"{path.stat().st_size:>8,}  {path.name}")


if __name__ == "__main__":
    main()
