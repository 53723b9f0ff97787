"""Speaker-grouped cross-validation (`speech cv`) and ensembles of finished cv runs (`speech cv-ensemble`).

Each fold trains with `apps.speech.train` on the other speakers and keeps its held-out
speakers' probabilities, so that ensembles of several runs are scored without training.
"""
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from apps.speech.train import augment_config, dataset_root, extra_train_items, feature_config, fit_arrays, fold_arrays
from shared import cli as common, overlap
from shared.errors import UserError


def cv_folds(items, folds):
    """[(fold name, held-out speakers)]: one fold per speaker (`folds` 0; scikit-learn's
    LeaveOneGroupOut), or `folds` groups of speakers (Speech Commands: many speakers) by
    their salted hash, as the dataset assigns its own splits, so that a speaker's fold never
    depends on which other speakers are present (scikit-learn's PredefinedSplit)."""
    from sklearn.model_selection import LeaveOneGroupOut, PredefinedSplit

    from apps.speech import data
    speakers = np.array([str(i[-1]) for i in items], dtype=object)
    if not folds:
        return [(speakers[held[0]], [speakers[held[0]]])
                for _, held in LeaveOneGroupOut().split(speakers, groups=speakers)]
    group = np.array([int(data.speaker_fraction(s) * folds) for s in speakers])
    return [(f"group{group[held[0]]}", sorted(set(speakers[held]))) for _, held in PredefinedSplit(group).split()]


def cross_validate(args):
    """Speaker-grouped cross-validation: train one model per fold with that fold's
    speakers held out (leave-one-speaker-out by default), all with the same options as
    `train`. Writes each fold's run to --out/fold-<name>/ and cv.json: per-fold best and
    last validation accuracy, the mean validation curve per epoch and the epoch count
    that maximises it (use it for `train --no-val`), and the mean accuracy at that epoch,
    the honest estimate for an unseen speaker. A CV can take hours: each finished fold is
    recorded (fold-<name>/fold.json), --time-budget stops after the epoch that passes it
    (over the whole CV), and --resume skips the recorded folds and continues the unfinished
    one from its checkpoint."""
    from apps.speech import examples
    from shared import training
    from shared.evaluation import print_json_line
    if args.dataset == "timit":
        raise UserError("--dataset timit: cv is for clip datasets (fsdd, commands)")
    config = feature_config(args)
    root = dataset_root(args.dataset, args.data, args.data_dir)
    items = examples.items(args.dataset, root)
    started = time.time()
    deadline = args.time_budget and training.clock() + args.time_budget * 60
    folds, resumed = [], []
    extra_items = extra_train_items(args, items)
    seen_in_training = _speakers_seen_outside_the_folds(args, extra_items)
    for name, held in cv_folds(items, args.folds):
        record = Path(args.out) / f"fold-{name}" / "fold.json"
        if args.resume and record.is_file():
            fold = json.loads(record.read_text())
            common.check_same_options(args, fold.pop("options"), record)
            folds.append(fold)
            resumed.append(name)
            print(f"fold {name}: recorded in {record}, not run again", flush=True)
            continue
        # the budget stops a cv after the epoch that passes it: never before this run has trained one
        if deadline and len(folds) > len(resumed) and training.clock() > deadline:
            return _cv_stopped(name)
        held = set(held)
        train_items = [i for i in items if i[-1] not in held]
        val_items = [i for i in items if i[-1] in held]
        x_train, y_train, x_val, y_val, context, extra = fold_arrays(args, config, root, items, train_items,
                                                                     val_items, extra_items=extra_items)
        x_val_tta = _framings(config, val_items, args.tta_vad_db) if args.tta_vad_db else []
        runs, probabilities, tta_probabilities = [], [], []
        for seed in range(args.seed, args.seed + args.seeds):
            out = Path(args.out) / f"fold-{name}" / (f"seed-{seed}" if args.seeds > 1 else "")
            # a seed whose run finished is trained again (its last-epoch model is not kept); an unfinished
            # one continues from its checkpoint
            run_args = common.with_options(args, seed=seed, resume=args.resume and (out / "backup").is_dir(),
                                           time_budget=deadline and _minutes_left(deadline))
            model, metrics = fit_arrays(run_args, config, x_train, y_train, x_val, y_val,
                                        context, extra, out)
            if metrics["unfinished"]:
                return _cv_stopped(name)
            runs.append(metrics)
            probabilities.append(model.predict(x_val, batch_size=256, verbose=0))
            if x_val_tta:
                tta_probabilities.append(np.mean([model.predict(x, batch_size=256, verbose=0) for x in x_val_tta],
                                                 axis=0))
        curves = [m["history"]["val_accuracy"] for m in runs]
        curve = [float(np.mean(c)) for c in zip(*curves)]  # a member's expected accuracy per epoch
        fold = {"fold": name, "val_speakers": len(held), "n": int(len(x_val)),
                "overlap": overlap.warn(overlap.check("clips", [i[-1] for i in val_items], seen_in_training),
                                        f"fold {name} (through --init-model or --extra-train)"),
                "best_val_accuracy": float(np.mean([m["best_val_accuracy"] for m in runs])),
                "best_epoch": int(np.argmax(curve)) + 1, "last_val_accuracy": curve[-1],
                "val_accuracy_per_epoch": curve, "train_seconds": sum(m["train_seconds_this_run"] for m in runs)}
        if args.seeds > 1:
            fold["ensemble_accuracy_by_seeds"] = _ensemble_accuracies(probabilities, y_val)
            fold["ensemble_accuracy"] = fold["ensemble_accuracy_by_seeds"][-1]
        if x_val_tta:
            fold["tta_accuracy"] = float(np.mean([_accuracy(p, y_val) for p in tta_probabilities]))
            if args.seeds > 1:
                fold["ensemble_tta_accuracy_by_seeds"] = _ensemble_accuracies(tta_probabilities, y_val)
                fold["ensemble_tta_accuracy"] = fold["ensemble_tta_accuracy_by_seeds"][-1]
        # the members' last-epoch probabilities, for ensembles across cv runs (`speech cv-ensemble`)
        np.savez_compressed(record.parent / "val_probabilities.npz", labels=y_val, last_epoch=np.stack(probabilities),
                            **({"framings": np.stack(tta_probabilities)} if x_val_tta else {}))
        training.write_json(record, {**fold, "options": common.training_config(args)})
        folds.append(fold)
        print(f"fold {name}: best {fold['best_val_accuracy']:.4f} (epoch {fold['best_epoch']}), "
              f"last {curve[-1]:.4f}, n={len(x_val)}"
              + (f", ensemble of {args.seeds} seeds {fold['ensemble_accuracy']:.4f}" if args.seeds > 1 else "")
              + (f", with --tta-vad-db {fold['tta_accuracy']:.4f}" if x_val_tta else "")
              + (f", ensemble with it {fold['ensemble_tta_accuracy']:.4f}" if x_val_tta and args.seeds > 1 else ""),
              flush=True)
    epochs = min(len(f["val_accuracy_per_epoch"]) for f in folds)
    mean_curve = [float(np.mean([f["val_accuracy_per_epoch"][e] for f in folds])) for e in range(epochs)]
    chosen = int(np.argmax(mean_curve))
    summary = {
        "dataset": args.dataset, "folds": len(folds), "per_fold": folds,
        "mean_best_val_accuracy": float(np.mean([f["best_val_accuracy"] for f in folds])),
        "mean_last_val_accuracy": float(np.mean([f["last_val_accuracy"] for f in folds])),
        "mean_val_accuracy_per_epoch": mean_curve, "chosen_epochs": chosen + 1,
        "accuracy": mean_curve[chosen], "min_fold_accuracy_at_chosen": float(
            min(f["val_accuracy_per_epoch"][chosen] for f in folds)),
        "n": int(sum(f["n"] for f in folds)), "seconds": round(time.time() - started, 1),
        "overlap": {"what": "clips", "checked": True, "items": sum(f["overlap"]["items"] for f in folds),
                    "of": sum(f["overlap"]["of"] for f in folds),
                    "examples": sorted({e for f in folds for e in f["overlap"]["examples"]})[:5]}
        if all(f.get("overlap", {}).get("checked") for f in folds) else None,
        "resumed_folds": resumed,  # read from their fold.json; "seconds" counts this run only
        **({"seeds": args.seeds, "ensemble_accuracy": float(np.mean([f["ensemble_accuracy"] for f in folds]))}
           if args.seeds > 1 else {}),
        **{key: float(np.mean([f[key] for f in folds])) for key in ("tta_accuracy", "ensemble_tta_accuracy")
           if key in folds[0]},
        **{key: np.mean([f[key] for f in folds], axis=0).tolist()
           for key in ("ensemble_accuracy_by_seeds", "ensemble_tta_accuracy_by_seeds") if key in folds[0]},
        "config": common.training_config(args, features=config.to_dict(),
                                         augment=dataclasses.asdict(augment_config(args))),
    }
    training.write_json(Path(args.out) / "cv.json", summary)
    print(f"cv: mean accuracy {summary['accuracy']:.4f} at epoch {chosen + 1} over {len(folds)} folds "
          f"(mean best {summary['mean_best_val_accuracy']:.4f}, mean last {summary['mean_last_val_accuracy']:.4f})"
          + (f"; ensembles of {args.seeds} seeds at epoch {epochs}: {summary['ensemble_accuracy']:.4f}"
             if args.seeds > 1 else "")
          + (f"; at epoch {epochs} with --tta-vad-db: {summary['tta_accuracy']:.4f}" if "tta_accuracy" in summary
             else "")
          + (f", ensembles with it {summary['ensemble_tta_accuracy']:.4f}" if "ensemble_tta_accuracy" in summary
             else ""))
    if args.json:
        print_json_line({k: v for k, v in summary.items() if k != "config"})
    return 0


def cv_ensemble(args):
    """The accuracy of an ensemble of the models of several finished `cv` runs of one dataset and
    fold split, e.g. networks of different widths or architectures: per fold, the mean of every
    member's last-epoch probabilities on the fold's held-out speakers (every seed of every run; each
    run read at its test-time framings where it has them, as its shipped model reads clips), then the
    mean over the folds. Cheap: it
    reads the probabilities each `cv` fold wrote (fold-*/val_probabilities.npz)."""
    from shared.evaluation import print_json_line
    runs = [Path(run) for run in args.runs]
    folds = None
    for run in runs:
        names = {p.parent.name for p in run.glob("fold-*/val_probabilities.npz")}
        if not names:
            raise UserError(f"{run}: no fold-*/val_probabilities.npz (written by `speech cv` for each finished fold)")
        folds = names if folds is None else folds & names
    if not folds:
        raise UserError(f"{', '.join(map(str, runs))}: no fold in common")
    saved = {name: [np.load(run / name / "val_probabilities.npz") for run in runs] for name in sorted(folds)}
    keys = ["framings" if all("framings" in saved[name][i] for name in saved) else "last_epoch"
            for i in range(len(runs))]
    per_fold = {}
    for name, files in saved.items():
        labels = files[0]["labels"]
        if any(not np.array_equal(f["labels"], labels) for f in files[1:]):
            raise UserError(f"{name}: the runs held out different clips (another dataset or fold split)")
        members = np.concatenate([f[key] for f, key in zip(files, keys)])
        per_fold[name] = {"n": int(len(labels)), "accuracy": _accuracy(members.mean(axis=0), labels),
                          "member_accuracies": [round(_accuracy(m, labels), 4) for m in members]}
        print(f"{name}: {len(members)} members, ensemble {per_fold[name]['accuracy']:.4f} (members "
              f"{' '.join(f'{a:.3f}' for a in per_fold[name]['member_accuracies'])}), n={len(labels)}")
    read_at = keys[0] if len(set(keys)) == 1 else keys
    summary = {"runs": [str(r) for r in runs], "folds": len(per_fold), "read_at": read_at,
               "accuracy": float(np.mean([f["accuracy"] for f in per_fold.values()])),
               "mean_member_accuracy": float(np.mean([np.mean(f["member_accuracies"]) for f in per_fold.values()])),
               "n": sum(f["n"] for f in per_fold.values()), "per_fold": per_fold}
    print(f"cv-ensemble: mean accuracy {summary['accuracy']:.4f} over {len(per_fold)} folds "
          f"({'with' if read_at == 'framings' else 'without' if read_at == 'last_epoch' else 'where saved, with'} "
          f"the framings; a member alone: "
          f"{summary['mean_member_accuracy']:.4f})")
    if args.json:
        print_json_line(summary)
    return 0


def _cv_stopped(fold):
    print(f"cv: --time-budget ran out in fold {fold}; the finished folds are recorded: run the same command "
          f"with --resume to continue", flush=True)
    return 0


def _accuracy(probabilities, y):
    return float(np.mean(np.argmax(probabilities, axis=1) == y))


def _ensemble_accuracies(probabilities, y):
    """The accuracy of the first 1, 2, ... K members' mean (what a smaller ensemble scores)."""
    return [_accuracy(np.mean(probabilities[:k], axis=0), y) for k in range(1, len(probabilities) + 1)]


def _framings(config, items, vad_dbs):
    """The features of clip `items` at each trim threshold (`features.vote_configs`), each
    normalised by speaker as `fold_arrays` does a validation split."""
    from apps.speech import examples, features
    out = []
    for framing in features.vote_configs(config, vad_dbs):
        x, _, speakers, _ = examples.clip_arrays(items, framing)
        out.append(features.normalise_by_speaker(x, speakers) if framing.speaker_norm else x)
    return out


def _speakers_seen_outside_the_folds(args, extra_items):
    """Speakers that every fold's model meets in training whatever it holds out: those of
    --extra-train folders and those the --init-model was trained on. A held-out speaker among
    them leaks into the estimate."""
    from apps.speech.train import training_speakers
    from shared.modelio import read_metadata
    seen = {speaker for *_, speaker in extra_items}
    if args.init_model:
        seen |= training_speakers(read_metadata(args.init_model)["config"]) or set()
    return seen


def _minutes_left(deadline):
    """A fold's budget: what is left of the cv's, in minutes; once that has run out, a budget
    that stops the fold after its first epoch (a positive one: no budget at all is None)."""
    from shared import training
    return max(deadline - training.clock(), 1e-9) / 60
