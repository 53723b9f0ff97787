#!/usr/bin/env python3
"""Benchmark: sentences per second for training and inference of DCNN and Kim's CNN.

Synthetic id batches (uniform random words, lengths drawn like SST sentences,
mean ~19 tokens), vocabulary 20,000, 50-d two-channel embeddings (the shipped
configuration). Training: `train_on_batch` steps (batch 50 by default, as in
the papers); inference: `model(x)` on batches of 256. The first steps are
warm-up (tracing) and not timed.

Usage: nice -n 19 python bench/text.py [--seconds 20] [--batch-size 50] [--json]
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def sentence_batches(rng, vocab, batch, count, mean_length=19):
    lengths = np.clip(rng.poisson(mean_length, (count, batch)), 2, 56)
    for row_lengths in lengths:
        ids = np.zeros((batch, row_lengths.max()), np.int32)
        for i, n in enumerate(row_lengths):
            ids[i, :n] = rng.integers(2, vocab, n)
        yield ids, rng.integers(0, 2, batch).astype(np.int32)


def measure(step, batches, seconds, warmup=3):
    sentences, started = 0, None
    for i, (ids, labels) in enumerate(batches):
        if i == warmup:
            started = time.perf_counter()
        step(ids, labels)
        if started is not None:
            sentences += len(ids)
            if time.perf_counter() - started > seconds:
                break
    return sentences / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per measurement")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--vocab", type=int, default=20000)
    parser.add_argument("--mode", default="multichannel")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from apps.text.models import build_model

    results = {"batch_size": args.batch_size, "vocabulary": args.vocab, "mode": args.mode,
               "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()}
    weights = np.random.default_rng(0).normal(0, 0.3, (args.vocab, 50)).astype("float32")
    for arch in ("dcnn", "kim"):
        keras.utils.set_random_seed(0)
        model = build_model(arch, args.vocab, 2, dim=50, mode=args.mode, weights=weights)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        rng = np.random.default_rng(1)
        train = measure(lambda x, y: model.train_on_batch(x, y),
                        sentence_batches(rng, args.vocab, args.batch_size, 100000), args.seconds)
        infer_fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        infer = measure(lambda x, y: infer_fn(x), sentence_batches(rng, args.vocab, 256, 100000), args.seconds)
        results[arch] = {"train_sentences_per_s": round(train, 1), "inference_sentences_per_s": round(infer, 1),
                         "parameters": model.count_params()}
        print(f"{arch:5s} train {train:8.1f} sentences/s   inference {infer:8.1f} sentences/s   "
              f"({model.count_params():,} parameters)", flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
