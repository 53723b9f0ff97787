#!/usr/bin/env python3
"""Speech benchmark: feature extraction clips/s (one process vs all cores) and
training clips/s of the frequency CNN, next to this machine's matmul peak
measured in the same run.

    BEYOND_PIXELS_DATA=../shared/data nice -n 19 python bench/speech.py --clips 400 --json
    ... python bench/speech.py --mixed-bfloat16   # the training step in mixed bfloat16

Feature extraction is timed without the cache (log-mel + deltas of FSDD clips,
resampled 8 -> 16 kHz unless --native). Training is timed on random inputs
of the model's real shape (steps after the first, which compiles).
"""
import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _extract(job):
    from apps.speech import features
    path, config = job
    return features.file_features(path, config).shape


def feature_rate(paths, config, workers):
    jobs = [(p, config) for p in paths]
    started = time.perf_counter()
    if workers == 1:
        for job in jobs:
            _extract(job)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_extract, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
    return len(jobs) / (time.perf_counter() - started)


def training_rate(arch, input_shape, num_classes, batch_size, steps):
    import numpy as np

    from apps.speech import models
    # the shipped models' configuration (models/speech_*.md)
    options = {} if arch == "trad-fpool3" else dict(context_stride=3, filters=(32, 64))
    model = models.build_model(arch, input_shape, num_classes, **options)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size, *input_shape)).astype("float32")
    y = rng.integers(0, num_classes, size=batch_size)
    model.train_on_batch(x, y)  # compile
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    seconds = time.perf_counter() - started
    flops = _train_flops(model, batch_size, x)
    return steps * batch_size / seconds, (flops * steps / seconds / 1e9) if flops else None, model.count_params()


def _train_flops(model, batch_size, x):
    """Forward FLOPs from TensorFlow's profiler, x3 for forward + backward."""
    import tensorflow as tf
    try:
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
        concrete = tf.function(lambda t: model(t, training=False)).get_concrete_function(
            tf.TensorSpec(x.shape, tf.float32))
        frozen = convert_variables_to_constants_v2(concrete)
        opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        opts["output"] = "none"
        info = tf.compat.v1.profiler.profile(graph=frozen.graph, options=opts)
        return 3 * info.total_float_ops
    except Exception:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=400)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--native", action="store_true", help="keep FSDD at 8 kHz (no resampling)")
    parser.add_argument("--arch", default="freq")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--mixed-bfloat16", action="store_true", help="time the training step in mixed bfloat16")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from apps.speech import data, features
    from shared.benchmark import matmul_peak_gflops
    from shared.training import set_precision
    config = features.FeatureConfig(sample_rate=8000 if args.native else 16000, fmax=4000.0 if args.native else 0.0)
    items = data.fsdd_items(data.default_root("fsdd"))[:args.clips]
    paths = [str(i[0]) for i in items]
    _extract((paths[0], config))  # librosa's numba kernels compile on first use
    one = feature_rate(paths, config, 1)
    many = feature_rate(paths, config, args.workers)
    peak = matmul_peak_gflops(seconds=2.0)
    shape = (config.frames, config.n_mels, config.channels)
    set_precision(args.mixed_bfloat16)
    rate, gflops, params = training_rate(args.arch, shape, 12, args.batch_size, args.steps)
    result = {"cpu_count": os.cpu_count(), "clips": len(paths), "sample_rate": config.sample_rate,
              "features_clips_per_s_1_process": round(one, 1),
              f"features_clips_per_s_{args.workers}_processes": round(many, 1),
              "matmul_peak_gflops": round(peak, 1), "arch": args.arch, "mixed_bfloat16": args.mixed_bfloat16,
              "input_shape": shape,
              "parameters": params, "train_clips_per_s": round(rate, 1),
              "train_gflops": gflops and round(gflops, 1),
              "train_fraction_of_matmul_peak": gflops and round(gflops / peak, 3),
              "load_average": os.getloadavg()}
    for key, value in result.items():
        print(f"{key}: {value}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
