"""Bit-packed positions: what the graph unpacks is what the replay featurizes, the
in-graph symmetries are the numpy ones, files split between workers, and training reads them."""
import json

import numpy as np
import pytest

import run
from apps.go import packed, prepare
from apps.go.features import symmetries
from conftest_go import prepared_random_games


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    records, _ = prepared_random_games(tmp_path_factory.mktemp("packed"), range(200, 212), moves=30,
                                       val_fraction=0.25)
    summary = packed.pack(records, workers=2, games_per_file=3, progress=lambda *_: None)
    return records, summary


def test_records_round_trip_and_count_every_position(prepared):
    data, summary = prepared
    records = prepare.GameRecords(data, "train")
    expected = [example for game in range(len(records)) for example in records.game_examples(game)]
    assert summary["train_positions"] == len(expected) > 0
    written = b"".join((data / "packed" / name).read_bytes() for name in sorted(summary["files"])
                       if name.startswith("train"))
    assert len(written) == len(expected) * packed.RECORD_BYTES
    for index in (0, len(expected) // 2, len(expected) - 1):
        planes, move = packed.decode(written[index * packed.RECORD_BYTES:(index + 1) * packed.RECORD_BYTES])
        assert np.array_equal(planes, expected[index][0]) and move == expected[index][1]


def test_the_graph_unpacks_exactly_what_was_packed(prepared):
    data, _ = prepared
    files = packed.packed_files(data, "train")
    records = prepare.GameRecords(data, "train")
    expected = [example for game in range(len(records)) for example in records.game_examples(game)]
    planes, moves = next(iter(packed.packed_dataset(files, 16, shuffle=False, random_symmetry=False, repeat=False)))
    for i in range(16):
        assert np.array_equal(planes[i].numpy(), expected[i][0].astype(np.float32)) and moves[i] == expected[i][1]


def test_in_graph_symmetries_move_planes_and_move_as_numpy_does(tmp_path):
    source, target = packed.symmetry_permutations()
    rng = np.random.default_rng(0)
    planes = rng.integers(0, 2, (19, 19, 48)).astype(np.uint8)
    move = 3 * 19 + 15
    for s, transform in enumerate(symmetries()):
        moved = planes.reshape(361, 48)[source[s]].reshape(19, 19, 48)
        assert np.array_equal(moved, transform(planes))
        marker = np.zeros((19, 19)); marker[divmod(move, 19)] = 1  # noqa: E702
        assert target[s][move] == int(transform(marker).argmax())
    # with random symmetries on, each batch still pairs every board with its own move
    (tmp_path / "train-00000.bin").write_bytes(packed.encode(planes, move) * 64)
    boards, moves = next(iter(packed.packed_dataset([str(tmp_path / "train-00000.bin")], 64, shuffle=False, seed=3)))
    for board, mapped in zip(boards.numpy(), moves.numpy()):
        s = next(s for s, transform in enumerate(symmetries()) if np.array_equal(board, transform(planes)))
        assert mapped == target[s][move]
    assert len({m for m in moves.numpy().tolist()}) > 2  # symmetries vary across the batch


def test_workers_read_disjoint_files(prepared):
    data, _ = prepared
    files = packed.packed_files(data, "train")
    assert len(files) >= 2
    seen = [set(files[w::2]) for w in range(2)]
    assert seen[0].isdisjoint(seen[1]) and seen[0] | seen[1] == set(files)
    with pytest.raises(Exception, match="no packed file"):
        packed.packed_dataset(files[:1], 8, worker=1, workers=2)


def test_pack_resumes_and_refuses_other_settings(prepared):
    data, summary = prepared
    again = packed.pack(data, workers=1, games_per_file=3, progress=lambda *_: None)
    assert again["files"] == summary["files"]
    with pytest.raises(Exception, match="packed with other settings"):
        packed.pack(data, games_per_file=4, progress=lambda *_: None)
    with pytest.raises(Exception, match="pack again with the same --exclude-games"):
        packed.packed_files(data, "train", exclude_games=["*g01*"])


def test_train_reads_packed_input(prepared, tmp_path, capsys):
    data, _ = prepared
    assert run.main(["go", "train", "--data", str(data), "--input", "packed", "--layers", "3", "--filters", "8",
                     "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "16", "--val-positions", "32",
                     "--measure-positions", "64", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert "packed planes" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["input_positions_per_s"] > 0
