#!/usr/bin/env python3
"""Benchmark: training on two workers against one, and the Go input pipelines, in one run.

1. Scaling: `image train --distribute multi-worker` (LeNet-5 on 8,192 MNIST images,
   global batch 128, 3 epochs) as one worker and as two workers on 127.0.0.1, each
   process on one thread (TF_NUM_INTRAOP_THREADS=1), so two workers use two cores where
   one uses one. Training examples/s of all workers together, past the first epoch,
   from each run's metrics.json; scaling efficiency = rate(2) / (2 x rate(1)).
2. Go input: one KGS archive of the registry (January 2017, 733 games) prepared and
   packed (`go pack`, every core); batches of 256 positions with random symmetries read
   through `--input replay` (Python generators replaying games and computing the 48
   planes, `--workers` of them) and through `--input packed` (records unpacked and
   symmetrized in the graph).

Usage: python bench/distributed.py [--positions 20000] [--workers 2] [--data-dir D] [--json]
The packed pipeline should feed at least 20,000 positions/s on two cores, so that one GPU
training the network never waits for data.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ARCHIVE = "KGS-2017_01-19-733-.tar.gz"
BATCH = 256
TRAIN = ["image", "train", "--distribute", "multi-worker", "--arch", "lenet5", "--limit", "8192", "--batch-size",
         "128", "--epochs", "3", "--val-size", "500"]


def training_rate(workers, out, data_dir):
    """Training examples/s of `workers` one-thread processes on loopback (worker 0's metrics)."""
    sockets = [socket.socket() for _ in range(workers)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    addresses = [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    for s in sockets:
        s.close()
    processes = []
    for index in range(workers):
        config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "TF_NUM_INTRAOP_THREADS": "1",
               "TF_NUM_INTEROP_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
        argv = [sys.executable, str(REPO / "run.py"), *TRAIN, "--out", str(out)]
        if data_dir:
            argv += ["--data-dir", data_dir]
        processes.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, err = process.communicate()
        if process.returncode:
            raise SystemExit(f"a worker failed:\n{err[-2000:]}")
    return json.loads((Path(out) / "metrics.json").read_text())["train_examples_per_s"]


def go_input_rates(positions, replay_workers, data_dir, scratch):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from apps.go import packed, prepare
    from apps.go.train import input_rate, training_dataset
    from datasets import fetch_file

    archive = fetch_file("go-kgs", ARCHIVE, data_dir)
    prepare.prepare([archive], scratch / "records", workers=os.cpu_count() or 1, val_fraction=0.05)
    started = time.perf_counter()
    summary = packed.pack(scratch / "records", workers=os.cpu_count() or 1, games_per_file=100,
                          progress=lambda *_: None)
    pack_seconds = time.perf_counter() - started
    # packed first: a replay pipeline's generator threads outlive its measurement and would share the cores
    reader = input_rate(packed.packed_dataset(packed.packed_files(scratch / "records", "train"), BATCH, seed=0),
                        positions, BATCH)
    records = prepare.GameRecords(scratch / "records", "train")
    generator = input_rate(training_dataset(records, BATCH, 0, replay_workers), positions, BATCH)
    size = sum((scratch / "records" / packed.FOLDER / name).stat().st_size for name in summary["files"])
    return {"archive": ARCHIVE, "batch": BATCH, "replay_workers": replay_workers,
            "generator_positions_per_s": round(generator, 1), "packed_positions_per_s": round(reader, 1),
            "packed_over_generator": round(reader / generator, 2),
            "pack_positions_per_s": round((summary["train_positions"] + summary["validation_positions"])
                                          / pack_seconds, 1),
            "packed_bytes_per_position": packed.RECORD_BYTES, "packed_megabytes": round(size / 1e6, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=20000, help="positions read from each Go pipeline")
    parser.add_argument("--workers", type=int, default=2, help="generators of the replay pipeline")
    parser.add_argument("--data-dir", help="local dataset folder (else $BEYOND_PIXELS_DATA)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench_distributed_"))
    one = training_rate(1, scratch / "one", args.data_dir)
    two = training_rate(2, scratch / "two", args.data_dir)
    result = {"cores": os.cpu_count(), "train_examples_per_s_1_worker": one, "train_examples_per_s_2_workers": two,
              "scaling_efficiency": round(two / (2 * one), 3),
              **go_input_rates(args.positions, args.workers, args.data_dir, scratch)}
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
