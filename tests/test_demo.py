"""`run.py demo` end to end: every app's section holds its figures, a prediction and its
pictures, and one app's failure is reported in its section while the others still run."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, REPO, needs_data

SECTIONS = {  # app: (heading, text that shows its prediction)
    "image": ("## image: MNIST", "![predictions](image/predictions.png)"),
    "go": ("## go: move prediction", "top 5"),
    "speech": ("## speech: FSDD spoken digits", "| file | digit | predicted | p |"),
    "text": ("## text: SST-2", "| sentence | prediction |"),
}


def _demo(out, *options):
    env = {**os.environ, "BEYOND_PIXELS_DATA": str(DATA)}
    return subprocess.run([sys.executable, str(REPO / "run.py"), "demo", "--out", str(out), *options],
                          capture_output=True, text=True, env=env, timeout=1500)


def _sections(report):
    parts = re.split(r"^(?=## )", report, flags=re.M)
    return {re.match(r"## (\w+)", part).group(1): part for part in parts if part.startswith("## ")}


@needs_data("image", "mnist")
@needs_data("go", "kgs")
@needs_data("speech", "fsdd_5speakers.tar.gz")
@needs_data("text", "sentence_benchmarks.tar.gz")
def test_the_demo_writes_every_apps_figures_prediction_and_pictures(tmp_path):
    result = _demo(tmp_path, "--minutes", "0.02")
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / "REPORT.md").read_text()
    sections = _sections(report)
    assert list(sections) == list(SECTIONS)
    for app, (heading, prediction) in SECTIONS.items():
        section = sections[app]
        assert section.startswith(heading)
        assert re.search(r"\*\*0\.\d{3,4}\*\*", section), f"{app}: no evaluation figure"
        assert prediction in section
        pictures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", section)
        assert len(pictures) >= 3, f"{app}: {pictures}"
        for picture in pictures:
            assert (tmp_path / picture).is_file(), picture
        assert len(set(pictures)) == len(pictures), f"{app}: a picture shown twice"
        assert (tmp_path / app / "metrics.json").is_file()


def test_with_no_data_every_app_shows_its_shipped_model_on_the_examples(tmp_path):
    env = {**os.environ, "BEYOND_PIXELS_DATA": "", "BEYOND_PIXELS_CACHE": str(tmp_path / "empty_cache"),
           "BEYOND_PIXELS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, str(REPO / "run.py"), "demo", "--out", str(tmp_path / "report")],
                            capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    sections = _sections((tmp_path / "report" / "REPORT.md").read_text())
    assert list(sections) == list(SECTIONS)
    for app, section in sections.items():
        assert "No training data here" in section and "python run.py data fetch" in section, app
        assert "examples/" in section and "models/" in section, app
        pictures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", section)
        assert len(pictures) >= 2 and all((tmp_path / "report" / p).is_file() for p in pictures), app
    assert "| `examples/digit7.png` | `models/image_mnist.keras` | 7 " in sections["image"]
    assert "| `examples/seven.wav` | `models/speech_fsdd.keras` | 7 " in sections["speech"]


def test_a_failing_app_is_reported_in_its_section_and_the_rest_still_run(tmp_path, monkeypatch):
    from shared import apps
    (tmp_path / "broken_app.py").write_text(
        "def register(subparsers):\n    pass\n\n\n"
        "def demo(out_dir, minutes, data_dir):\n    raise RuntimeError('the disk is on fire')\n")
    (tmp_path / "working_app.py").write_text(
        "def register(subparsers):\n    pass\n\n\n"
        "def demo(out_dir, minutes, data_dir):\n    return '## working: fine\\n\\naccuracy **0.9000**'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(apps, "_APPS", {})
    apps.register("broken", "fails", "broken_app")
    apps.register("working", "works", "working_app")
    import run
    assert run.main(["demo", "--out", str(tmp_path / "report"), "--apps", "broken", "working"]) == 1
    sections = _sections((tmp_path / "report" / "REPORT.md").read_text())
    assert "The broken demo failed" in sections["broken"] and "the disk is on fire" in sections["broken"]
    assert "**0.9000**" in sections["working"]


def test_an_unknown_app_is_refused(tmp_path):
    import run
    assert run.main(["demo", "--out", str(tmp_path), "--apps", "braille"]) == 2
    assert not Path(tmp_path, "REPORT.md").exists()


@pytest.fixture(autouse=True)
def _apps_registered():
    import apps  # noqa: F401  (registers the apps with the core)
