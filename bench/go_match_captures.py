#!/usr/bin/env python3
"""Diagnostic: in which lost games of a `go match` record did the opponent capture a large group, and when.

Replays every lost game's SGF (named in match.json) with the app's rules and
reports the first opponent move that captured at least --stones of our
stones at once: how policy-only play loses (models/go_policy.md).

    python bench/go_match_captures.py models/go_policy_match/match.json [--stones 10] [--json]
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


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
    parser.add_argument("match_json")
    parser.add_argument("--stones", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    record = json.loads(Path(args.match_json).read_text())
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
