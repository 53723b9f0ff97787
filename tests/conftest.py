"""Test set-up for the whole suite.

The repo root goes on sys.path, and the data folder defaults to the team's
`../shared/data` (as in CI) unless BEYOND_PIXELS_DATA is set. Downloads are
never attempted from tests: the cache points at a temporary folder.
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


def needs_data(*parts):
    """Skip unless the team data file/folder `DATA/<parts>` exists."""
    path = DATA.joinpath(*parts)
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not found (set BEYOND_PIXELS_DATA)")


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
