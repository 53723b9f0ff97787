#!/usr/bin/env python3
"""Diagnostic: what the policy's moves after the opponent's first pass did to the score, by rule set.

A policy trained on games that ended by agreement never learned to pass. For
every game of a `go match` record that ended by two passes, GNU Go scores the
position at the opponent's first pass (what passing back at once would have
given) and the final position, once with its default rules (japanese:
territory scoring) and once with --chinese-rules (area scoring). Under
territory scoring a stone put into settled territory costs a point, under area
scoring it does not, so the two columns separate points given away from
groups lost (docs/experiments/go.md).

The record is a zip of match.json and the game SGFs (docs/matches/*.zip), a
folder holding match.json, or that match.json itself (as for
bench/go_match_captures.py).

    python bench/go_match_rescore.py docs/matches/go_policy_single_playon.zip [--gnugo PATH] [--max-games N] [--json]
    python bench/go_match_rescore.py runs/go_match/match.json
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RULES = {"japanese": "", "chinese": " --chinese-rules"}


def our_margins(engine, sgf_path, first_pass, our_colour):
    """Our score margin (GNU Go's final_score) before move `first_pass` (1-based) and at the end."""
    from apps.go.match import parse_score
    sign = 1 if our_colour == "black" else -1
    engine.ask(f"loadsgf {sgf_path} {first_pass}")
    at_pass = sign * parse_score(engine.ask("final_score"))
    engine.ask(f"loadsgf {sgf_path}")
    return at_pass, sign * parse_score(engine.ask("final_score"))


def first_opponent_pass(sgf_path, our_colour):
    """1-based number of the opponent's first pass, or None."""
    from apps.go import sgf_wrapper
    from apps.go.go import BLACK
    record = sgf_wrapper.parse_sgf(Path(sgf_path).read_bytes())
    ours = BLACK if our_colour == "black" else -BLACK
    return next((n for n, (colour, point) in enumerate(record.moves, 1) if colour != ours and point is None), None)


def rescore(match, gnugo, max_games=None):
    """Rescore the record `match` (zip, folder or match.json); only its first `max_games` games if given."""
    from apps.go.match import GtpProcess
    from bench.go_match_captures import match_record
    games = []
    with match_record(match) as record:
        results = record["results"][:max_games]
        engines = {name: GtpProcess(f"{gnugo} --mode gtp{flag}") for name, flag in RULES.items()}
        try:
            for result in results:
                if result["ended"] != "two passes":
                    continue
                sgf = Path(result["sgf"]).resolve()  # GNU Go reads it from its own working directory
                first = first_opponent_pass(sgf, result["our_colour"])
                game = {"game": result["game"], "our_colour": result["our_colour"], "result": result["result"],
                        "opponent_first_pass": first}
                for name, engine in engines.items():
                    game[name] = our_margins(engine, sgf, first, result["our_colour"])
                games.append(game)
        finally:
            for engine in engines.values():
                engine.close()
    other_wins = sum(1 for r in results if r["we_won"] and r["ended"] != "two passes")
    wins = {f"{name}_{when}": sum(1 for g in games if g[name][index] > 0)
            for name in RULES for index, when in enumerate(["at_first_pass", "at_end"])}
    return {"games": len(results), "scored_by_two_passes": len(games),
            "wins_not_by_two_passes": other_wins, "scored_wins": wins, "per_game": games}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("match", help="a match zip (docs/matches/*.zip), a record folder, or its match.json")
    parser.add_argument("--gnugo", default=shutil.which("gnugo") or "/usr/games/gnugo")
    parser.add_argument("--max-games", type=int, default=None, help="only the record's first N games")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    summary = rescore(args.match, args.gnugo, args.max_games)
    for game in summary["per_game"]:
        print(f"game {game['game']:3d} ({game['our_colour']}, {game['result']}): our margin at the opponent's first "
              f"pass (move {game['opponent_first_pass']}) -> end: japanese {game['japanese'][0]:+.1f} -> "
              f"{game['japanese'][1]:+.1f}, chinese {game['chinese'][0]:+.1f} -> {game['chinese'][1]:+.1f}")
    wins, n = summary["scored_wins"], summary["scored_by_two_passes"]
    print(f"of {n} games ended by two passes we win: japanese {wins['japanese_at_first_pass']} at the opponent's "
          f"first pass, {wins['japanese_at_end']} at the end; chinese {wins['chinese_at_first_pass']} -> "
          f"{wins['chinese_at_end']}; plus {summary['wins_not_by_two_passes']} won otherwise "
          f"(resignation or the move cap)")
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
