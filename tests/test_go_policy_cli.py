"""`run.py go train / evaluate / predict / match` end to end on tiny data, the match
scoring helpers, and bad inputs (no legal move, move past the end, another app's model)."""
import json

import keras
import numpy as np
import pytest
from sgfmill import sgf

import run
from conftest_go import needs_gnugo, GNUGO, prepared_random_games
from apps.go import prepare
from apps.go.go import BLACK, from_ascii
from apps.go.match import area_score, match, moves_digest, parse_score, summarize, wilson_interval
from apps.go.models import build_policy
from apps.go.policy import PolicyPlayer
from shared.errors import UserError
from shared.modelio import save_model


@pytest.fixture(scope="module")
def games(tmp_path_factory):
    """A folder of 16 random-game SGFs plus one broken file, and its prepared records."""
    root = tmp_path_factory.mktemp("policy")
    _, summary = prepared_random_games(root, range(16))
    assert summary["train_games"] and summary["validation_games"]
    (root / "sgf" / "zz_broken.sgf").write_bytes(b"(;GM[1]SZ[19];B[dd];W[")
    return root


def _run(argv, capsys):
    code = run.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(games):
    out = games / "run"
    assert run.main(["go", "train", "--data", str(games / "records"), "--layers", "3", "--filters", "8",
                     "--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "16", "--val-positions", "32",
                     "--measure-positions", "64", "--out", str(out), "--quiet"]) == 0
    return out


def test_train_writes_model_metrics_and_both_rates(trained, games, capsys):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert (trained / "model.keras").exists() and metrics["last_epoch"] == 2
    assert metrics["input_positions_per_s"] > 0 and metrics["train_positions_per_s"] > 0
    assert metrics["positions_seen_total"] == 2 * 3 * 16
    config = json.loads((trained / "config.json").read_text())
    assert config["layers"] == 3 and config["filters"] == 8 and config["schedule"] == "modern"
    # A finished run has no epoch checkpoint left (shared.training.fit), so --resume says so.
    code, _, err = _run(["go", "train", "--data", str(games / "records"), "--epochs", "3", "--out", str(trained),
                         "--resume"], capsys)
    assert code == 2 and "no unfinished training run" in err


def test_init_model_warm_starts_with_the_same_shape_only(trained, games, tmp_path, capsys):
    common = ["go", "train", "--data", str(games / "records"), "--layers", "3", "--epochs", "1",
              "--steps-per-epoch", "1", "--batch-size", "16", "--val-positions", "32", "--measure-positions", "16",
              "--init-model", str(trained / "model.keras"), "--quiet"]
    code, _, _ = _run(common + ["--filters", "8", "--learning-rate", "1e-12", "--out", str(tmp_path / "warm")],
                      capsys)
    assert code == 0
    source = keras.saving.load_model(trained / "model.keras", compile=False)
    warm = keras.saving.load_model(tmp_path / "warm" / "model.keras", compile=False)
    for before, after in zip(source.get_weights(), warm.get_weights()):
        np.testing.assert_allclose(after, before, atol=1e-6)  # a vanishing step: the weights are the source's
    code, _, err = _run(common + ["--filters", "16", "--out", str(tmp_path / "wide")], capsys)
    assert code == 2 and "layers differ" in err and "--filters" in err


def test_freeze_all_but_head_trains_only_the_last_convolution_and_biases(trained, games, tmp_path, capsys):
    code, out, _ = _run(["go", "train", "--data", str(games / "records"), "--layers", "3", "--filters", "8",
                         "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "16", "--val-positions", "32",
                         "--measure-positions", "16", "--learning-rate", "0.01", "--init-model",
                         str(trained / "model.keras"), "--freeze", "all-but-head", "--quiet",
                         "--out", str(tmp_path / "head")], capsys)
    assert code == 0 and "freeze all-but-head: 2 layers frozen (conv1_conv, conv2_conv)" in out
    source = keras.saving.load_model(trained / "model.keras", compile=False)
    tuned = keras.saving.load_model(tmp_path / "head" / "model.keras", compile=False)
    for name in ("conv1_conv", "conv2_conv"):
        for before, after in zip(source.get_layer(name).get_weights(), tuned.get_layer(name).get_weights()):
            np.testing.assert_array_equal(after, before)
    assert not np.array_equal(source.get_layer("conv3_conv").get_weights()[0],
                              tuned.get_layer("conv3_conv").get_weights()[0])


def test_evaluate_counts_every_non_pass_move_and_skips_broken_games(trained, games, capsys):
    code, out, err = _run(["go", "evaluate", "--model", str(trained / "model.keras"), "--data",
                           str(games / "sgf"), "--json"], capsys)
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n"] == 16 * 40 and result["accuracy"] == result["top1"] <= result["top5"] <= 1
    assert sum(b["n"] for b in result["top1_by_move_number"].values()) == result["n"]
    assert set(result["top1_by_move_number"]) == {"1-50"}
    assert [s["game"] for s in result["skipped_games"]] == ["zz_broken.sgf"] and "zz_broken" in err
    trained_on = prepare.GameRecords(games / "records", "train").game_names()  # the same games, prepared
    assert result["overlap"]["checked"] and result["overlap"]["of"] == 16
    assert result["overlap"]["items"] == len(trained_on) > 0 and "were in the training data" in err
    code, out, _ = _run(["go", "evaluate", "--model", str(trained / "model.keras"), "--data",
                         str(games / "records"), "--ensemble", "--json"], capsys)
    result = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and result["ensemble"] and result["n"] % 40 == 0
    code, out, _ = _run(["go", "evaluate", "--model", str(trained / "model.keras"), "--data",
                         str(games / "records"), "--split", "train", "--games", "*/g0[0-4].sgf", "--json"], capsys)
    chosen = [n for n in prepare.GameRecords(games / "records", "train").game_names() if int(n[-6:-4]) < 5]
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["n"] == 40 * len(chosen) > 0
    code, _, err = _run(["go", "evaluate", "--model", str(trained / "model.keras"), "--data",
                         str(games / "records"), "--games", "nothing*"], capsys)
    assert code == 2 and "no validation games match nothing*" in err


def test_predict_prints_top_moves_board_and_heatmap(trained, games, tmp_path, capsys):
    heatmap = tmp_path / "h.png"
    code, out, _ = _run(["go", "predict", "--model", str(trained / "model.keras"), "--sgf",
                         str(games / "sgf" / "g03.sgf"), "--move", "10", "--top", "3", "--heatmap", str(heatmap),
                         "--json"], capsys)
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert len(result["top"]) == 3 and result["to_play"] == "white" and result["played"]
    probabilities = [entry["probability"] for entry in result["top"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert "A B C D E F G H J K L M N O P Q R S T" in out and " 1 " in out
    assert heatmap.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["played_illegal"] is None
    # The position before an illegal move of the record: predicted, and the record's move flagged.
    (tmp_path / "bad.sgf").write_text("(;GM[1]SZ[19];B[dd];W[pp];B[pp])")
    code, out, _ = _run(["go", "predict", "--model", str(trained / "model.keras"), "--sgf", str(tmp_path / "bad.sgf"),
                         "--move", "3", "--heatmap", str(heatmap), "--json"], capsys)
    assert code == 0 and "the game's move is illegal here: point is occupied" in out
    assert json.loads(out.strip().splitlines()[-1])["played_illegal"] == "point is occupied"


def test_bad_inputs_give_clear_errors(trained, games, tmp_path, capsys):
    model = str(trained / "model.keras")
    code, _, err = _run(["go", "predict", "--model", model, "--sgf", str(games / "sgf" / "g01.sgf"),
                         "--move", "500"], capsys)
    assert code == 2 and "past the end of the game (it has 40 moves" in err
    # Black to move, every empty point is suicide: no legal move.
    white = "".join(f"[{chr(97 + c)}{chr(97 + r)}]" for r in range(19) for c in range(19)
                    if not (r % 3 == 1 and c % 3 == 1))
    (tmp_path / "full.sgf").write_text(f"(;GM[1]SZ[19]PL[B]AW{white})")
    code, _, err = _run(["go", "predict", "--model", model, "--sgf", str(tmp_path / "full.sgf"), "--move", "1"],
                        capsys)
    assert code == 2 and "no legal move" in err
    other = save_model(build_policy(3, 4), tmp_path / "other.keras", app="image")
    code, _, err = _run(["go", "evaluate", "--model", str(other), "--data", str(games / "sgf")], capsys)
    assert code == 2 and "model of the 'image' app" in err
    code, _, err = _run(["go", "evaluate", "--model", model, "--data", str(tmp_path / "missing")], capsys)
    assert code == 2 and "no such file" in err
    code, _, err = _run(["go", "train", "--data", str(tmp_path), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "index.npz" in err
    code, _, err = _run(["go", "match", "--model", model, "--opponent", "/nonexistent/engine --gtp"], capsys)
    assert code == 2 and "cannot start" in err and "warning" not in err
    code, _, err = _run(["go", "match", "--model", model, "--opponent", "/nonexistent/gnugo --mode gtp"], capsys)
    assert code == 2 and "policy plays for chinese rules but GNU Go scores by japanese" in err
    code, _, err = _run(["go", "match", "--model", model, "--rules", "japanese",
                         "--opponent", "/nonexistent/gnugo --mode gtp"], capsys)
    assert code == 2 and "warning" not in err


def test_scoring_helpers():
    board = from_ascii("""
        . X O .
        . X O .
        . X O .
        . X O .""", komi=0.5)
    assert area_score(board) == 8 - 8 - 0.5
    board = from_ascii("""
        . X . .
        X X O O
        . X O .
        . X O .""", komi=0.5)
    assert area_score(board) == (5 + 1 + 2) - (4 + 2) - 0.5  # the two top-right points touch both: neutral
    assert parse_score("B+3.5") == 3.5 and parse_score("W+12") == -12 and parse_score("0") == 0
    assert parse_score("W+R") == -np.inf
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-3) and high == pytest.approx(0.7634, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0


def test_summary_counts_wins_by_colour_and_games_repeated_move_for_move():
    opening, other = [(BLACK, (2, 2)), (-BLACK, (6, 6))], [(BLACK, (2, 6))]
    results = [{"we_won": won, "our_colour": colour, "moves_digest": moves_digest(moves)}
               for won, colour, moves in [(True, "black", opening), (False, "white", other),
                                          (True, "black", list(opening))]]
    summary = summarize(results, {"opponent": "x"})
    assert (summary["wins"], summary["wins_as_black"], summary["wins_as_white"]) == (2, "2 of 2", "0 of 1")
    assert summary["distinct_games"] == 2
    assert moves_digest(opening) != moves_digest(opening[:1])
    del results[0]["moves_digest"]  # a record from before digests: unknown, not a wrong count
    assert summarize(results, {})["distinct_games"] is None


@needs_gnugo
def test_match_against_gnugo_alternates_colours_and_saves_sgfs(tmp_path):
    keras.utils.set_random_seed(0)
    player = PolicyPlayer(build_policy(3, 8, board_size=9))
    opponent = f"{GNUGO} --mode gtp --level 0"
    first = match(player, opponent, 1, tmp_path, size=9, komi=5.5, max_moves=30, log=lambda line: None)
    assert json.loads((tmp_path / "match.json").read_text())["games"] == 1  # written after every game
    with pytest.raises(UserError, match="komi 5.5, not 6.5"):
        match(player, opponent, 2, tmp_path, size=9, komi=6.5, max_moves=30, log=lambda line: None, resume=True)
    summary = match(player, opponent, 2, tmp_path, size=9, komi=5.5, max_moves=30, log=lambda line: None,
                    resume=True)  # plays only the missing second game
    assert summary["results"][0] == first["results"][0]
    assert summary["games"] == 2 and summary["wins"] + summary["losses"] == 2
    assert [r["our_colour"] for r in summary["results"]] == ["black", "white"]
    assert summary["wins_as_black"].endswith(" of 1") and summary["wins_as_white"].endswith(" of 1")
    assert summary["distinct_games"] == len({r["moves_digest"] for r in summary["results"]})
    for result in summary["results"]:
        assert result["scorer"] in ("opponent final_score", "resignation")
        game = sgf.Sgf_game.from_bytes((tmp_path / f"game{result['game']:03d}.sgf").read_bytes())
        assert game.get_root().get("RE") == result["result"] and len(game.get_main_sequence()) - 1 == result["length"]


@needs_gnugo
def test_parallel_match_keeps_game_order_and_resumes_a_gap(tmp_path):
    keras.utils.set_random_seed(0)
    player = PolicyPlayer(build_policy(3, 8, board_size=9))
    opponent = f"{GNUGO} --mode gtp --level 0"
    options = dict(size=9, komi=5.5, max_moves=24, log=lambda line: None)
    summary = match(player, opponent, 4, tmp_path, parallel=2, **options)
    assert [r["game"] for r in summary["results"]] == [1, 2, 3, 4]
    assert [r["our_colour"] for r in summary["results"]] == ["black", "white", "black", "white"]
    assert sorted(p.name for p in tmp_path.glob("*.sgf")) == [f"game00{n}.sgf" for n in (1, 2, 3, 4)]
    # A match stopped with game 2 missing (parallel games finish out of order) replays only game 2.
    saved = json.loads((tmp_path / "match.json").read_text())
    saved["results"] = [r for r in saved["results"] if r["game"] != 2]
    (tmp_path / "match.json").write_text(json.dumps(saved))
    (tmp_path / "game002.sgf").unlink()
    resumed = match(player, opponent, 4, tmp_path, parallel=2, resume=True, **options)
    assert [r["game"] for r in resumed["results"]] == [1, 2, 3, 4] and (tmp_path / "game002.sgf").exists()
    assert [r for r in resumed["results"] if r["game"] != 2] == [r for r in summary["results"] if r["game"] != 2]


def test_gtp_answers_bytes_that_are_not_utf8_with_an_error_and_goes_on(capsys, monkeypatch):
    import io
    stdin = io.TextIOWrapper(io.BytesIO(b"play b \xff\xfe\n1 play b D4\n2 list_stones black\nquit\n"), "utf-8")
    monkeypatch.setattr("sys.stdin", stdin)
    code, out, _ = _run(["go", "gtp"], capsys)
    assert code in (0, None) and out.split("\n\n")[:3] == ["? invalid coordinate", "=1", "=2 D4"]
