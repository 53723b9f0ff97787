"""prepare: filters, skipped-game reasons, dedup, resuming, split, archives, and the reader."""
import json
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest
from sgfmill import sgf

from conftest_go import KGS_DIR, REPO, needs_kgs, random_game
from apps.go import prepare
from apps.go.features import features, plane_offsets
from apps.go.go import BLACK
from apps.go.sgf_wrapper import parse_sgf

OFFSETS = plane_offsets()


def _sgf_of_random_game(seed, moves=30, size=19):
    game = sgf.Sgf_game(size)
    game.get_root().set("KM", 6.5)
    for position, move in random_game(size, moves, seed)[:-1]:
        game.extend_main_sequence().set_move("b" if position.to_play == BLACK else "w", move)
    return game.serialise()


@pytest.fixture(scope="module")
def sgf_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sgfs")
    for seed in range(6):
        (folder / f"good{seed}.sgf").write_bytes(_sgf_of_random_game(seed))
    (folder / "sub").mkdir()
    (folder / "sub" / "copy_of_good0.sgf").write_bytes((folder / "good0.sgf").read_bytes())
    (folder / "small_board.sgf").write_bytes(_sgf_of_random_game(9, size=9))
    (folder / "short.sgf").write_bytes(_sgf_of_random_game(10, moves=12))
    (folder / "garbage.sgf").write_bytes(b"(;GM[1]SZ[19];B[dd];W[")
    (folder / "occupied.sgf").write_bytes(
        b"(;GM[1]SZ[19]" + b"".join(b";%s[%s]" % (c, p) for c, p in zip(
            [b"B", b"W"] * 13, [bytes((98 + i % 5 * 3, 98 + i // 5 * 3)) for i in range(25)] + [b"bb"])) + b")")
    (folder / "broken_setup.sgf").write_bytes(b"(;GM[1]SZ[19]AB[aa]AW[ab][ba]" + b";B[dd];W[pp]" * 12 + b")")
    return folder


def _run(tmp_path, sources, **options):
    return prepare.prepare(sources, tmp_path / "out", **options)


def test_filters_and_reasons_account_for_every_game(sgf_folder, tmp_path):
    summary = _run(tmp_path, [sgf_folder], shard_games=4)
    assert summary["games_read"] == 12
    assert summary["games_kept"] == 6
    reasons = summary["skipped_by_reason"]
    assert reasons == {"not 19x19": 1, "fewer than 20 moves": 1, "unparseable SGF": 1, "illegal move": 1,
                       "broken setup": 1, "duplicate move sequence": 1}
    skipped = {entry["game"].split("/", 1)[1]: entry["reason"] for entry in summary["skipped"]}
    assert "point is occupied" in skipped["occupied.sgf"] and "move 26" in skipped["occupied.sgf"]
    assert summary["duplicates"][0] == {"game": f"{sgf_folder.name}/sub/copy_of_good0.sgf",
                                        "duplicate_of": f"{sgf_folder.name}/good0.sgf"}
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["games_kept"] == 6
    assert summary["train_positions"] + summary["validation_positions"] == 6 * 30


def test_rerun_skips_finished_shards_and_redoes_interrupted_ones(sgf_folder, tmp_path):
    first = _run(tmp_path, [sgf_folder], shard_games=4)
    shards = sorted((tmp_path / "out" / "shards").glob("*.json"))
    assert len(shards) == 3
    again = _run(tmp_path, [sgf_folder], shard_games=4)
    assert again["shards_done_before"] == 3
    shards[1].unlink()  # as if the run had stopped while writing this shard
    resumed = _run(tmp_path, [sgf_folder], shard_games=4)
    assert resumed["shards_done_before"] == 2
    for key in ("games_kept", "train_games", "train_positions", "skipped_by_reason"):
        assert resumed[key] == first[key]


def test_archives_and_parallel_workers_give_the_same_records(sgf_folder, tmp_path):
    tar_path = tmp_path / "games.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(sgf_folder, arcname="games")
    zip_path = tmp_path / "games.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(sgf_folder.rglob("*.sgf")):
            archive.write(path, "games/" + str(path.relative_to(sgf_folder)))
    from_tar = prepare.prepare([tar_path], tmp_path / "tar", workers=2, shard_games=3)
    from_zip = prepare.prepare([zip_path], tmp_path / "zip", workers=1, shard_games=3)
    for key in ("games_read", "games_kept", "train_positions", "validation_positions", "skipped_by_reason"):
        assert from_tar[key] == from_zip[key]
    assert from_tar["games_kept"] == 6


def test_split_is_by_a_hash_of_the_game(sgf_folder, tmp_path):
    summary = _run(tmp_path, [sgf_folder], val_fraction=0.5)
    assert summary["train_games"] + summary["validation_games"] == 6
    expected = sum(prepare.in_validation(f"{sgf_folder.name}/good{s}.sgf", 0.5) for s in range(6))
    assert summary["validation_games"] == expected
    again = prepare.prepare([sgf_folder], tmp_path / "again", val_fraction=0.5, shard_games=2)
    assert again["validation_games"] == expected  # shard size does not move games between splits


def test_reader_selects_and_excludes_games_by_name(sgf_folder, tmp_path):
    _run(tmp_path, [sgf_folder], val_fraction=0.0)
    names = prepare.GameRecords(tmp_path / "out", "train").game_names()
    assert sorted(names) == [f"{sgf_folder.name}/good{s}.sgf" for s in range(6)]
    chosen = prepare.GameRecords(tmp_path / "out", "train", games=["*/good[12].sgf", "*good5*"])
    assert sorted(chosen.game_names()) == [f"{sgf_folder.name}/good{s}.sgf" for s in (1, 2, 5)]
    assert chosen.positions_count() == 3 * 30
    rest = prepare.GameRecords(tmp_path / "out", "train", exclude_games=["*/good[12].sgf"])
    assert sorted(rest.game_names()) == [f"{sgf_folder.name}/good{s}.sgf" for s in (0, 3, 4, 5)]
    assert len(prepare.GameRecords(tmp_path / "out", "train", games=["nothing*"])) == 0


def test_reader_replays_games_into_planes_and_moves(sgf_folder, tmp_path):
    _run(tmp_path, [sgf_folder], val_fraction=0.0)
    records = prepare.GameRecords(tmp_path / "out", "train")
    assert len(records) == 6 and records.positions_count() == 180
    ordered = list(records.examples(shuffle=False))
    assert len(ordered) == 180
    planes, move = ordered[0]
    assert planes.shape == (19, 19, 48) and planes.dtype == np.uint8 and 0 <= move < 361
    # The first example is the empty board and the first move of the first game.
    first_game = parse_sgf(sorted(sgf_folder.glob("good*.sgf"))[0].read_bytes())
    row, col = first_game.moves[0][1]
    assert move == row * 19 + col
    assert np.array_equal(planes, features(prepare.GameRecords(tmp_path / "out").start_position(0)))
    shuffled = list(records.examples(shuffle=True, seed=3, buffer_size=50, random_symmetry=True))
    assert len(shuffled) == 180
    # The symmetry moves the target with the planes: every target is a legal move there.
    after = slice(OFFSETS["liberties_after_move"], OFFSETS["ladder_capture"])
    assert all(p[m // 19, m % 19, after].any() for p, m in shuffled)
    assert sorted(m for _, m in shuffled) != [m for _, m in ordered]
    sample_planes, sample_moves = records.sample(25, seed=1)
    assert sample_planes.shape == (25, 19, 19, 48) and sample_moves.shape == (25,)
    assert (sample_planes[:, :, :, 0:3].sum(axis=3) == 1).all()


def test_reader_examples_match_sample_positions(sgf_folder, tmp_path):
    _run(tmp_path, [sgf_folder], val_fraction=0.0)
    records = prepare.GameRecords(tmp_path / "out", "train")
    ordered = list(records.examples(shuffle=False))
    planes, moves = records.sample(40, seed=5)
    lookup = {}
    for p, m in ordered:
        lookup.setdefault(m, []).append(p)
    for p, m in zip(planes, moves.tolist()):
        assert any(np.array_equal(p, q) for q in lookup[m])


def test_prepare_cli_reports_user_errors(tmp_path):
    result = subprocess.run([sys.executable, "run.py", "go", "prepare", "--source", str(tmp_path / "nope"),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2
    # The last line: TensorFlow may log a notice first (oneDNN on CPUs with AVX-512).
    assert result.stderr.strip().splitlines()[-1].startswith("error: --source") and "Traceback" not in result.stderr


@needs_kgs
def test_real_kgs_archive_matches_the_manifest(tmp_path):
    archive = next(KGS_DIR.glob("KGS-2017_03-*.tar.gz"))
    summary = prepare.prepare([archive], tmp_path / "kgs", shard_games=400)
    # MANIFEST.md: 717 games, 151,777 non-pass moves; 4 games are stubs (one of them has 1 move).
    assert summary["games_read"] == 717
    assert summary["skipped_by_reason"] == {"fewer than 20 moves": 4}
    assert summary["train_positions"] + summary["validation_positions"] == 151776


def test_tf_dataset_yields_planes_and_moves(sgf_folder, tmp_path):
    import tensorflow as tf
    _run(tmp_path, [sgf_folder], val_fraction=0.0)
    dataset = prepare.GameRecords(tmp_path / "out", "train").tf_dataset(seed=0, buffer_size=16).batch(32)
    planes, moves = next(iter(dataset))
    assert planes.shape == (32, 19, 19, 48) and planes.dtype == tf.uint8 and moves.dtype == tf.int32
