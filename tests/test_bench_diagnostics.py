"""The diagnostic scripts in bench/ that card figures come from."""
import importlib.util
import json
from pathlib import Path

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
