"""Leakage checks: the overlap entry and its warning."""
from shared import overlap


def test_check_counts_scored_items_seen_in_training_and_warns(capsys):
    entry = overlap.check("clips", ["ann", "ann", "bob", "cy"], {"ann", "dee"})
    assert entry == {"what": "clips", "checked": True, "items": 2, "of": 4, "examples": ["ann"]}
    overlap.warn(entry, "m.keras")
    err = capsys.readouterr().err
    assert "2 of the 4 clips scored (50.0%) were in the training data of m.keras" in err and "ann" in err


def test_no_overlap_is_silent_and_unknown_training_data_says_why(capsys):
    assert overlap.warn(overlap.check("games", ["a/1.sgf"], set()), "m")["items"] == 0
    unknown = overlap.check("images", ["x"], None, "no training images here")
    assert unknown == {"what": "images", "checked": False, "reason": "no training images here"}
    overlap.warn(unknown, "m")
    assert capsys.readouterr().err == ""
