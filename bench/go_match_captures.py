#!/usr/bin/env python3
"""Diagnostic: in which lost games of a `go match` record did the opponent capture a large group, and when.

Replays every lost game's SGF (named in match.json) with the app's rules and
reports the first opponent move that captured at least --stones of our
stones at once: how policy-only play loses (models/go_policy.md).

The record is a zip of match.json and the game SGFs (docs/matches/*.zip), or a
folder holding match.json (what `run.py go match --out` writes), or that
match.json itself.

    python bench/go_match_captures.py docs/matches/go_policy_japanese.zip [--stones 10] [--json]
    python bench/go_match_captures.py runs/go_match/match.json
"""
import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _resolve_sgf(sgf, folder):
    """A game's SGF path from match.json, found relative to the record's folder where it is not absolute.

    Records written by `go match` name each SGF relative to the working directory they were played from
    (e.g. "runs/go_match/game001.sgf"), zipped records by its bare name: both are looked up in `folder`.
    """
    sgf = Path(sgf)
    if sgf.is_absolute():
        return sgf
    for candidate in (folder / sgf, folder / sgf.name, sgf):
        if candidate.exists():
            return candidate
    return folder / sgf.name


@contextlib.contextmanager
def match_record(path):
    """The parsed match.json of a record (zip, folder or match.json), each result's "sgf" a readable path.

    A zip is extracted to a temporary folder, removed when the `with` block ends.
    """
    path = Path(path)
    with contextlib.ExitStack() as stack:
        if path.is_file() and zipfile.is_zipfile(path):
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="go_match_")))
            with zipfile.ZipFile(path) as archive:
                archive.extractall(folder)
            found = sorted(folder.rglob("match.json"), key=lambda p: len(p.parts))  # at the top, or in a folder
            if not found:
                raise SystemExit(f"{path}: no match.json in the zip")
            match_json = found[0]
        elif path.is_dir():
            match_json = path / "match.json"
        else:
            match_json = path
        folder = match_json.parent
        record = json.loads(match_json.read_text())
        record["results"] = [dict(r, sgf=str(_resolve_sgf(r["sgf"], folder))) for r in record["results"]]
        yield record


def first_large_capture(sgf_path, our_colour, stones):
    """The move number of the first opponent move capturing >= `stones` of ours, or None."""
    from apps.go import sgf_wrapper
    from apps.go.go import BLACK, WHITE
    record = sgf_wrapper.parse_sgf(Path(sgf_path).read_bytes())
    position = sgf_wrapper.start_position(record)
    opponent = WHITE if our_colour == "black" else BLACK
    for number, (colour, point) in enumerate(record.moves, 1):
        before = position.prisoners[opponent]
        position.play(point, colour)
        if colour == opponent and position.prisoners[opponent] - before >= stones:
            return number
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("match", help="a match zip (docs/matches/*.zip), a record folder, or its match.json")
    parser.add_argument("--stones", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with match_record(args.match) as record:
        losses = [r for r in record["results"] if not r["we_won"]]
        moves = {r["game"]: first_large_capture(r["sgf"], r["our_colour"], args.stones) for r in losses}
    hit = sorted(m for m in moves.values() if m)
    summary = {"losses": len(losses), "stones": args.stones, "losses_with_large_capture": len(hit),
               "first_capture_move": {"min": hit[0], "median": statistics.median(hit), "max": hit[-1]} if hit else None,
               "per_game": moves}
    print(f"{len(hit)} of {len(losses)} losses contain an opponent move capturing >= {args.stones} stones"
          + (f"; the first such move: min {hit[0]}, median {statistics.median(hit)}, max {hit[-1]}" if hit else ""))
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
