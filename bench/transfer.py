#!/usr/bin/env python3
"""Transfer learning, measured: from scratch vs frozen features vs fine-tuned, with little data.

What a network learned on one dataset is worth most where the next has few labels. This
trains each target three ways, over several seeds, and reports the mean and standard
deviation of the validation accuracy at the last epoch (the epoch is fixed, not picked on
the validation data):

- scratch: every weight freshly initialised;
- frozen: the source network's convolutions (and their batch norms, which then normalise
  with the source's statistics) are copied and kept (`--freeze conv`); the rest trains;
- fine-tuned: the same copy, then every layer trains (`--freeze none`).

(a) Fashion-MNIST from MNIST. The source is the shipped `models/image_mnist.keras` (its
architecture and width, from its config, are used for all three). 1,000 labelled images: a
stratified subset (100 per class, drawn by each seed) of the training part of the app's
split (`apps/image/data.train_val_split`, seed 1234, 5,000 validation images), scored on
those 5,000 validation images (the t10k test set is never read). Built and trained in
process with the app's model and recipe (AdamW, 5% warm-up then cosine decay, no
augmentation), because the app's `--limit` takes the first images rather than a stratified
draw.

(b) FSDD digits from Speech Commands words, through `run.py speech train`. The source's
features must match FSDD's 8 kHz ones (`apps.speech.train.FEATURE_AXES`); the shipped
Speech Commands model is computed at 16 kHz, so a short Speech Commands network is first
trained here at 8 kHz on the registered subset (`--sample-rate 8000 --no-val`), then FSDD
is trained with the app's default speaker-held-out validation (whole speakers held out).

    BEYOND_PIXELS_DATA=../shared/data nice python bench/transfer.py --out runs/transfer --json

Every run is seeded (`--seeds`); finished speech runs found in --out are read, not run again.
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WAYS = {"scratch": None, "frozen": "conv", "fine-tuned": "none"}  # way -> --freeze (None: no --init-model)
IMAGE_VAL_SIZE, SPLIT_SEED = 5000, 1234  # the app's defaults: the same validation images for every seed


def stratified(labels, count, seed):
    """Indices of `count` examples, the same number of each class, drawn by `seed`."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = count // len(classes)
    picked = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes]
    return rng.permutation(np.concatenate(picked))


def image_run(way, seed, source, source_config, train, val, args):
    """Validation accuracy of one Fashion-MNIST network trained `way`, after --image-epochs."""
    import keras

    from apps.image import cli, data, models
    from shared import training, transfer
    from shared.cli import parse_command

    training.set_seed(seed)
    network = ["--arch", source_config["arch"], "--width", source_config["width"],
               "--convs-per-stage", *source_config["convs_per_stage"]]
    options = parse_command(cli.register, ["train", "--dataset", "fashion", "--seed", seed, *network] + (
        ["--init-model", source, "--freeze", WAYS[way]] if WAYS[way] else []))
    model = models.build_model(options.arch, 10, width=options.width, augment=None, dataset="fashion",
                               convs_per_stage=options.convs_per_stage)
    if options.init_model:  # as `image train` does: the head starts fresh (clothes, not digits)
        cli.init_and_freeze(model, options, data.DATASETS["fashion"]["classes"])
    # a softmax on fixed features needs larger steps than a whole network (a linear probe's usual rate)
    rate = args.frozen_learning_rate if way == "frozen" else args.image_learning_rate
    steps = args.image_epochs * -(-len(train[0]) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=max(1, steps - steps // 20),
                                                      warmup_target=rate,
                                                      warmup_steps=steps // 20)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(data.make_dataset(*train, args.batch_size, shuffle=True, seed=seed), epochs=args.image_epochs,
              verbose=0)
    _, accuracy = model.evaluate(data.make_dataset(*val, 512), verbose=0)
    return {"accuracy": float(accuracy), "trainable_parameters": transfer.counts(model)["trainable_parameters"]}


def image_part(args, log):
    from apps.image import data
    from shared.modelio import read_metadata

    source = Path(args.image_source)
    source_config = read_metadata(source)["config"]
    x, y = data.load_split("fashion", "train", args.data_dir)
    (x_rest, y_rest), val = data.train_val_split(x, y, IMAGE_VAL_SIZE, SPLIT_SEED)
    results = {way: [] for way in args.ways}
    for seed in args.seeds:
        chosen = stratified(y_rest, args.image_labels, seed)
        for way in args.ways:
            started = time.time()
            result = image_run(way, seed, source, source_config, (x_rest[chosen], y_rest[chosen]), val, args)
            results[way].append(result)
            log(f"image {way} seed {seed}: {result['accuracy']:.4f} ({time.time() - started:.0f} s)")
    return {"task": f"Fashion-MNIST, {args.image_labels} labelled images, from {source.name}",
            "source": {k: source_config[k] for k in ("arch", "width", "convs_per_stage", "dataset")},
            "epochs": args.image_epochs, "batch_size": args.batch_size,
            "learning_rate": {"scratch": args.image_learning_rate, "frozen": args.frozen_learning_rate,
                              "fine-tuned": args.image_learning_rate}, "validation": f"{IMAGE_VAL_SIZE} held-out training images",
            **_summary(results)}


def speech_source(args, log):
    """A Speech Commands model whose features match FSDD's: the shipped one when they do, else
    one trained here at 8 kHz (its path, and how it was made)."""
    from apps.speech.cli import register
    from apps.speech.train import FEATURE_AXES, feature_config
    from shared.cli import parse_command
    from shared.modelio import read_metadata

    fsdd = feature_config(parse_command(register, ["train", "--dataset", "fsdd"]))
    shipped = REPO / "models" / "speech_commands.keras"
    theirs = read_metadata(shipped)["preprocessing"]["features"]
    differ = [k for k in FEATURE_AXES if theirs.get(k) != getattr(fsdd, k)]
    if not differ and not read_metadata(shipped)["config"].get("members"):
        return shipped, "the shipped models/speech_commands.keras"
    out = Path(args.out) / "speech" / f"commands8k_e{args.pretrain_epochs}"
    if not (out / "metrics.json").exists():
        log(f"the shipped Speech Commands model differs in {', '.join(differ) or 'structure (an ensemble)'}: "
            f"training one at {fsdd.sample_rate} Hz")
        _speech(["--dataset", "commands", "--sample-rate", fsdd.sample_rate, "--no-val",
                 "--epochs", args.pretrain_epochs, "--seed", SPLIT_SEED, "--out", out], args)
    return out / "model.keras", (f"Speech Commands (registered subset) at {fsdd.sample_rate} Hz, "
                                 f"{args.pretrain_epochs} epochs, every speaker")


def _speech(options, args):
    import run
    argv = ["speech", "train", "--filters", *args.speech_filters,
            *(["--data-dir", args.data_dir] if args.data_dir else []), *options]
    if run.main([str(item) for item in argv]) != 0:
        raise SystemExit(f"failed: run.py {' '.join(map(str, argv))}")


def speech_part(args, log):
    source, made = speech_source(args, log)
    results = {way: [] for way in args.ways}
    for seed in args.seeds:
        for way in args.ways:
            freeze = WAYS[way]
            out = Path(args.out) / "speech" / f"fsdd_{way}_e{args.speech_epochs}_seed{seed}"
            started = time.time()
            if not (out / "metrics.json").exists() or (out / "backup").exists():
                _speech(["--dataset", "fsdd", "--epochs", args.speech_epochs, "--seed", seed, "--out", out]
                        + (["--init-model", source, "--freeze", freeze] if freeze else []), args)
            metrics = json.loads((out / "metrics.json").read_text())
            config = json.loads((out / "config.json").read_text())
            results[way].append({"accuracy": metrics["history"]["val_accuracy"][-1],
                                 "trainable_parameters": config.get("trainable_parameters"),
                                 "val_speakers": config["val_speakers"]})
            log(f"speech {way} seed {seed}: {results[way][-1]['accuracy']:.4f} ({time.time() - started:.0f} s)")
    return {"task": "FSDD spoken digits (4 training speakers), from Speech Commands", "source": made,
            "epochs": args.speech_epochs, "validation": f"held-out speaker(s) {next(iter(results.values()))[0]['val_speakers']}",
            **_summary(results)}


def _summary(results):
    rows = {}
    for way, runs in results.items():
        accuracies = [r["accuracy"] for r in runs]
        rows[way] = {"mean": round(statistics.mean(accuracies), 4),
                     "sd": round(statistics.stdev(accuracies), 4) if len(accuracies) > 1 else None,
                     "runs": [round(a, 4) for a in accuracies],
                     "trainable_parameters": runs[0]["trainable_parameters"]}
    return {"results": rows}


def table(parts):
    ways = list(parts[0]["results"])
    lines = ["| target | " + " | ".join(ways) + " |", "|---" * (len(ways) + 1) + "|"]
    for part in parts:
        cells = []
        for way in ways:
            row = part["results"][way]
            sd = "" if row["sd"] is None else f" ± {row['sd']:.3f}"
            cells.append(f"{row['mean']:.3f}{sd}")
        lines.append(f"| {part['task']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/transfer", help="run folders of the speech part (default: %(default)s)")
    parser.add_argument("--parts", nargs="+", choices=["image", "speech"], default=["image", "speech"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--batch-size", type=int, default=32, help="of the image networks")
    parser.add_argument("--image-source", default=str(REPO / "models" / "image_mnist.keras"))
    parser.add_argument("--image-labels", type=int, default=1000, help="labelled Fashion-MNIST images")
    parser.add_argument("--image-epochs", type=int, default=10)
    parser.add_argument("--image-learning-rate", type=float, default=2e-3, help="scratch and fine-tuned "
                        "(the app's default)")
    parser.add_argument("--frozen-learning-rate", type=float, default=1e-2, help="frozen features")
    parser.add_argument("--ways", nargs="+", choices=list(WAYS), default=list(WAYS))
    parser.add_argument("--pretrain-epochs", type=int, default=8, help="the 8 kHz Speech Commands network")
    parser.add_argument("--speech-epochs", type=int, default=4)
    parser.add_argument("--speech-filters", nargs=2, default=["32", "64"], help="both speech networks'")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line, last")
    args = parser.parse_args()

    def log(message):
        print(message, file=sys.stderr, flush=True)

    started = time.time()
    parts = [{"image": image_part, "speech": speech_part}[name](args, log) for name in args.parts]
    print(table(parts))
    print(f"({len(args.seeds)} seeds; {(time.time() - started) / 60:.1f} min)")
    if args.json:
        print(json.dumps({"parts": parts, "seeds": args.seeds, "minutes": round((time.time() - started) / 60, 1)}))


if __name__ == "__main__":
    main()
