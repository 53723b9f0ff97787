"""`python run.py speech ...`: frequency-axis CNNs for spoken digits, keywords and phones.

    python run.py speech train --dataset fsdd --arch freq --val-speakers nicolas --out runs/fsdd
    python run.py speech evaluate --model models/speech_fsdd.keras --data DIR --json
    python run.py speech predict --model models/speech_commands.keras clip.wav long.flac
    python run.py speech saliency --model models/speech_fsdd.keras clip.wav --out saliency.png
    python run.py speech visualize --model models/speech_fsdd.keras --out viz/
"""
import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from shared import cli as common
from shared.errors import UserError

APP = "speech"
SILENCE_LABEL = "(silence)"


def register(subparsers):
    train = subparsers.add_parser("train", help="train a speech CNN", description=train_model.__doc__)
    _add_train_args(train)
    train.add_argument("--no-val", action="store_true",
                       help="train on every speaker (no validation; the last epoch is saved): for the "
                       "shipped model, with the epoch count chosen by `cv`")
    train.set_defaults(func=train_model)

    cv = subparsers.add_parser("cv", help="speaker-grouped cross-validation", description=cross_validate.__doc__)
    _add_train_args(cv)
    cv.add_argument("--folds", type=int, default=0,
                    help="0: leave one speaker out (FSDD); k: k groups of speakers by a salted hash")
    cv.add_argument("--seeds", type=common.positive_int, default=1,
                    help="models per fold, seeds --seed, --seed+1, ...: the curves are their mean, and "
                         "ensemble_accuracy scores the average of their last-epoch probabilities "
                         "(what `speech ensemble` of `train --no-val` runs ships)")
    cv.add_argument("--json", action="store_true", help="print the summary as one JSON line, last on stdout")
    cv.set_defaults(func=cross_validate)

    combine = subparsers.add_parser("cv-ensemble", help="accuracy of an ensemble of several cv runs' models",
                                    description=cv_ensemble.__doc__)
    combine.add_argument("runs", nargs="+", metavar="CV_DIR", help="--out folders of finished `speech cv` runs")
    combine.add_argument("--json", action="store_true", help="print the summary as one JSON line, last on stdout")
    combine.set_defaults(func=cv_ensemble)

    evaluate = subparsers.add_parser("evaluate", help="accuracy on a dataset folder",
                                     description=evaluate_model.__doc__)
    common.add_evaluate_args(evaluate, "folder (or .tar.gz) in the dataset's original layout: FSDD recordings, "
                             "Speech Commands class folders, or a TIMIT tree with .phn files")
    evaluate.add_argument("--val-speakers", nargs="*",
                          help="score only these speakers' files (e.g. the validation speaker)")
    evaluate.add_argument("--val-fraction", type=float, default=None,
                          help="score only the hash-split validation speakers (as in train)")
    evaluate.add_argument("--lone-clips", action="store_true",
                          help="speaker-norm models: score each clip as `predict` does a lone file, with the "
                          "training speakers' average statistics instead of its own speaker's")
    evaluate.set_defaults(func=evaluate_model)

    predict = subparsers.add_parser("predict", help="labels for audio files", description=predict_files.__doc__)
    predict.add_argument("--model", required=True, help="a .keras model saved by `speech train` or `export`")
    predict.add_argument("files", nargs="+", help="WAV/FLAC/OGG files, any sample rate and channel count")
    predict.add_argument("--top", type=common.positive_int, default=3,
                         help="labels shown per file (default: %(default)s; one per window of a long recording)")
    predict.add_argument("--hop", type=float, default=0.5,
                         help="a file longer than 1.5 clips is classified in clip-long windows, one every HOP "
                              "seconds (default: %(default)s; at most the clip length)")
    predict.add_argument("--json", action="store_true", help="one JSON object per file")
    predict.add_argument("--same-speaker", action="store_true",
                         help="speaker-norm models: the clips given are one speaker's, so normalise them with "
                         "their own statistics (better with more clips; default: the training speakers' average)")
    predict.set_defaults(func=predict_files)

    common.add_ensemble_parser(subparsers, ensemble_models, "with the same classes and features")

    from apps.speech import synth as voices  # light (numpy); the engine names live there
    synth = subparsers.add_parser("synth", help="synthetic voices (espeak-ng, flite, MBROLA) saying a dataset's words",
                                  description=synth_command.__doc__)
    synth.add_argument("--dataset", choices=("fsdd", "commands"), default="fsdd")
    synth.add_argument("--voices", type=common.positive_int, default=200, help="voices (default: %(default)s)")
    synth.add_argument("--engines", nargs="+", choices=voices.ALL_ENGINES, default=list(voices.ENGINES),
                       help="engines (mbrola: Debian contrib, see apps/speech/synth.py)")
    synth.add_argument("--unknown-per-voice", type=int, default=2,
                       help="commands: other words per voice for the _unknown_ class (default: %(default)s)")
    synth.add_argument("--seed", type=int, default=0, help="voice sampling seed (voice names carry it)")
    synth.add_argument("--foreign-share", type=common.fraction, default=0.0,
                       help="share of the espeak-ng voices speaking English with a foreign accent "
                            "(German, French, Greek, ... phoneme tables; default: %(default)s)")
    synth.add_argument("--workers", type=common.positive_int, default=2, help="engine processes at once")
    synth.add_argument("--out", required=True, help="folder to write (then: train --extra-train FOLDER)")
    synth.set_defaults(func=synth_command)

    export = subparsers.add_parser("export", help="copy a trained model without its optimizer state",
                                   description=export_model.__doc__)
    export.add_argument("--model", required=True, help="a model saved by `speech train` (with optimizer state)")
    export.add_argument("--out", required=True, help="the .keras file to write (weights and config only)")
    export.add_argument("--tta-vad-db", type=float, nargs="+", metavar="DB",
                        help="set the trim thresholds the model averages its predictions over (as train's option)")
    export.set_defaults(func=export_model)

    saliency = subparsers.add_parser("saliency", help="spectrogram PNG with the model's saliency",
                                     description=saliency_command.__doc__)
    saliency.add_argument("--model", required=True, help="a .keras model saved by `speech train` or `export`")
    saliency.add_argument("file", help="a WAV/FLAC/OGG clip, any sample rate and channel count")
    saliency.add_argument("--out", default="saliency.png", help="PNG to write (default: %(default)s)")
    saliency.set_defaults(func=saliency_command)

    from apps.speech import visualize
    show = subparsers.add_parser("visualize", help="saliency, Grad-CAM, filters, tone responses, activations, "
                                 "maximizing spectrograms", description=visualize.run.__doc__)
    visualize.add_arguments(show)
    show.set_defaults(func=visualize.run)


def _add_train_args(train):
    from apps.speech.examples import DATASETS
    from apps.speech.models import ARCHITECTURES
    train.add_argument("--dataset", choices=DATASETS, default="fsdd")
    train.add_argument("--data", help="dataset folder or .tar.gz in its original layout "
                       "(default: the registry's archive, found via --data-dir/$BEYOND_PIXELS_DATA)")
    train.add_argument("--arch", choices=ARCHITECTURES, default="freq",
                       help="freq: frequency-axis CNN (full weight sharing); freq-lws: limited weight "
                       "sharing; trad-fpool3: Sainath & Parada's 2D baseline")
    train.add_argument("--val-speakers", nargs="*", help="speakers held out for validation "
                       "(default: a salted hash of the speaker picks --val-fraction of them)")
    train.add_argument("--val-fraction", type=float, default=0.2)
    train.add_argument("--context", type=common.positive_int, default=None,
                       help="frames in a context window (default: 9 for clips, 11 for TIMIT frames)")
    train.add_argument("--context-stride", type=common.positive_int, default=3,
                       help="frames between context windows of a clip (clip tasks)")
    train.add_argument("--time-bins", type=common.positive_int, default=3,
                       help="segments of the final max-pooling over time (clip tasks)")
    train.add_argument("--filters", type=common.positive_int, nargs=2, default=(64, 64))
    train.add_argument("--hidden", type=common.positive_int, default=256)
    train.add_argument("--dropout", type=float, default=0.3)
    train.add_argument("--augment-copies", type=int, default=0,
                       help="random variants per training clip (time shift, noise at 5-20 dB SNR, "
                       "speed, pitch +-2 semitones), added to the originals")
    train.add_argument("--speed-range", type=float, nargs=2, default=(0.75, 1.25),
                       help="speed perturbation factors of augmented variants (default: %(default)s)")
    train.add_argument("--max-shift", type=float, default=0.1, help="time shift of augmented variants, seconds")
    train.add_argument("--trim-db", type=float, nargs=2, metavar=("LOW", "HIGH"),
                       help="trim half the augmented variants' quiet ends at a random LOW..HIGH dB below their "
                       "peak, as a corpus trimmed to minimal silence loses weak onsets (e.g. 15 35; default off)")
    train.add_argument("--random-placement", action="store_true",
                       help="augmented variants sit anywhere in the window the clip fits (no position cue)")
    train.add_argument("--vtlp", type=float, nargs=2, metavar=("LOW", "HIGH"),
                       help="warp the mel axis of augmented variants by a random factor in LOW..HIGH "
                       "(vocal tract length perturbation, e.g. 0.9 1.1; default off)")
    train.add_argument("--freq-masks", type=int, default=0, help="SpecAugment: frequency masks per augmented variant")
    train.add_argument("--freq-mask-bands", type=int, default=0, help="widest frequency mask, in mel bands")
    train.add_argument("--time-masks", type=int, default=0, help="SpecAugment: time masks per augmented variant")
    train.add_argument("--time-mask-frames", type=int, default=0, help="widest time mask, in frames")
    train.add_argument("--label-smoothing", type=common.fraction, default=0.0,
                       help="train on labels smoothed by this much (e.g. 0.1; default off)")
    train.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                       help="mixup: blend each training example with another of its batch, features and labels, "
                       "by a Beta(ALPHA, ALPHA) weight (e.g. 0.2; default off)")
    train.add_argument("--deltas", type=int, choices=(0, 1, 2), default=2)
    train.add_argument("--n-mels", type=common.positive_int, default=40)
    train.add_argument("--cmvn", action="store_true",
                       help="per-utterance mean/variance normalisation of each mel band over the voiced frames")
    train.add_argument("--speaker-norm", action="store_true",
                       help="per-speaker mean/variance normalisation of each mel band, with statistics over all of "
                       "the speaker's clips (evaluate uses each speaker's own; predict --same-speaker, or else the "
                       "training speakers' average); clip datasets")
    train.add_argument("--sample-rate", type=common.positive_int, default=None,
                       help="resample clips to this rate, mel bands up to half of it (default: the dataset's, "
                       "8000 for FSDD, 16000 for the others); e.g. 8000 to pretrain on Speech Commands for FSDD")
    train.add_argument("--extra-train", nargs="+", metavar="DIR", default=[],
                       help="more training clips in the dataset's layout (e.g. `speech synth` voices): added to "
                            "every training split, never validated on. FSDD also takes a Speech Commands folder "
                            "or archive: its spoken digits (zero ... nine)")
    train.add_argument("--init-model", metavar="MODEL",
                       help="warm start (transfer): copy the weights of every layer of MODEL (a speech model) whose "
                       "name and shape match, e.g. the conv layers of a Speech Commands model into an FSDD one; "
                       "a softmax with another class count starts fresh. Its features must be computed alike")
    train.add_argument("--init-layers", nargs="+", metavar="PREFIX",
                       help="with --init-model: copy only the layers whose names start with these, e.g. `conv` "
                       "for the convolutions (default: every matching layer)")
    train.add_argument("--floor-db", type=float, default=0.0,
                       help="clamp log-mel energies to this many dB below the clip's loudest (0: off)")
    train.add_argument("--placement", choices=("centre", "fit"), default="centre",
                       help="centre: pad/crop the clip to 1 s around its middle; fit: trim silence and "
                       "stretch the word to the window (no duration or position cue)")
    train.add_argument("--vad-db", type=float, default=40.0,
                       help="placement fit: keep the frames from the first to the last within this many dB of "
                       "the loudest (default: %(default)s; larger keeps quiet fricatives such as the /s/ of 'six')")
    train.add_argument("--tta-vad-db", type=float, nargs="+", metavar="DB", default=[],
                       help="placement fit: the model predicts each clip framed at each of these trim thresholds "
                       "and averages the probabilities (test-time augmentation, e.g. 30 35 40 45 50; saved in the "
                       "model; `cv` reports tta_accuracy at the last epoch)")
    train.add_argument("--workers", type=common.positive_int, default=1, help="feature extraction processes")
    common.add_data_dir(train)
    common.add_training_args(train, epochs=30, batch_size=64, learning_rate=2e-3, out="runs/speech")


def _save_fn(preprocessing):
    from shared.modelio import save_model

    def save(model, path, config=None):
        return save_model(model, path, app=APP, preprocessing=preprocessing, config=config)
    return save


def _feature_config(args):
    import dataclasses

    from apps.speech.examples import DEFAULT_FEATURES
    if args.init_layers and not args.init_model:  # checked first: before any data is read
        raise UserError("--init-layers: give the model to copy them from with --init-model")
    if args.speaker_norm and args.dataset == "timit":
        raise UserError("--speaker-norm: for clip datasets (fsdd, commands)")
    _check_tta(args.tta_vad_db, args.placement if args.dataset != "timit" else "centre")
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


def _check_tta(vad_dbs, placement):
    if vad_dbs and placement != "fit":
        raise UserError("--tta-vad-db: the trim threshold frames the word only with --placement fit (clip datasets)")
    if any(v <= 0 for v in vad_dbs):
        raise UserError(f"--tta-vad-db {' '.join(f'{v:g}' for v in vad_dbs)}: thresholds are dB below the loudest "
                        "frame, above 0")


def _augment_config(args):
    from apps.speech.augment import AugmentConfig
    return AugmentConfig(speed_range=tuple(args.speed_range), max_shift_s=args.max_shift,
                         random_placement=args.random_placement, trim_db=tuple(args.trim_db or ()))


def _feature_augment_config(args):
    from apps.speech.feature_augment import FeatureAugmentConfig
    return FeatureAugmentConfig(vtlp=tuple(args.vtlp or ()), freq_masks=args.freq_masks,
                                freq_mask_bands=args.freq_mask_bands, time_masks=args.time_masks,
                                time_mask_frames=args.time_mask_frames)


def _root(dataset, path, data_dir):
    from apps.speech import data
    return data.resolve(path) if path else data.default_root(dataset, data_dir)


def training_arrays(args, config, log=print):
    """(x_train, y_train, x_val, y_val, context, extra config) for `args.dataset`."""
    from apps.speech import data, examples
    root = _root(args.dataset, args.data, args.data_dir)
    items = examples.items(args.dataset, root)
    if getattr(args, "no_val", False):
        train_items, val_items = items, []
    else:
        train_items, val_items = data.split_by_speaker(items, args.val_speakers, args.val_fraction)
    return fold_arrays(args, config, root, items, train_items, val_items, log, _extra_train_items(args, items))


def _extra_train_items(args, items):
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
                                                                 noises, _augment_config(args))
            use = np.array([str(source[o][0]) in train_paths for o in owner], dtype=bool)
            if config.speaker_norm:  # a speaker's variants together: one more "session" of that speaker
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
    config = _feature_config(args)
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
    from shared import training
    from shared.modelio import copy_matching_layers

    training.set_seed(args.seed)
    training.set_precision(args.mixed_bfloat16)
    names = examples.class_names(args.dataset)
    options = {} if args.arch == "trad-fpool3" else dict(
        context=context, time_bins=1 if args.dataset == "timit" else args.time_bins,
        context_stride=1 if args.dataset == "timit" else args.context_stride,
        filters=tuple(args.filters), hidden=args.hidden)
    model = models.build_model(args.arch, x_train.shape[1:], len(names), normalizer_data=x_train,
                               dropout=args.dropout, **options)
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, steps - steps // 20), warmup_target=args.learning_rate, warmup_steps=steps // 20)
    # label smoothing and mixup train on one-hot (soft) labels; plain runs keep the sparse loss
    soft = len(names) if args.label_smoothing or args.mixup else None
    loss = (keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing) if soft
            else "sparse_categorical_crossentropy")
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4), loss=loss, metrics=["accuracy"])
    if args.init_model:
        copied, fresh = copy_matching_layers(model, args.init_model, APP, check=_same_features_as(config),
                                             prefixes=args.init_layers)
        print(f"init: {len(copied)} layers from {args.init_model} ({', '.join(copied)}); fresh: "
              f"{', '.join(fresh) or 'none'}", flush=True)
    run_config = common.training_config(args, **extra, context=context, parameters=model.count_params(),
                                        features=config.to_dict(), augment=dataclasses.asdict(_augment_config(args)))
    run_config["out"] = str(out)
    preprocessing = {"dataset": args.dataset, "task": "frames" if args.dataset == "timit" else "clips",
                     "class_names": names, "features": config.to_dict(), "context": context}
    if "speaker_stats" in extra:
        preprocessing["speaker_stats"] = extra["speaker_stats"]
    if args.tta_vad_db:
        preprocessing["tta_vad_db"] = list(args.tta_vad_db)
    save = _save_fn(preprocessing)
    has_val = len(x_val) > 0
    metrics = training.fit(
        model, _dataset(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed, num_classes=soft,
                        mixup_alpha=args.mixup),
        _dataset(x_val, y_val, 256, num_classes=soft) if has_val else None, out_dir=out, epochs=args.epochs,
        config=run_config,
        save=lambda m, p: save(m, p, run_config), resume=args.resume, patience=args.patience if has_val else None,
        monitor="val_accuracy" if has_val else "loss", mode="max" if has_val else "min",
        time_budget_s=args.time_budget and args.time_budget * 60, verbose=2)
    if not has_val:  # no validation to pick an epoch: ship the last one, as `cv` chose the count
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


def cv_folds(items, folds):
    """[(fold name, held-out speakers)]: one fold per speaker (`folds` 0), or `folds`
    groups of speakers by their salted hash (Speech Commands: many speakers)."""
    from apps.speech import data
    speakers = sorted({i[-1] for i in items})
    if not folds:
        return [(s, [s]) for s in speakers]
    groups = [[s for s in speakers if int(data.speaker_fraction(s) * folds) == k] for k in range(folds)]
    return [(f"group{k}", g) for k, g in enumerate(groups) if g]


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
    config = _feature_config(args)
    root = _root(args.dataset, args.data, args.data_dir)
    items = examples.items(args.dataset, root)
    started = time.time()
    deadline = args.time_budget and started + args.time_budget * 60
    folds, resumed = [], []
    extra_items = _extra_train_items(args, items)
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
        if deadline and len(folds) > len(resumed) and time.time() > deadline:
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
            run_args = {**vars(args), "seed": seed, "resume": args.resume and (out / "backup").is_dir(),
                        "time_budget": deadline and max(deadline - time.time(), 1) / 60}
            model, metrics = fit_arrays(argparse.Namespace(**run_args), config, x_train, y_train, x_val, y_val,
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
        "resumed_folds": resumed,  # read from their fold.json; "seconds" counts this run only
        **({"seeds": args.seeds, "ensemble_accuracy": float(np.mean([f["ensemble_accuracy"] for f in folds]))}
           if args.seeds > 1 else {}),
        **{key: float(np.mean([f[key] for f in folds])) for key in ("tta_accuracy", "ensemble_tta_accuracy")
           if key in folds[0]},
        **{key: np.mean([f[key] for f in folds], axis=0).tolist()
           for key in ("ensemble_accuracy_by_seeds", "ensemble_tta_accuracy_by_seeds") if key in folds[0]},
        "config": common.training_config(args, features=config.to_dict(),
                                         augment=dataclasses.asdict(_augment_config(args))),
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
    member's last-epoch probabilities on the fold's held-out speakers (every seed of every run; read
    at the test-time framings when every run has them), then the mean over the folds. Cheap: it
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
    key = "framings" if all("framings" in f for fold in saved.values() for f in fold) else "last_epoch"
    per_fold = {}
    for name, files in saved.items():
        labels = files[0]["labels"]
        if any(not np.array_equal(f["labels"], labels) for f in files[1:]):
            raise UserError(f"{name}: the runs held out different clips (another dataset or fold split)")
        members = np.concatenate([f[key] for f in files])
        per_fold[name] = {"n": int(len(labels)), "accuracy": _accuracy(members.mean(axis=0), labels),
                          "member_accuracies": [round(_accuracy(m, labels), 4) for m in members]}
        print(f"{name}: {len(members)} members, ensemble {per_fold[name]['accuracy']:.4f} (members "
              f"{' '.join(f'{a:.3f}' for a in per_fold[name]['member_accuracies'])}), n={len(labels)}")
    summary = {"runs": [str(r) for r in runs], "folds": len(per_fold), "read_at": key,
               "accuracy": float(np.mean([f["accuracy"] for f in per_fold.values()])),
               "mean_member_accuracy": float(np.mean([np.mean(f["member_accuracies"]) for f in per_fold.values()])),
               "n": sum(f["n"] for f in per_fold.values()), "per_fold": per_fold}
    print(f"cv-ensemble: mean accuracy {summary['accuracy']:.4f} over {len(per_fold)} folds "
          f"({'with' if key == 'framings' else 'without'} the framings; a member alone: "
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


def _model_framings(pre, config):
    """The framings a model reads every clip in: its own, then one per `tta_vad_db` threshold."""
    from apps.speech import features
    return features.vote_configs(config, pre.get("tta_vad_db", ()))


def _load(path):
    from apps.speech.features import FeatureConfig
    from shared.modelio import load_model
    model, meta = load_model(path, app=APP)
    pre = meta["preprocessing"]
    return model, pre, FeatureConfig.from_dict(pre["features"])


def evaluate_model(args):
    """Accuracy (and per-class report) of a speech model on a dataset folder in its
    original layout; unreadable files are skipped and counted. For a TIMIT model the
    accuracy is over frames (39 folded phones)."""
    from apps.speech import data, examples, features
    from shared.evaluation import classification_metrics, report_evaluation

    model, pre, config = _load(args.model)
    dataset, names = pre["dataset"], pre["class_names"]
    items = examples.items(dataset, data.resolve(args.data))
    if args.val_speakers or args.val_fraction is not None:
        _, items = data.split_by_speaker(items, args.val_speakers,
                                         0.2 if args.val_fraction is None else args.val_fraction)
    if pre["task"] == "frames":
        x, y, errors = examples.frame_arrays(items, config, pre["context"])
    else:
        x, y, speakers, errors = examples.clip_arrays(items, config)
    for message in errors:
        print(f"skipped: {message}", file=sys.stderr)
    if len(x) == 0:
        raise UserError(f"{args.data}: no readable examples")
    if pre["task"] == "frames":
        probabilities = model.predict(x, batch_size=args.batch_size, verbose=0)
    else:
        framings = _model_framings(pre, config)
        probabilities = np.mean([model.predict(
            features.normalise_for_model(examples.clip_arrays(items, framing)[0] if framing != config else x, pre,
                                         None if args.lone_clips else speakers),
            batch_size=args.batch_size, verbose=0) for framing in framings], axis=0)
    metrics = classification_metrics(y, probabilities, names, top_k=(2,) if len(names) > 2 else ())
    metrics.update(model=str(args.model), data=str(args.data), dataset=dataset, task=pre["task"],
                   files=len(items), skipped_files=len(errors), speakers=len({i[-1] for i in items}),
                   **({"tta_vad_db": pre["tta_vad_db"]} if pre.get("tta_vad_db") else {}))
    return report_evaluation(args, metrics, y, probabilities, names,
                             title=f"{Path(args.model).name}: {dataset} ({metrics['speakers']} speakers)",
                             details=f"  skipped files {len(errors)}")


def _top(probs, names, k):
    order = np.argsort(probs)[::-1][:k]
    return [{"label": names[i], "probability": round(float(probs[i]), 4)} for i in order]


def predict_clip_file(model, pre, config, path, top=3, hop=0.5, chunk=64, normalise=None):
    """A dict for one file: a single clip (up to 1.5 clip lengths) or, for longer
    recordings, one prediction per window, streamed in chunks (bounded memory).
    `normalise(x, i)` prepares a batch of features framed by the model's i-th framing
    (default: `features.normalise_for_model`)."""
    from apps.speech import audio, features
    normalise = normalise or (lambda x, i: features.normalise_for_model(x, pre))
    names = pre["class_names"]
    framings = _model_framings(pre, config)

    def probabilities(clips):  # a batch of waveforms: the mean over the model's framings
        return np.mean([model.predict(normalise(np.stack([features.clip_features(y, framing) for y in clips]), i),
                                      verbose=0) for i, framing in enumerate(framings)], axis=0)
    duration = audio.duration_seconds(path)
    if duration <= 1.5 * config.clip_seconds:
        probs = probabilities([audio.load_audio(path, config.sample_rate)])[0]
        return {"file": str(path), "duration_s": round(duration, 3), "top": _top(probs, names, top)}
    windows, batch, starts = [], [], []

    def flush():
        if batch:
            for start, probs in zip(starts, probabilities(batch)):
                windows.append({"start_s": round(start, 3), "top": _top(probs, names, 1)[0]})
            batch.clear()
            starts.clear()
    for start, y in audio.stream_windows(path, config.sample_rate, config.clip_seconds, hop):
        if np.abs(y).max() < audio.SILENCE_PEAK:
            windows.append({"start_s": round(start, 3), "top": {"label": SILENCE_LABEL, "probability": 1.0}})
            continue
        batch.append(y)
        starts.append(start)
        if len(batch) >= chunk:
            flush()
    flush()
    windows.sort(key=lambda w: w["start_s"])
    if all(w["top"]["label"] == SILENCE_LABEL for w in windows):
        raise UserError(f"{path}: the audio is silent (peak below -80 dBFS)")
    return {"file": str(path), "duration_s": round(duration, 3), "windows": windows}


def predict_frames_file(model, pre, config, path):
    """The frame-level phone sequence of a file (TIMIT model), runs collapsed with times."""
    from apps.speech import audio, data, features
    y = audio.load_audio(path, config.sample_rate)
    feats = features.log_mel(y, config)
    probs = model.predict(data.context_windows(feats, pre["context"]), batch_size=512, verbose=0)
    labels = probs.argmax(1)
    hop = config.hop_length / config.sample_rate
    runs, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append({"phone": pre["class_names"][labels[start]], "start_s": round(start * hop, 3),
                         "end_s": round(i * hop, 3)})
            start = i
    return {"file": str(path), "frames": int(len(labels)), "phones": runs}


def _clip_files_statistics(paths, config, framings):
    """One speaker's statistics over the clip-length files among `paths`, one (mean, std)
    per framing (None if none is readable; unreadable ones are reported when predicted)."""
    from apps.speech import audio, features
    clips = []
    for path in paths:
        try:
            if audio.duration_seconds(path) <= 1.5 * config.clip_seconds:
                clips.append(path)
        except UserError:
            pass
    arrays = [features.batch_features(clips, framing, cache=False)[0] for framing in framings]
    return [features.speaker_statistics(x) for x in arrays] if len(arrays[0]) else None


def predict_files(args):
    """Label and probabilities for each audio file (any WAV/FLAC/OGG, any rate or channels).
    Recordings longer than a clip are predicted window by window (memory stays bounded);
    a TIMIT model prints the frame-level phone sequence. Unreadable files are reported
    and skipped (exit status 1 if any failed). A speaker-norm model normalises with the
    training speakers' average statistics, or with --same-speaker those of the clips given."""
    from apps.speech import features
    model, pre, config = _load(args.model)
    stats = (_clip_files_statistics(args.files, config, _model_framings(pre, config))
             if args.same_speaker and config.speaker_norm else None)

    def normalise(x, i):  # each framing with its own statistics, as `evaluate` normalises
        if stats is None:
            return features.normalise_for_model(x, pre)
        return features.apply_speaker_statistics(x, mean=stats[i][0], std=stats[i][1])
    failures = 0
    for path in args.files:
        try:
            if pre["task"] == "frames":
                result = predict_frames_file(model, pre, config, path)
            else:
                result = predict_clip_file(model, pre, config, path, args.top, args.hop, normalise=normalise)
        except UserError as error:
            failures += 1
            print(f"skipped: {error}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(result))
        elif "phones" in result:
            print(f"{path}: " + " ".join(r["phone"] for r in result["phones"]))
        elif "windows" in result:
            print(f"{path}: {len(result['windows'])} windows")
            for w in result["windows"]:
                print(f"  {w['start_s']:9.2f} s  {w['top']['label']} {w['top']['probability']:.3f}")
        else:
            print(f"{path}: " + ", ".join(f"{t['label']} {t['probability']:.3f}" for t in result["top"]))
    if failures:
        print(f"{failures} of {len(args.files)} files could not be read", file=sys.stderr)
        return 1
    return 0


def ensemble_models(args):
    """One model file whose prediction is the mean of the given models' class probabilities
    (e.g. `train --no-val` runs with several --seed values; `cv --seeds K` measures what that
    gains). The models must share the dataset, classes, features and context window; a
    speaker-norm fallback is the mean of theirs. `evaluate` and `predict` take the result like
    any model; `saliency` and `visualize` show its first member."""
    from shared.ensemble import ensemble_files

    def preprocessing(metas):
        pre = {**metas[0]["preprocessing"], "members": len(metas)}
        if "speaker_stats" in pre:
            stats = [meta["preprocessing"]["speaker_stats"] for meta in metas]
            pre["speaker_stats"] = {k: np.mean([s[k] for s in stats], axis=0).tolist() for k in stats[0]}
        return pre
    merged = ensemble_files(args.models, args.out, app=APP, preprocessing=preprocessing,
                            same=("dataset", "task", "class_names", "features", "context"))
    print(f"wrote {args.out}: the mean of {merged['members']} models")
    return 0


def synth_command(args):
    """Write synthetic voices saying the dataset's words (espeak-ng and flite, Debian packages; with
    --engines mbrola, MBROLA's diphone voices from Debian's contrib and non-free sections), in the
    dataset's layout, with voices.csv; add them to training with `--extra-train FOLDER`."""
    from apps.speech import synth
    written, errors = synth.synthesise(args.dataset, args.out, args.voices, seed=args.seed,
                                       engines=tuple(args.engines), unknown_per_voice=args.unknown_per_voice,
                                       workers=args.workers, foreign_share=args.foreign_share)
    print(f"synth: {written} clips of {args.voices} voices in {args.out}"
          + (f"; {len(errors)} skipped" if errors else ""))
    return 1 if errors and not written else 0


def export_model(args):
    """Re-save a trained model for shipping: the same weights, feature settings and
    config, without the optimizer state (a third of the size with Adam); --tta-vad-db
    sets its test-time framings (e.g. on an ensemble)."""
    from shared.modelio import load_model, save_model
    model, meta = load_model(args.model, app=APP)
    preprocessing = meta["preprocessing"]
    if args.tta_vad_db:
        _check_tta(args.tta_vad_db, preprocessing["features"]["placement"])
        preprocessing = {**preprocessing, "tta_vad_db": list(args.tta_vad_db)}
    path = save_model(model, args.out, app=APP, preprocessing=preprocessing, config=meta["config"])
    print(f"wrote {path} ({Path(path).stat().st_size / 1e6:.2f} MB)")
    return 0


def saliency_command(args):
    """Write a PNG of a clip's log-mel spectrogram and, beside it, the gradient
    saliency and Grad-CAM of the predicted class (which time-frequency cells drive the decision)."""
    from apps.speech import features
    model, pre, config = _load(args.model)
    if pre["task"] != "clips":
        raise UserError(f"{args.model}: saliency plots are for clip models (FSDD, Speech Commands)")
    from apps.speech.visualize import saliency_png
    from shared.ensemble import first_member
    feats = features.normalise_for_model(features.file_features(args.file, config)[None], pre)[0]
    probs = np.asarray(model(feats[None], training=False))[0]
    label = pre["class_names"][int(probs.argmax())]
    saliency_png(first_member(model), feats, args.out, pre["class_names"], title=Path(args.file).name)
    print(f"{args.file}: {label} {probs.max():.3f}; wrote {args.out}")
    return 0


def demo(out_dir, minutes, data_dir):
    """Train the frequency CNN on FSDD (speaker `nicolas` held out) for `minutes`,
    evaluate on that speaker, predict a few of his clips, and return the report section."""
    from apps.speech import data, examples
    from shared.evaluation import classification_metrics, confusion_matrix_png

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    args = argparse.Namespace(
        dataset="fsdd", data=None, arch="freq", val_speakers=["nicolas"], val_fraction=0.2, context=None,
        time_bins=3, context_stride=3, filters=(32, 32), hidden=128, dropout=0.3, augment_copies=0, deltas=2, n_mels=40,
        speed_range=(0.75, 1.25), max_shift=0.1, random_placement=False, trim_db=None, cmvn=False, floor_db=0.0,
        vad_db=40.0, tta_vad_db=[], vtlp=None, freq_masks=0, freq_mask_bands=0, time_masks=0, time_mask_frames=0,
        placement="centre", no_val=False, speaker_norm=False, sample_rate=None, init_model=None, init_layers=None,
        extra_train=[], label_smoothing=0.0, mixup=0.0,
        workers=1, data_dir=data_dir, out=str(out_dir / "run"), epochs=12, batch_size=64, learning_rate=2e-3,
        seed=1234, patience=None, resume=False, time_budget=minutes, mixed_bfloat16=False, limit=None)
    started = time.time()
    train_model(args)
    model, pre, config = _load(out_dir / "run" / "model.keras")
    root = _root("fsdd", None, data_dir)
    _, val_items = data.split_by_speaker(examples.items("fsdd", root), ["nicolas"])
    x, y, _, _ = examples.clip_arrays(val_items, config)
    probabilities = model.predict(x, verbose=0)
    metrics = classification_metrics(y, probabilities, pre["class_names"])
    confusion_matrix_png(y, probabilities.argmax(1), pre["class_names"], out_dir / "confusion.png",
                         title="FSDD, held-out speaker nicolas")
    from apps.speech.visualize import demo_gallery, saliency_png
    saliency_png(model, x[0], out_dir / "saliency.png", pre["class_names"], title=val_items[0][0].name)
    lines = [f"| `{item[0].name}` | {item[1]} | {int(p.argmax())} | {p.max():.2f} |"
             for item, p in list(zip(val_items, probabilities))[::50]]
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    gallery = demo_gallery(out_dir / "run" / "model.keras", val_items[0][0], out_dir / "viz")
    return (f"## speech: FSDD spoken digits\n\nA frequency-axis CNN (Abdel-Hamid et al. 2014; conv and "
            f"max-pool along frequency only) trained for {(time.time() - started) / 60:.1f} min on 4 "
            f"speakers. Accuracy on the held-out speaker nicolas: **{metrics['accuracy']:.4f}** "
            f"(n={metrics['n']}).\n\n| file | digit | predicted | p |\n| --- | --- | --- | --- |\n"
            + "\n".join(lines) + "\n\n![confusion](speech/confusion.png)\n\n![saliency](speech/saliency.png)\n\n"
            + gallery + "\n")
