"""The paper's benchmark protocol (`text crossval`): 10-fold cross-validation for MR, Subj,
CR and MPQA, TREC's standard test split.

Each fold trains with `apps.text.train.train_once` and is scored with `apps.text.predict`;
crossval.json is rewritten after every fold, so a stopped run reports (and `--resume`
continues) the folds it finished.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from apps.text import APP
from apps.text.predict import encode_texts, predict_probabilities
from apps.text.train import train_once
from shared import cli as common
from shared.errors import UserError


def crossval_task(args):
    """Score a configuration by the paper's protocol: 10-fold CV for MR, Subj, CR,
    MPQA (a tenth of each fold's training part is the dev set that picks the
    epoch); the standard test split for TREC (dev carved from train). Prints the
    mean accuracy (JSON with --json)."""
    import tensorflow as tf

    from apps.text.data import TASKS, cv_folds, load_pool, load_task
    from shared.evaluation import print_json_line
    from shared.modelio import load_model
    from shared.training import write_json

    spec = TASKS[args.task]
    started = time.time()
    results = []
    if spec["protocol"] == "test":
        splits = load_task(args.task, args.data_dir, seed=args.seed)
        runs = [(splits["train"], splits["dev"], splits["test"])]
    elif spec["protocol"] == "cv":
        texts, labels = load_pool(args.task, args.data_dir)
        runs = []
        folds = cv_folds(labels, args.folds, args.seed)[:args.run_folds or args.folds]
        for train_idx, test_idx in folds:
            rng = np.random.default_rng(args.seed)
            train_idx = rng.permutation(train_idx)
            n_dev = len(train_idx) // 10
            pick = lambda idx: ([texts[i] for i in idx], labels[idx])  # noqa: E731
            runs.append((pick(train_idx[n_dev:]), pick(train_idx[:n_dev]), pick(test_idx)))
    else:
        raise UserError(f"{args.task} has a fixed dev set: use `run.py text train` and `evaluate`")
    if args.resume:
        results, seconds_before = _finished_folds(args)
        started -= seconds_before
    for number, (train, dev, test) in enumerate(runs, 1):
        if number <= len(results):
            continue
        out = Path(args.out) / f"fold{number}"
        # --resume also continues the fold that was stopped mid-training (it has a checkpoint).
        fold_args = common.with_options(args, resume=args.resume and (out / "backup").is_dir())
        metrics, vocab, rule = train_once(fold_args, args.task, train, dev, out, verbose=0)
        model, meta = load_model(out / "model.keras", app=APP)
        _, ids = encode_texts(test[0], meta)
        accuracy = float((predict_probabilities(model, ids).argmax(1) == test[1]).mean())
        results.append({"fold": number, "test_accuracy": accuracy, "dev_accuracy": metrics["best_val_accuracy"],
                        "best_epoch": metrics["best_epoch"], "n_test": len(test[1])})
        print(f"{args.task} {args.arch} fold {number}/{len(runs)}: test accuracy {accuracy:.4f}", file=sys.stderr)
        # Written after every fold, so a run stopped early still reports the folds it finished.
        write_json(Path(args.out) / "crossval.json", crossval_summary(args, results, spec, started))
        tf.keras.backend.clear_session()
    summary = crossval_summary(args, results, spec, started)
    print(f"{args.task} {args.arch}: accuracy {summary['accuracy']:.4f} ({summary['protocol']})")
    if args.json:
        print_json_line(summary)
    return 0


def _finished_folds(args):
    """(folds, seconds) a stopped `crossval` in --out finished, checked to be of the same configuration:
    every option in the first fold's config.json (else the ones crossval.json records) must be unchanged."""
    path = Path(args.out) / "crossval.json"
    if not path.exists():
        return [], 0.0
    previous = json.loads(path.read_text())
    fold_config = Path(args.out) / "fold1" / "config.json"
    source, used = (fold_config, json.loads(fold_config.read_text())) if fold_config.exists() else (path, previous)
    common.check_same_options(args, used, source, ignore={"run_folds"})
    folds = previous["folds"]
    print(f"resuming: {len(folds)} fold(s) already finished in {path}", file=sys.stderr)
    return folds, previous.get("seconds", 0.0)


def crossval_summary(args, results, spec, started):
    """The crossval.json record: mean and standard deviation of the finished folds' test accuracies."""
    protocol = "test split" if spec["protocol"] == "test" else f"{len(results)} of {args.folds} CV folds"
    accuracies = [r["test_accuracy"] for r in results]
    return {"task": args.task, "arch": args.arch, "embedding": args.embedding, "mode": args.mode,
            "protocol": protocol, "accuracy": float(np.mean(accuracies)), "std": float(np.std(accuracies)),
            "n": int(sum(r["n_test"] for r in results)), "folds": results, "epochs": args.epochs,
            "patience": args.patience, "seconds": round(time.time() - started, 1)}
