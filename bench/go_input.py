#!/usr/bin/env python3
"""Benchmark: the Go training input pipeline, replayed versus bit-packed, in one run.

Prepares one KGS archive of the registry (January 2017, 733 games) into a scratch
folder, packs it (`go pack`, every core), then reads batches of 256 positions with
random symmetries through both pipelines that `go train` can use and reports
positions per second and their ratio:

* generator: `--input replay`, Python generators replaying games and computing the
  48 planes (`--input-workers` of them in parallel tf.data threads);
* packed: `--input packed`, fixed-length records unpacked and symmetrized in the graph.

Usage: python bench/go_input.py [--positions 20000] [--workers 2] [--data-dir D] [--json]
The packed pipeline should feed at least 20,000 positions/s on two cores, so that one
GPU training the network never waits for data.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARCHIVE = "KGS-2017_01-19-733-.tar.gz"
BATCH = 256


def rate(dataset, positions):
    """Positions per second over `positions`, after one warm-up batch."""
    iterator = iter(dataset)
    next(iterator)
    batches = max(1, positions // BATCH)
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * BATCH / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=20000, help="positions read from each pipeline")
    parser.add_argument("--workers", type=int, default=2, help="generators of the replay pipeline")
    parser.add_argument("--data-dir", help="local dataset folder (else $BEYOND_PIXELS_DATA)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from apps.go import packed, prepare
    from apps.go.train import training_dataset
    from datasets import fetch_file

    scratch = Path(tempfile.mkdtemp(prefix="go_input_"))
    archive = fetch_file("go-kgs", ARCHIVE, args.data_dir)
    prepare.prepare([archive], scratch / "records", workers=os.cpu_count() or 1, val_fraction=0.05)
    started = time.perf_counter()
    summary = packed.pack(scratch / "records", workers=os.cpu_count() or 1, games_per_file=100,
                          progress=lambda *_: None)
    pack_seconds = time.perf_counter() - started
    records = prepare.GameRecords(scratch / "records", "train")
    generator = rate(training_dataset(records, BATCH, 0, args.workers), args.positions)
    reader = rate(packed.packed_dataset(packed.packed_files(scratch / "records", "train"), BATCH, seed=0),
                  args.positions)
    size = sum((scratch / "records" / packed.FOLDER / name).stat().st_size for name in summary["files"])
    result = {"archive": ARCHIVE, "cores": os.cpu_count(), "batch": BATCH, "replay_workers": args.workers,
              "generator_positions_per_s": round(generator, 1), "packed_positions_per_s": round(reader, 1),
              "packed_over_generator": round(reader / generator, 2),
              "pack_positions_per_s": round((summary["train_positions"] + summary["validation_positions"])
                                            / pack_seconds, 1),
              "packed_bytes_per_position": packed.RECORD_BYTES, "packed_megabytes": round(size / 1e6, 1)}
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
