"""The suite's architectures side by side, at the same wall-clock training budget.

Papers compare architectures at their own scales, budgets and tricks; a user choosing one
for a small problem on a small machine wants them compared on the same data, for the same
time, on the same hardware. For each architecture and seed this trains from scratch for
`--budget` seconds (Adam, learning rate 1e-3, batch 128: the same for all, no schedule,
since the number of steps is what differs), then measures:

- accuracy on a fixed validation set carved from the training data, after the batch norms'
  running averages are recomputed on 16 training batches ("precise BN": a few hundred steps
  leave averages with momentum 0.99 far from the data's statistics, which would measure that
  lag rather than the weights; it changes nothing for networks without batch norm) (Fashion-MNIST:
  5,000 training images; Speech Commands: the held-out speakers of the app's default
  split; Go: positions of held-out games);
- parameters, and FLOPs per example (`shared.benchmark.model_flops`: 2 x multiply-adds);
- training examples/s after the first batches (tracing excluded);
- inference latency for one example: the median of 50 calls of the compiled model.

Accuracy is reported as mean and sample sd over `--seeds` seeds. `--write-docs` replaces
the tables between the markers of docs/architectures.md; the reading beside them is
written by hand.

    python bench/architectures.py --parts image speech go --budget 30 --seeds 3 \
        --json bench_architectures.json --write-docs docs/architectures.md
"""
import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared import cli as common  # noqa: E402

BATCH_SIZE = 128
LEARNING_RATE = 1e-3
BN_BATCHES = 16  # training batches whose statistics replace the batch norms' running averages


def _time_budget_callback(budget_s, warmup_batches=5):
    """Stops training once `budget_s` seconds have passed since its first step (which traces the
    graph and is not counted), and records the
    examples seen and the steady rate (after `warmup_batches`, which include tracing)."""
    import keras

    class TimeBudget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.started, self.batches, self.steady_start, self.elapsed = None, 0, None, 0.0

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1
            if self.started is None:  # the first step traces the graph: not training time
                self.started = time.perf_counter()
                return
            if self.batches == warmup_batches:
                self.steady_start = time.perf_counter()
            self.elapsed = time.perf_counter() - self.started
            if self.elapsed >= budget_s:
                self.model.stop_training = True

        def rate(self, batch_size):
            if self.steady_start is None or self.batches <= warmup_batches:
                return float("nan")
            return (self.batches - warmup_batches) * batch_size / (time.perf_counter() - self.steady_start)

    return TimeBudget()


def latency_ms(model, example, calls=50):
    """Median milliseconds of one forward pass on one example (a compiled call, no Python loop)."""
    import tensorflow as tf
    forward = tf.function(lambda x: model(x, training=False))
    x = tf.constant(example[None].astype(np.float32))
    for _ in range(5):
        forward(x).numpy()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        forward(x).numpy()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def recompute_batch_norm(model, batches):
    """Precise batch norm: set every BatchNormalization's moving mean and variance to the average of
    its batch statistics over `batches` (training-mode passes with dropout off, no weight changes).
    A budget of seconds is a few hundred steps, after which running averages with momentum 0.99
    still remember their initial values; evaluating then would measure that lag, not the weights."""
    import keras
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return
    dropouts = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dropout)]
    momenta, rates = [layer.momentum for layer in norms], [layer.rate for layer in dropouts]
    for layer in dropouts:
        layer.rate = 0.0
    for i, batch in enumerate(batches):  # momentum i / (i + 1): the running value is the plain mean
        for layer in norms:
            layer.momentum = i / (i + 1)
        model(batch, training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum
    for layer, rate in zip(dropouts, rates):
        layer.rate = rate


def train_for_budget(model, train_ds, x_val, y_val, budget_s, batch_size=BATCH_SIZE):
    """Fit `model` on the repeated `train_ds` for `budget_s` seconds; accuracy on the validation arrays."""
    import keras
    from shared.benchmark import model_flops
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    clock = _time_budget_callback(budget_s)
    cpu_started = time.process_time()
    model.fit(train_ds, epochs=10_000, steps_per_epoch=50, callbacks=[clock], verbose=0, shuffle=False)
    recompute_batch_norm(model, [x for x, _ in train_ds.take(BN_BATCHES)])
    probabilities = model.predict(x_val, batch_size=512, verbose=0)
    return {"accuracy": float(np.mean(probabilities.argmax(1) == y_val)), "train_seconds": round(clock.elapsed, 1),
            "train_examples": clock.batches * batch_size, "train_examples_per_s": round(clock.rate(batch_size), 1),
            "parameters": int(model.count_params()), "mflops_per_example": round(model_flops(model) / 1e6, 2),
            "latency_ms": round(latency_ms(model, x_val[0]), 3),
            # what else ran: CPU seconds this process got, and the machine's 1-minute load average
            "cpu_seconds": round(time.process_time() - cpu_started, 1), "load_average": os.getloadavg()[0]}


def _array_dataset(x, y, seed):
    import tensorflow as tf
    return (tf.data.Dataset.from_tensor_slices((x, y)).repeat().shuffle(20_000, seed=seed)
            .batch(BATCH_SIZE, drop_remainder=True).prefetch(tf.data.AUTOTUNE))


def image_runs(args):
    """Every image architecture on Fashion-MNIST (its default width)."""
    import keras

    from apps.image import ARCHITECTURES, data, models
    x, y = data.load_split("fashion", "train", args.data_dir)
    (x_train, y_train), (x_val, y_val) = data.train_val_split(x, y, 5000, 1234)
    rows = []
    for arch in args.image_archs or ARCHITECTURES:
        for seed in range(args.seeds):
            keras.utils.set_random_seed(seed)
            model = models.build_model(arch, 10, width=args.image_width)
            row = train_for_budget(model, _array_dataset(x_train, y_train, seed), x_val.astype(np.float32), y_val,
                                   args.budget)
            rows.append({"part": "image", "arch": arch, "seed": seed, **row})
            print(json.dumps(rows[-1]), flush=True)
            keras.backend.clear_session()
    return rows


def speech_runs(args):
    """Every speech architecture on Speech Commands clips, validated on held-out speakers."""
    import keras

    from apps.speech import ARCHITECTURES, cli as speech_cli, models
    from apps.speech.train import feature_config, training_arrays
    options = ["train", "--dataset", "commands"] + (["--data-dir", args.data_dir] if args.data_dir else [])
    speech_args = common.parse_command(speech_cli.register, options)
    config = feature_config(speech_args)
    x_train, y_train, x_val, y_val, context, extra = training_arrays(speech_args, config, log=lambda *_: None)
    classes = int(max(y_train.max(), y_val.max()) + 1)
    print(f"speech: {len(x_train)} training and {len(x_val)} validation clips of shape {x_train.shape[1:]}",
          flush=True)
    rows = []
    for arch in args.speech_archs or ARCHITECTURES:
        for seed in range(args.seeds):
            keras.utils.set_random_seed(seed)
            freq_options = {} if arch in ("trad-fpool3", "ds-cnn", "residual") else dict(
                context=context, time_bins=speech_args.time_bins, context_stride=speech_args.context_stride,
                filters=tuple(speech_args.filters), hidden=speech_args.hidden)
            model = models.build_model(arch, x_train.shape[1:], classes, normalizer_data=x_train,
                                       dropout=speech_args.dropout, **freq_options)
            row = train_for_budget(model, _array_dataset(x_train, y_train, seed), x_val, y_val, args.budget)
            rows.append({"part": "speech", "arch": arch, "seed": seed, **row})
            print(json.dumps(rows[-1]), flush=True)
            keras.backend.clear_session()
    return rows


def go_runs(args):
    """The Go policy's trunks (plain, residual, mobile; the default preset's depth and width) on
    one KGS archive: top-1 on positions of held-out games after the same training time."""
    import keras

    import datasets
    from apps.go import ARCHITECTURES, PRESETS, packed, prepare
    from apps.go.models import build_policy
    from apps.go.visualize import DEFAULT_ARCHIVE
    archive = datasets.fetch_file("go-kgs", DEFAULT_ARCHIVE, args.data_dir)
    folder = Path(tempfile.mkdtemp(prefix="bench_go_"))
    prepare.prepare([archive], folder)
    packed.pack(folder, workers=os.cpu_count(), progress=lambda *_: None)
    files = packed.packed_files(folder, "train")
    x_val, y_val = prepare.GameRecords(folder, "validation").sample(4000, seed=0)
    num_layers, filters = PRESETS["default"]
    rows = []
    for arch in ARCHITECTURES:
        for seed in range(args.go_seeds):
            keras.utils.set_random_seed(seed)
            model = build_policy(num_layers, filters, arch=arch)
            train_ds = packed.packed_dataset(files, BATCH_SIZE, seed=seed)
            row = train_for_budget(model, train_ds, x_val.astype(np.float32), y_val, args.go_budget)
            rows.append({"part": "go", "arch": arch, "seed": seed, **row})
            print(json.dumps(rows[-1]), flush=True)
            keras.backend.clear_session()
    return rows


def summarize(rows):
    """One line per (part, arch): accuracy mean and sd over seeds, the other figures' means."""
    table = {}
    for row in rows:
        table.setdefault((row["part"], row["arch"]), []).append(row)
    summary = []
    for (part, arch), runs in table.items():
        accuracies = [r["accuracy"] for r in runs]
        summary.append({
            "part": part, "arch": arch, "seeds": len(runs), "accuracy_mean": statistics.mean(accuracies),
            "accuracy_sd": statistics.stdev(accuracies) if len(runs) > 1 else float("nan"),
            "parameters": runs[0]["parameters"], "mflops_per_example": runs[0]["mflops_per_example"],
            "train_examples_per_s": statistics.mean(r["train_examples_per_s"] for r in runs),
            "train_examples": statistics.mean(r["train_examples"] for r in runs),
            "latency_ms": statistics.median(r["latency_ms"] for r in runs)})
    return summary


def markdown_table(summary, part):
    lines = ["| architecture | parameters | MFLOPs / example | train examples/s | examples seen | "
             "latency, 1 example (ms) | accuracy (mean ± sd) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for s in sorted((s for s in summary if s["part"] == part), key=lambda s: -s["accuracy_mean"]):
        sd = "" if s["seeds"] < 2 else f" ± {s['accuracy_sd']:.4f}"
        lines.append(f"| `{s['arch']}` | {s['parameters']:,} | {s['mflops_per_example']:.1f} | "
                     f"{s['train_examples_per_s']:,.0f} | {s['train_examples']:,.0f} | {s['latency_ms']:.2f} | "
                     f"{s['accuracy_mean']:.4f}{sd} |")
    return "\n".join(lines)


def write_docs(path, summary, setup):
    """Replace each part's table between `<!-- table:PART -->` and `<!-- /table:PART -->`."""
    text = Path(path).read_text()
    for part in {s["part"] for s in summary}:
        pattern = re.compile(rf"(<!-- table:{part} -->\n).*?(<!-- /table:{part} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{path}: no <!-- table:{part} --> ... <!-- /table:{part} --> markers")
        body = f"_{setup[part]}_\n\n{markdown_table(summary, part)}\n"
        text = pattern.sub(lambda m: m.group(1) + body + m.group(2), text)
    Path(path).write_text(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=["image", "speech", "go"], default=["image", "speech", "go"])
    parser.add_argument("--budget", type=float, default=30, help="training seconds per image/speech run")
    parser.add_argument("--go-budget", type=float, default=120, help="training seconds per Go run")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--go-seeds", type=int, default=1)
    parser.add_argument("--image-width", type=int, default=32)
    parser.add_argument("--image-archs", nargs="+", help="default: all")
    parser.add_argument("--speech-archs", nargs="+", help="default: all")
    parser.add_argument("--data-dir")
    parser.add_argument("--json", help="write every run and the summary here")
    parser.add_argument("--write-docs", metavar="MD", help="replace the tables in this Markdown file")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    runners = {"image": image_runs, "speech": speech_runs, "go": go_runs}
    rows = [row for part in args.parts for row in runners[part](args)]
    summary = summarize(rows)
    for part in args.parts:
        print(f"\n{part}\n{markdown_table(summary, part)}")
    setup = {part: (f"{args.go_budget:.0f} s of training per run, {args.go_seeds} seed(s), "
                    if part == "go" else f"{args.budget:.0f} s of training per run, {args.seeds} seeds, ")
             + f"{os.cpu_count()} CPU cores, float32, batch {BATCH_SIZE}, Adam {LEARNING_RATE:g}"
             for part in args.parts}
    if args.json:
        Path(args.json).write_text(json.dumps({"setup": setup, "runs": rows, "summary": summary}, indent=1))
    if args.write_docs:
        write_docs(args.write_docs, summary, setup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
