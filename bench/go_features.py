#!/usr/bin/env python3
"""Benchmark: AlphaGo's 48 feature planes over real KGS games, against sgfmill replay.

Replays the same games three ways and reports positions per second:

* sgfmill: `sgfmill.boards.Board.play` only (the reference speed of a plain
  Python board that tracks captures),
* rules: our `Position.play` only,
* features: our replay plus all 48 planes for every position (what training
  data costs per example).

Usage: python bench/go_features.py [--games 300] [--data-dir D] [--json] [--profile]
Positions are the non-pass moves; SGF parsing is done up front and not timed.
The target is >= 1,000 positions/s per core for the 48 planes.
"""
import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sgfmill import boards  # noqa: E402

from apps.go.features import features  # noqa: E402
from apps.go.sgf_wrapper import BadGame, parse_sgf, replay  # noqa: E402


def load_games(count, data_dir=None):
    """The first `count` usable 19x19 games of the KGS archives, in archive order."""
    from datasets import fetch
    records = []
    for archive in sorted(fetch("go-kgs", data_dir=data_dir), key=lambda p: Path(p).name, reverse=True):
        with tarfile.open(archive) as tar:
            for member in tar:
                if not (member.isfile() and member.name.endswith(".sgf")):
                    continue
                try:
                    record = parse_sgf(tar.extractfile(member).read())
                except BadGame:
                    continue
                if record.size == 19 and len(record.moves) >= 20:
                    records.append(record)
                if len(records) == count:
                    return records
    return records


def sgfmill_replay(records):
    positions = 0
    for record in records:
        board = boards.Board(19)
        board.apply_setup(record.setup_black, record.setup_white, [])
        for colour, point in record.moves:
            if point is not None:
                board.play(point[0], point[1], "b" if colour == 1 else "w")
                positions += 1
    return positions


def rules_replay(records):
    positions = 0
    for record in records:
        for _, (_, point) in replay(record):
            positions += point is not None
    return positions


def features_replay(records):
    positions = 0
    for record in records:
        for position, (_, point) in replay(record):
            if point is not None:
                features(position)
                positions += 1
    return positions


def timed(function, records):
    started = time.perf_counter()
    positions = function(records)
    seconds = time.perf_counter() - started
    return {"positions": positions, "seconds": round(seconds, 3), "positions_per_s": round(positions / seconds, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", type=int, default=300, help="KGS games to replay (default: %(default)s)")
    parser.add_argument("--data-dir", help="local dataset folder (else $BEYOND_PIXELS_DATA)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--profile", action="store_true", help="also profile the feature run with cProfile")
    args = parser.parse_args(argv)

    records = load_games(args.games, args.data_dir)
    features_replay(records[:1])  # compile / load the numba kernels outside the timing
    results = {"games": len(records), "cpu_cores_visible": os.cpu_count(),
               "sgfmill": timed(sgfmill_replay, records),
               "rules": timed(rules_replay, records),
               "features": timed(features_replay, records)}
    results["features_vs_sgfmill"] = round(
        results["features"]["positions_per_s"] / results["sgfmill"]["positions_per_s"], 3)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        features_replay(records[: max(1, len(records) // 3)])
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
        results["profile"] = text.getvalue()
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print(f"{results['games']} KGS games, single process")
    for name, label in (("sgfmill", "sgfmill Board.play replay"), ("rules", "our rules replay"),
                        ("features", "our replay + 48 planes")):
        r = results[name]
        print(f"  {label:28s} {r['positions_per_s']:10.0f} positions/s ({r['positions']} in {r['seconds']} s)")
    print(f"  48 planes / sgfmill replay ratio: {results['features_vs_sgfmill']}")
    if args.profile:
        print(results["profile"])


if __name__ == "__main__":
    main()
