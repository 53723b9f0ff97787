"""Dataset layouts, labels, phone folding and speaker splits."""
import collections

import numpy as np
import pytest

from apps.speech import data
from shared.errors import UserError
from tests.conftest import needs_data


def test_timit_folding_gives_the_39_standard_classes():
    assert len(data.TIMIT_PHONES_61) == 61
    folded = {data.fold_phone(p) for p in data.TIMIT_PHONES_61} - {None}
    assert folded == set(data.TIMIT_CLASSES) and len(folded) == 39
    assert data.fold_phone("ix") == "ih" and data.fold_phone("h#") == "sil" and data.fold_phone("q") is None
    with pytest.raises(ValueError):
        data.fold_phone("xx")


def test_frame_labels_take_the_phone_at_each_frame_centre():
    segments = [(0, 1600, "h#"), (1600, 3200, "ix"), (3200, 3600, "q"), (3600, 4800, "s")]
    labels = data.frame_labels(segments, 7, 800, 16000, 16000)  # frame centres 0, 800, ..., 4800
    names = [data.TIMIT_CLASSES[i] if i >= 0 else None for i in labels]
    assert names == ["sil", "sil", "ih", "ih", None, "s", None]
    # at 8 kHz features a hop of 400 samples is the same 25 ms
    assert np.array_equal(data.frame_labels(segments, 7, 400, 16000, 8000), labels)


def test_context_windows_centre_each_frame():
    feats = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 2, 1), np.float32)
    windows = data.context_windows(feats, 3)
    assert windows.shape == (5, 3, 2, 1)
    assert windows[:, :, 0, 0].tolist() == [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 4]]


def test_read_phn_names_the_bad_line(tmp_path):
    path = tmp_path / "x.phn"
    path.write_text("0 100 h#\n100 two ix\n")
    with pytest.raises(UserError, match=r"x.phn:2"):
        data.read_phn(path)


def test_commands_digits_become_fsdd_clips_of_one_shared_speaker(tmp_path):
    names = ["six/0c40e715_nohash_0.wav", "_unknown_/eight_5170b77f_nohash_2.wav.wav",
             "_unknown_/bed_0ea0e2f4_nohash_1.wav", "yes/0c40e715_nohash_0.wav", "_silence_/1037.wav"]
    for name in names:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).touch()
    items = data.commands_digit_items(tmp_path)
    assert sorted((p.name, digit) for p, digit, _ in items) == [("0c40e715_nohash_0.wav", 6),
                                                               ("eight_5170b77f_nohash_2.wav.wav", 8)]
    assert {speaker for *_, speaker in items} == {data.COMMANDS_DIGITS_SPEAKER}
    assert data.fsdd_extra_items(tmp_path) == items
    (tmp_path / "3_anna_0.wav").touch()  # a folder with FSDD names is read as FSDD
    assert [(p.name, d, s) for p, d, s in data.fsdd_extra_items(tmp_path)] == [("3_anna_0.wav", 3, "anna")]
    for name in names[:2]:
        (tmp_path / name).unlink()
    with pytest.raises(UserError, match="no spoken digits in the Speech Commands layout"):
        data.commands_digit_items(tmp_path)


def test_speaker_split_never_mixes_speakers():
    items = [(f"f{i}", i % 3, f"spk{i % 17}") for i in range(340)]
    train, val = data.split_by_speaker(items, val_fraction=0.3)
    assert not {i[-1] for i in train} & {i[-1] for i in val}
    train, val = data.split_by_speaker(items, ["spk3"])
    assert {i[-1] for i in val} == {"spk3"} and len(val) == 20
    with pytest.raises(UserError, match="not in the data"):
        data.split_by_speaker(items, ["nobody"])
    for fraction in (0, 5):
        with pytest.raises(UserError, match=f"--val-fraction must be between 0 and 1, not {fraction}"):
            data.split_by_speaker(items, val_fraction=fraction)
    with pytest.raises(UserError, match="17 speaker.s. left no speaker outside the validation set .--val-speakers"):
        data.split_by_speaker(items, [f"spk{i}" for i in range(17)])


@needs_data("speech", "fsdd_5speakers.tar.gz")
def test_fsdd_layout():
    items = data.fsdd_items(data.default_root("fsdd"))
    assert len(items) == 2500
    assert collections.Counter(i[2] for i in items) == {s: 500 for s in
                                                       ("george", "jackson", "lucas", "nicolas", "yweweler")}
    assert collections.Counter(i[1] for i in items) == {d: 250 for d in range(10)}


@needs_data("speech", "speech_commands_v2_test_subset.tar.gz")
def test_speech_commands_layout_matches_the_manifest():
    items = data.commands_items(data.default_root("commands"))
    counts = collections.Counter(data.COMMANDS_CLASSES[i[1]] for i in items)
    assert len(items) == 1710 and counts["yes"] == 145 and counts["_silence_"] == 137 and counts["_unknown_"] == 142
    speakers = {i[2] for i in items if data.COMMANDS_CLASSES[i[1]] != "_silence_"}
    assert len(speakers) == 85
    train, val = data.split_by_speaker(items, val_fraction=0.2)
    assert 0.1 < len(val) / len(items) < 0.4


@needs_data("speech", "nltk_timit_sample_14speakers.tar.gz")
def test_timit_sample_has_140_aligned_utterances_of_14_speakers():
    utterances = data.timit_utterances(data.default_root("timit"))
    assert len(utterances) == 140 and len({u[2] for u in utterances}) == 14
    segments = data.read_phn(utterances[0][1])
    assert segments[0][2] == "h#" and all(s < e for s, e, _ in segments)


def test_files_a_layout_cannot_label_are_named_not_dropped_silently(tmp_path, capsys):
    for name in ["3_bob_1.wav", "x_bob_1.wav", "10_bob_1.wav", "3-bob-1.wav"]:
        (tmp_path / name).write_bytes(b"")
    assert [i[1:] for i in data.fsdd_items(tmp_path)] == [(3, "bob")]
    err = capsys.readouterr().err
    assert "ignored 3 audio file(s) not named <digit>_<speaker>_<take>.wav" in err and "x_bob_1.wav" in err
    (tmp_path / "yes").mkdir()
    (tmp_path / "yes" / "0a1b2c3d_nohash_0.wav").write_bytes(b"")
    assert len(data.commands_items(tmp_path)) == 1
    assert "ignored 4 audio file(s) outside a class folder" in capsys.readouterr().err
