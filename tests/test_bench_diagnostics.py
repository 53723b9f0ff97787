"""The diagnostic scripts in bench/ that card figures come from."""
import importlib.util
import json
from pathlib import Path

from conftest_go import GNUGO, needs_gnugo

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_go_match_captures_finds_the_first_large_capture(tmp_path, capsys, monkeypatch):
    # Black's corner stone at A19 is captured by white's move 4 (B19, A18); black's two stones at
    # A1 and B1 by white's move 10 (C1, A2, B2).
    sgf = "(;GM[1]FF[4]SZ[19]KM[7.5];B[aa];W[ba];B[jj];W[ab];B[as];W[cs];B[bs];W[ar];B[dd];W[br])"
    (tmp_path / "game001.sgf").write_text(sgf)
    games = [{"game": 1, "we_won": False, "our_colour": "black", "sgf": str(tmp_path / "game001.sgf")},
             {"game": 2, "we_won": True, "our_colour": "white", "sgf": str(tmp_path / "missing.sgf")}]
    (tmp_path / "match.json").write_text(json.dumps({"results": games}))
    script = _load("go_match_captures")
    assert script.first_large_capture(tmp_path / "game001.sgf", "black", 1) == 4
    assert script.first_large_capture(tmp_path / "game001.sgf", "black", 2) == 10
    assert script.first_large_capture(tmp_path / "game001.sgf", "white", 1) is None
    monkeypatch.setattr("sys.argv", ["go_match_captures", str(tmp_path / "match.json"), "--stones", "2", "--json"])
    script.main()
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["losses"] == 1 and summary["losses_with_large_capture"] == 1  # won games are not read
    assert summary["first_capture_move"]["median"] == 10


@needs_gnugo
def test_go_match_rescore_separates_points_given_away_from_the_result(tmp_path, capsys, monkeypatch):
    # 9x9: black walls column D, white column E: 27 points of territory for black, 36 for white, no dame;
    # a reverse komi of 7.5 leaves white 1.5 points ahead.
    # Black (the opponent) passes at move 19; white (us) then plays three stones into its own territory.
    walls = "".join(f";B[d{row}];W[e{row}]" for row in "abcdefghi")
    after = ";B[];W[he];B[];W[ie];B[];W[ga];B[];W[]"
    (tmp_path / "game001.sgf").write_text(f"(;GM[1]FF[4]SZ[9]KM[-7.5]{walls}{after})")
    games = [{"game": 1, "ended": "two passes", "we_won": False, "our_colour": "white", "result": "B+1.5",
              "sgf": str(tmp_path / "game001.sgf")},
             {"game": 2, "ended": "resignation", "we_won": True, "our_colour": "black", "result": "B+R",
              "sgf": str(tmp_path / "missing.sgf")}]
    (tmp_path / "match.json").write_text(json.dumps({"results": games}))
    script = _load("go_match_rescore")
    assert script.first_opponent_pass(tmp_path / "game001.sgf", "white") == 19
    assert script.first_opponent_pass(tmp_path / "game001.sgf", "black") == 26
    monkeypatch.setattr("sys.argv", ["go_match_rescore", str(tmp_path / "match.json"), "--gnugo", GNUGO, "--json"])
    script.main()
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    game = summary["per_game"][0]
    assert game["japanese"] == [1.5, -1.5]  # three stones in our own territory cost three points, and the game
    assert game["chinese"] == [1.5, 1.5]  # but nothing under area scoring
    assert summary["scored_wins"] == {"japanese_at_first_pass": 1, "japanese_at_end": 0,
                                      "chinese_at_first_pass": 1, "chinese_at_end": 1}
    assert summary["wins_not_by_two_passes"] == 1
