"""Training throughput of the image models against this machine's matmul peak.

    python bench/train_throughput.py [--arch vgg lenet5 resnet] [--width 24] [--json]
    python bench/train_throughput.py --mixed-bfloat16   # the same in mixed bfloat16

Measures, in one run: the float32 matmul peak (GFLOP/s), then for each
architecture the images/s of a training step on MNIST-sized inputs and the
achieved model GFLOP/s (3x the forward FLOPs of conv and dense layers), and
prints the ratio of achieved to peak. Synthetic pixels are enough: the cost of
a step does not depend on what the pixels show.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", nargs="+", default=["lenet5", "vgg", "resnet"])
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--mixed-bfloat16", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()

    import numpy as np

    from apps.image.models import build_model
    from shared import benchmark, training

    training.set_precision(args.mixed_bfloat16)
    peak = benchmark.matmul_peak_gflops()
    print(f"float32 matmul peak: {peak:.1f} GFLOP/s")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.batch_size * 8, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, len(x))
    results = {"matmul_peak_gflops": round(peak, 1), "batch_size": args.batch_size,
               "policy": "mixed_bfloat16" if args.mixed_bfloat16 else "float32", "models": {}}
    for arch in args.arch:
        model = build_model(arch, width=args.width)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        rate = benchmark.time_training_steps(model, x, y, args.batch_size, args.steps)
        achieved = rate * benchmark.training_flops(model) / 1e9
        results["models"][arch] = {"images_per_s": round(rate, 1), "train_gflop_per_image":
                                   round(benchmark.training_flops(model) / 1e9, 4),
                                   "achieved_gflops": round(achieved, 1), "ratio_to_peak": round(achieved / peak, 3),
                                   "parameters": model.count_params()}
        print(f"{arch:>7} (width {args.width}): {rate:8.1f} images/s  {achieved:6.1f} GFLOP/s  "
              f"{achieved / peak:5.1%} of peak")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
