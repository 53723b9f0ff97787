"""Policy-network throughput: training and inference positions/s for the `default`
and `alphago` presets, beside this machine's float32 matmul peak measured in
the same run, and the share of the peak each reaches.

    nice -n 19 python bench/go_policy.py [--presets default alphago] [--seconds 20] [--mixed-bfloat16] [--json]

With `--mixed-bfloat16` the models compute in bfloat16 (float32 weights), as `go train
--mixed-bfloat16` does; the peak stays the float32 one, so the share can pass 100%.

Inputs are random 0/1 planes (throughput does not depend on the values); the
input pipeline is measured separately by `run.py go train` (it prints both rates).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _timed(step, batch, seconds, min_steps=3):
    step()  # trace / warm up
    steps, started = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - started < seconds:
        step()
        steps += 1
    return steps * batch / (time.perf_counter() - started), steps


def bench_preset(preset, seconds, train_batch, infer_batch):
    import numpy as np
    import tensorflow as tf

    from apps.go import models
    from apps.go.train import compile_policy, make_optimizer
    from shared.benchmark import model_flops

    model = models.build_policy(*models.PRESETS[preset])
    compile_policy(model, make_optimizer("modern", 1e-3, 1000, 1))
    rng = np.random.default_rng(0)
    x = tf.constant((rng.random((max(train_batch, infer_batch), 19, 19, 48)) < 0.3).astype("float32"))
    y = tf.constant(rng.integers(0, 361, max(train_batch, infer_batch)).astype("int32"))
    train_rate, train_steps = _timed(lambda: model.train_on_batch(x[:train_batch], y[:train_batch]),
                                     train_batch, seconds)
    infer = tf.function(lambda inputs: model(inputs, training=False))
    infer_rate, infer_steps = _timed(lambda: infer(x[:infer_batch]).numpy(), infer_batch, seconds)
    forward = model_flops(model)
    return {"preset": preset, "layers": models.PRESETS[preset][0], "filters": models.PRESETS[preset][1],
            "parameters": model.count_params(), "forward_gflop_per_position": forward / 1e9,
            "train_positions_per_s": train_rate, "train_batch": train_batch, "train_steps": train_steps,
            "train_gflops": train_rate * 3 * forward / 1e9,
            "inference_positions_per_s": infer_rate, "inference_batch": infer_batch, "inference_steps": infer_steps,
            "inference_gflops": infer_rate * forward / 1e9}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["default", "alphago"])
    parser.add_argument("--seconds", type=float, default=20.0, help="time per measurement (default: %(default)s)")
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--inference-batch", type=int, default=256)
    parser.add_argument("--mixed-bfloat16", action="store_true", help="bfloat16 compute, float32 weights")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from shared.training import set_precision
    set_precision(args.mixed_bfloat16)
    from shared.benchmark import matmul_peak_gflops
    peak = matmul_peak_gflops()
    results = [bench_preset(p, args.seconds, args.train_batch, args.inference_batch) for p in args.presets]
    peak_after = matmul_peak_gflops()  # the CPU is shared: bracket the model runs
    peak = max(peak, peak_after)
    for r in results:
        r["train_share_of_peak"] = r["train_gflops"] / peak
        r["inference_share_of_peak"] = r["inference_gflops"] / peak
        print(f"{r['preset']:>8} ({r['layers']}x{r['filters']}, {r['parameters']:,} params, "
              f"{r['forward_gflop_per_position']:.3f} GFLOP/position): train {r['train_positions_per_s']:.0f} pos/s "
              f"({r['train_gflops']:.1f} GFLOP/s, {100 * r['train_share_of_peak']:.0f}% of peak), inference "
              f"{r['inference_positions_per_s']:.0f} pos/s ({r['inference_gflops']:.1f} GFLOP/s, "
              f"{100 * r['inference_share_of_peak']:.0f}% of peak)")
    print(f"float32 matmul peak: {peak:.1f} GFLOP/s (best of before/after the models)")
    if args.json:
        print(json.dumps({"matmul_peak_gflops": peak, "mixed_bfloat16": args.mixed_bfloat16, "results": results}))


if __name__ == "__main__":
    main()
