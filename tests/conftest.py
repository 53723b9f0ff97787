"""Test set-up for the whole suite.

The repo root goes on sys.path, and the data folder defaults to the team's
`../shared/data` (as in CI) unless BEYOND_PIXELS_DATA is set. Downloads are
never attempted from tests: the cache points at a temporary folder. A test
that needs a program or data from outside the repo is marked with
`requires`: it skips where that is missing, and fails under CI=true.
"""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("BEYOND_PIXELS_DATA", str(REPO.parent / "shared" / "data"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
DATA = Path(os.environ["BEYOND_PIXELS_DATA"])


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("BEYOND_PIXELS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def requires(missing, reason):
    """A mark for a test that needs something from outside the repo (a program, the team
    data): when `missing`, the test skips, except under CI=true, where it fails with
    `reason`, so that an oracle can never drop out of CI unnoticed."""
    return pytest.mark.requires(reason if missing else None)


def pytest_runtest_setup(item):
    for mark in item.iter_markers("requires"):
        reason = mark.args[0]
        if reason:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"CI=true, but {reason}", pytrace=False)
            pytest.skip(reason)


def needs_data(*parts):
    """The test needs the team data file/folder `DATA/<parts>`."""
    path = DATA.joinpath(*parts)
    return requires(not path.exists(), f"{path} not found (set BEYOND_PIXELS_DATA)")


def needs_program(name, install):
    """The test needs the program `name` (on PATH or where Debian puts it); `install`
    says how to get it."""
    from shared.programs import find_program
    return requires(find_program(name) is None, f"{name} is not installed ({install})")


def png_sizes(folder):
    """{file name: (width, height)} of every PNG in `folder`, each checked to be a valid image."""
    from PIL import Image
    sizes = {}
    for path in sorted(Path(folder).glob("*.png")):
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            sizes[path.name] = image.size
    return sizes
