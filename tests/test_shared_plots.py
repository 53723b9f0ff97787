"""shared.plots: pictures are written where asked, in a format matplotlib knows."""
import pytest

from shared.errors import UserError
from shared.plots import pyplot, save_figure


def test_save_figure_writes_the_picture_and_refuses_an_unknown_extension(tmp_path):
    fig = pyplot().figure()
    assert save_figure(fig, tmp_path / "sub" / "a.png").stat().st_size > 0  # folder created
    with pytest.raises(UserError, match=r"x\.txt: a picture needs one of the extensions .*png"):
        save_figure(pyplot().figure(), tmp_path / "x.txt")
    assert not (tmp_path / "x.txt").exists()
