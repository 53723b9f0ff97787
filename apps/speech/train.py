"""Training a speech CNN: the features of a speaker split (cached, augmented), then the fit.

`train_model` is `python run.py speech train`; `fold_arrays` and `fit_arrays` are also the
steps of each fold of `speech cv` (apps/speech/crossval.py).
"""
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from apps.speech import APP
from shared import cli as common
from shared.errors import UserError


def _save_fn(preprocessing):
    from shared.modelio import save_model

    def save(model, path, config=None):
        return save_model(model, path, app=APP, preprocessing=preprocessing, config=config)
    return save


def feature_config(args):
    """The FeatureConfig of a train/cv command line (the dataset's defaults plus its flags), checked."""
    from apps.speech.examples import DEFAULT_FEATURES
    from shared.transfer import check_options
    if args.init_layers and not args.init_model:  # checked first: before any data is read
        raise UserError("--init-layers: give the model to copy them from with --init-model")
    check_options(args.init_model, args.freeze)
    if args.speaker_norm and args.dataset == "timit":
        raise UserError("--speaker-norm: for clip datasets (fsdd, commands)")
    check_tta(args.tta_vad_db, [args.placement] if args.dataset != "timit" else [])
    config = dataclasses.replace(DEFAULT_FEATURES[args.dataset], deltas=args.deltas, n_mels=args.n_mels,
                                 cmvn=args.cmvn, floor_db=args.floor_db, vad_db=args.vad_db,
                                 speaker_norm=args.speaker_norm,
                                 placement=args.placement if args.dataset != "timit" else "centre")
    if args.sample_rate:
        if args.sample_rate < 2 * config.fmin + 1000:
            raise UserError(f"--sample-rate {args.sample_rate}: too low for mel bands from {config.fmin:g} Hz")
        config = dataclasses.replace(config, sample_rate=args.sample_rate,
                                     fmax=min(config.fmax or args.sample_rate / 2, args.sample_rate / 2))
    return config


def check_tta(vad_dbs, placements):
    """--tta-vad-db: thresholds above 0 dB, and only where the trim threshold frames the word
    (a model, or one of an ensemble's inputs, of placement fit)."""
    if vad_dbs and "fit" not in placements:
        raise UserError("--tta-vad-db: the trim threshold frames the word only with --placement fit (clip datasets)")
    if any(v <= 0 for v in vad_dbs):
        raise UserError(f"--tta-vad-db {' '.join(f'{v:g}' for v in vad_dbs)}: thresholds are dB below the loudest "
                        "frame, above 0")


def augment_config(args):
    """The waveform augmentation of the command line's variants (apps/speech/augment.py)."""
    from apps.speech.augment import AugmentConfig
    return AugmentConfig(speed_range=tuple(args.speed_range), max_shift_s=args.max_shift,
                         random_placement=args.random_placement, trim_db=tuple(args.trim_db or ()))


def _feature_augment_config(args):
    from apps.speech.feature_augment import FeatureAugmentConfig
    return FeatureAugmentConfig(vtlp=tuple(args.vtlp or ()), freq_masks=args.freq_masks,
                                freq_mask_bands=args.freq_mask_bands, time_masks=args.time_masks,
                                time_mask_frames=args.time_mask_frames)


def dataset_root(dataset, path, data_dir):
    """--data if given, else the registry's archive found via --data-dir/$BEYOND_PIXELS_DATA."""
    from apps.speech import data
    return data.resolve(path) if path else data.default_root(dataset, data_dir)


def training_arrays(args, config, log=print):
    """(x_train, y_train, x_val, y_val, context, extra config) for `args.dataset`."""
    from apps.speech import data, examples
    if getattr(args, "split", "speaker") == "standard":  # the dataset's published split
        if args.data:
            raise UserError("--split standard reads the published release through the registry; drop --data")
        train_items, val_items, _ = data.standard_split(args.dataset, args.data_dir)
        if args.no_val:
            train_items, val_items = train_items + val_items, []
        root = data.standard_root(args.dataset, args.data_dir)
        items = train_items + val_items
        return fold_arrays(args, config, root, items, train_items, val_items, log, extra_train_items(args, items))
    root = dataset_root(args.dataset, args.data, args.data_dir)
    items = examples.items(args.dataset, root)
    if args.no_val:
        train_items, val_items = items, []
    else:
        train_items, val_items = data.split_by_speaker(items, args.val_speakers, args.val_fraction)
    return fold_arrays(args, config, root, items, train_items, val_items, log, extra_train_items(args, items))


def extra_train_items(args, items):
    """The clips of --extra-train folders; their speakers must be new (a speaker is never on both sides)."""
    from apps.speech import data, examples
    if args.extra_train and args.dataset == "timit":
        raise UserError("--extra-train: for clip datasets (fsdd, commands)")
    read = data.fsdd_extra_items if args.dataset == "fsdd" else lambda root: examples.items(args.dataset, root)
    extra = [i for folder in args.extra_train for i in read(data.resolve(folder))]
    shared = sorted({i[-1] for i in extra} & {i[-1] for i in items})
    if shared:
        raise UserError(f"--extra-train: speakers also in the dataset: {', '.join(shared[:5])}")
    return extra


def fold_arrays(args, config, root, items, train_items, val_items, log=print, extra_items=()):
    """Arrays of one speaker split. Clip features (and, without noise files, augmented
    variants) are computed for all `items` once, cached, and sliced: the folds of `cv`
    and later `train` runs share them. Only training clips' variants are ever used.
    `extra_items` (--extra-train) join the training clips; the speaker-norm stand-in
    statistics stay those of the dataset's own training speakers."""
    from apps.speech import data, examples, feature_augment, features
    real_train_paths = {str(i[0]) for i in train_items}
    items, train_items = list(items) + list(extra_items), list(train_items) + list(extra_items)
    spec = _feature_augment_config(args)
    if spec.active and (not args.augment_copies or args.dataset == "timit"):
        raise UserError("--vtlp and the masks change the augmented variants of clips: add --augment-copies N "
                        "(clip datasets only)")
    if args.limit:
        rng = np.random.default_rng(args.seed)
        train_items = [train_items[i] for i in sorted(rng.permutation(len(train_items))[:args.limit])]
    real_train_items = [i for i in train_items if str(i[0]) in real_train_paths]
    extra = {"train_speakers": sorted({i[-1] for i in real_train_items}),
             "val_speakers": sorted({i[-1] for i in val_items}), "data_root": str(root)}
    if extra_items:
        extra.update(extra_train_clips=len(extra_items), extra_train_speakers=len({i[-1] for i in extra_items}))
    if args.dataset == "timit":
        context = args.context or 11
        x_train, y_train, errors = examples.frame_arrays(train_items, config, context)
        x_val, y_val, errors_val = examples.frame_arrays(val_items, config, context)
    else:
        context = args.context or 9
        log(f"features: {len(train_items)} training and {len(val_items)} validation clips")
        pool = items if args.limit is None else train_items + val_items
        x_all, kept, errors = features.batch_features([i[0] for i in pool], config, workers=args.workers,
                                                      progress=True)
        y_all = np.array([pool[k][1] for k in kept], dtype=np.int64)
        row = {str(pool[k][0]): r for r, k in enumerate(kept)}
        errors_val = []

        def rows(subset):
            return np.array([row[str(i[0])] for i in subset if str(i[0]) in row], dtype=np.int64)
        train_rows, val_rows = rows(train_items), rows(val_items)
        if config.speaker_norm:
            speakers = np.array([pool[k][-1] for k in kept])
            real = rows(real_train_items)
            real = real if len(real) else train_rows
            extra["speaker_stats"] = features.average_speaker_statistics(x_all[real], speakers[real])
            x_all = features.normalise_by_speaker(x_all, speakers)
        x_train, y_train = x_all[train_rows], y_all[train_rows]
        x_val, y_val = x_all[val_rows], y_all[val_rows]
        if args.augment_copies:
            started = time.time()
            train_paths = {str(i[0]) for i in train_items}
            noises = data.background_noise_files(root) if args.dataset == "commands" else []
            noises = [p for p in noises if str(p) in train_paths] or \
                [p for p in noises if p.parent.name == "_background_noise_"]
            source = pool if not noises else train_items  # noise clips of other folds must not leak in
            x_aug, y_aug, owner = examples.augmented_clip_arrays(source, config, args.augment_copies, args.seed,
                                                                 noises, augment_config(args))
            use = np.array([str(source[o][0]) in train_paths for o in owner], dtype=bool)
            if config.speaker_norm:  # a speaker's variants together: one more recording condition of that speaker
                x_aug = features.normalise_by_speaker(x_aug, [source[o][-1] for o in owner])
            if spec.active:  # the same warps and masks for a clip's variants in every fold
                x_aug = feature_augment.augment_features(x_aug, np.random.default_rng(args.seed), spec,
                                                         config.fmin, config.fmax or config.sample_rate / 2)
                extra["feature_augment"] = dataclasses.asdict(spec)
            x_train = np.concatenate([x_train, x_aug[use]])
            y_train = np.concatenate([y_train, y_aug[use]])
            extra["augment_noise_sources"] = len(noises)
            log(f"augmentation: {int(use.sum())} variants in {time.time() - started:.0f} s")
    for message in errors + errors_val:
        print(f"skipped: {message}", file=sys.stderr)
    extra.update(train_examples=int(len(x_train)), val_examples=int(len(x_val)), skipped_files=len(errors + errors_val))
    return x_train, y_train, x_val, y_val, context, extra


def _dataset(x, y, batch_size, shuffle=False, seed=0, num_classes=None, mixup_alpha=0.0):
    """Batches of (x, class index), or of one-hot labels (mixed up, with `mixup_alpha`) given `num_classes`."""
    import tensorflow as tf

    from shared.training import one_hot_labels
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if num_classes:
        ds = one_hot_labels(ds, num_classes, mixup_alpha, seed)
    return ds.prefetch(tf.data.AUTOTUNE)


def train_model(args):
    """Train a frequency-axis CNN (or the 2D baseline) on FSDD, Speech Commands or TIMIT
    frames, validating on whole held-out speakers. Writes model.keras (best validation
    epoch, with its feature settings inside; the last epoch with --no-val), config.json,
    metrics.json, log.csv and TensorBoard logs to --out."""
    config = feature_config(args)
    x_train, y_train, x_val, y_val, context, extra = training_arrays(args, config)
    _, metrics = fit_arrays(args, config, x_train, y_train, x_val, y_val, context, extra, args.out)
    if metrics.get("best_val_accuracy") is not None:
        print(f"best val_accuracy {metrics['best_val_accuracy']:.4f} at epoch {metrics['best_epoch']} "
              f"({len(x_val)} validation examples of speakers {', '.join(extra['val_speakers'][:8])}"
              f"{'...' if len(extra['val_speakers']) > 8 else ''}); model: {metrics['model']}")
    else:
        print(f"trained on all {len(extra['train_speakers'])} speakers for {metrics['last_epoch']} epochs "
              f"(training accuracy {metrics['history']['accuracy'][-1]:.4f}); model: {metrics['model']}")
    return 0


def fit_arrays(args, config, x_train, y_train, x_val, y_val, context, extra, out):
    """Build, compile and fit the model of `args` on arrays; returns the model as trained (its last
    epoch) and `training.fit`'s metrics."""
    import keras

    from apps.speech import examples, models
    from shared import training, transfer
    from shared.modelio import copy_matching_layers

    training.set_seed(args.seed)
    training.set_precision(args.mixed_bfloat16)
    names = examples.class_names(args.dataset)
    # `train` has --distribute, `cv` does not; the model is built and trained under the strategy
    with training.distribution(getattr(args, "distribute", "none")) as strategy:
        options = {} if args.arch in ("trad-fpool3", "ds-cnn", "residual") else dict(
            context=context, time_bins=1 if args.dataset == "timit" else args.time_bins,
            context_stride=1 if args.dataset == "timit" else args.context_stride,
            filters=tuple(args.filters), hidden=args.hidden)
        model = models.build_model(args.arch, x_train.shape[1:], len(names), normalizer_data=x_train,
                                   dropout=args.dropout, frontend=args.frontend, **options)
        steps = args.epochs * -(-len(x_train) // args.batch_size)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(1, steps - steps // 20), warmup_target=args.learning_rate, warmup_steps=steps // 20)
        # label smoothing and mixup train on one-hot (soft) labels; plain runs keep the sparse loss
        soft = len(names) if args.label_smoothing or args.mixup else None
        loss = (keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing) if soft
                else "sparse_categorical_crossentropy")
        frozen = []
        if args.init_model:  # copied and frozen before compile: Keras reads `trainable` when compiling
            copied, fresh = copy_matching_layers(model, args.init_model, APP, check=_same_features_as(config),
                                                 prefixes=args.init_layers)
            print(f"init: {len(copied)} layers from {args.init_model} ({', '.join(copied)}); fresh: "
                  f"{', '.join(fresh) or 'none'}", flush=True)
            frozen = transfer.freeze(model, args.freeze, copied=copied)
            print(transfer.describe(model, args.freeze, frozen), flush=True)
        model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4), loss=loss, metrics=["accuracy"])
        run_config = common.training_config(args, **extra, context=context, parameters=model.count_params(),
                                            frozen_layers=frozen,
                                            trainable_parameters=transfer.counts(model)["trainable_parameters"],
                                            features=config.to_dict(), augment=dataclasses.asdict(augment_config(args)))
        run_config["out"] = str(out)
        preprocessing = {"dataset": args.dataset, "task": "frames" if args.dataset == "timit" else "clips",
                         "class_names": names, "features": config.to_dict(), "context": context}
        if "speaker_stats" in extra:
            preprocessing["speaker_stats"] = extra["speaker_stats"]
        if args.tta_vad_db:
            preprocessing["tta_vad_db"] = list(args.tta_vad_db)
        save = _save_fn(preprocessing)
        has_val = len(x_val) > 0
        fit_options = dict(out_dir=out, epochs=args.epochs, config=run_config, save=lambda m, p: save(m, p, run_config),
                           resume=args.resume, patience=args.patience if has_val else None,
                           monitor="val_accuracy" if has_val else "loss", mode="max" if has_val else "min",
                           time_budget_s=args.time_budget and args.time_budget * 60)
        train_batches = _dataset(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed, num_classes=soft,
                                 mixup_alpha=args.mixup)
        val_batches = _dataset(x_val, y_val, 256, num_classes=soft) if has_val else None
        if training.needs_custom_loop(strategy):
            metrics = training.distributed_fit(model, train_batches, val_batches, strategy=strategy,
                                               batch_size=args.batch_size, seed=args.seed, **fit_options)
        else:
            metrics = training.fit(model, train_batches, val_batches, verbose=2, **fit_options)
    from shared.distribute import is_chief
    if not has_val and is_chief(strategy):  # no validation to pick an epoch: ship the last one, as `cv` chose
        # the count
        save(model, Path(out) / "model.keras", run_config)
        metrics["saved_epoch"] = metrics["last_epoch"]
        training.write_json(Path(out) / "metrics.json", metrics)
    return model, metrics


FEATURE_AXES = ("sample_rate", "n_mels", "fmin", "fmax", "win_ms", "hop_ms", "deltas")


def _same_features_as(config):
    """--init-model's check: the source model's filters must see the same bands and channels."""
    def check(meta):
        theirs = meta["preprocessing"]["features"]
        differ = [f"{k} {theirs.get(k)} (this run: {getattr(config, k)})" for k in FEATURE_AXES
                  if theirs.get(k) != getattr(config, k)]
        if differ:
            raise UserError(f"--init-model: its features differ: {', '.join(differ)} (see --sample-rate)")
    return check


def training_speakers(config):
    """The real speakers a model was trained on (an ensemble's: all its members'), from its
    saved config; None when the config does not say."""
    if "members" in config:
        member_speakers = [training_speakers(member.get("config", {})) for member in config["members"]]
        return None if any(s is None for s in member_speakers) else set().union(*member_speakers)
    if "train_speakers" in config:
        return set(config["train_speakers"])
    if "source_config" in config:
        return training_speakers(config["source_config"])
    return None


def speaker_overlap(config, items):
    """The `overlap` entry (shared.overlap) of scoring `items` (path, label, speaker) with a
    model whose saved config is `config`: clips of speakers it was trained on."""
    from shared import overlap
    return overlap.check("clips", [speaker for *_, speaker in items], training_speakers(config),
                         "the model file does not record its training speakers")
