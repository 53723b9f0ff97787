"""`python run.py speech ...`: frequency-axis CNNs for spoken digits, keywords and phones.

    python run.py speech train --dataset fsdd --arch freq --val-speakers nicolas --out runs/fsdd
    python run.py speech evaluate --model models/speech_fsdd.keras --data DIR --json
    python run.py speech predict --model models/speech_commands.keras clip.wav long.flac
    python run.py speech saliency --model models/speech_fsdd.keras clip.wav --out saliency.png
    python run.py speech visualize --model models/speech_fsdd.keras --out viz/
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from apps.speech import APP
from shared import cli as common
from shared.errors import UserError


def register(subparsers):
    train = subparsers.add_parser("train", help="train a speech CNN", description=common.doc("apps.speech.train:train_model"))
    _add_train_args(train)
    common.add_distribute_arg(train)
    train.add_argument("--split", choices=["speaker", "standard"], default="speaker",
                       help="speaker: validation speakers none of the training clips share (--val-speakers, "
                       "--val-fraction); standard: the published split that papers report (FSDD: takes 0-4 "
                       "test, 5-9 validation; Speech Commands: the release's validation/testing lists, 12 "
                       "classes), read from the registry's releases (default: %(default)s)")
    train.add_argument("--no-val", action="store_true",
                       help="train on every speaker (no validation; the last epoch is saved): for the "
                       "shipped model, with the epoch count chosen by `cv`")
    train.set_defaults(func=common.lazy("apps.speech.train:train_model"))

    cv = subparsers.add_parser("cv", help="speaker-grouped cross-validation", description=common.doc("apps.speech.crossval:cross_validate"))
    _add_train_args(cv)
    cv.add_argument("--folds", type=int, default=0,
                    help="0: leave one speaker out (FSDD); k: k groups of speakers by a salted hash")
    cv.add_argument("--seeds", type=common.positive_int, default=1,
                    help="models per fold, seeds --seed, --seed+1, ...: the curves are their mean, and "
                         "ensemble_accuracy scores the average of their last-epoch probabilities "
                         "(what `speech ensemble` of `train --no-val` runs ships)")
    cv.add_argument("--json", action="store_true", help="print the summary as one JSON line, last on stdout")
    cv.set_defaults(func=common.lazy("apps.speech.crossval:cross_validate"))

    combine = subparsers.add_parser("cv-ensemble", help="accuracy of an ensemble of several cv runs' models",
                                    description=common.doc("apps.speech.crossval:cv_ensemble"))
    combine.add_argument("runs", nargs="+", metavar="CV_DIR", help="--out folders of finished `speech cv` runs")
    combine.add_argument("--json", action="store_true", help="print the summary as one JSON line, last on stdout")
    combine.set_defaults(func=common.lazy("apps.speech.crossval:cv_ensemble"))

    evaluate = subparsers.add_parser("evaluate", help="accuracy on a dataset folder",
                                     description=evaluate_model.__doc__)
    common.add_evaluate_args(evaluate, "folder (or .tar.gz) in the dataset's original layout: FSDD recordings, "
                             "Speech Commands class folders, or a TIMIT tree with .phn files (or give --split)",
                             data_required=False)
    evaluate.add_argument("--split", choices=["standard"],
                          help="standard: score the test set of the dataset's published split (FSDD takes "
                          "0-4; the Speech Commands test archive) instead of --data")
    evaluate.add_argument("--val-speakers", nargs="*",
                          help="score only these speakers' files (e.g. the validation speaker)")
    evaluate.add_argument("--val-fraction", type=float, default=None,
                          help="score only the hash-split validation speakers (as in train)")
    evaluate.add_argument("--lone-clips", action="store_true",
                          help="speaker-norm models: score each clip as `predict` does a lone file, with the "
                          "training speakers' average statistics instead of its own speaker's")
    common.add_data_dir(evaluate)
    evaluate.set_defaults(func=evaluate_model)

    predict = subparsers.add_parser("predict", help="labels for audio files", description=common.doc("apps.speech.predict:predict_files"))
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
    predict.set_defaults(func=common.lazy("apps.speech.predict:predict_files"))

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

    show = common.add_lazy_command(subparsers, "visualize", "apps.speech.visualize:run",
                                   help="saliency, Grad-CAM, filters, tone responses, activations, "
                                        "maximizing spectrograms")
    _add_visualize_arguments(show)


def _add_visualize_arguments(parser):
    """The options of `run.py speech visualize`."""
    parser.add_argument("--model", required=True, help="a speech clip model (.keras)")
    parser.add_argument("--out", required=True, help="folder for the PNGs")
    parser.add_argument("--audio", help="a WAV/FLAC/OGG clip (default: a clip of the model's dataset in the team data)")
    parser.add_argument("--saliency", action="store_true", help="saliency and Grad-CAM over the clip's spectrogram")
    parser.add_argument("--class", dest="class_index", type=int, help="class to explain (default: predicted)")
    parser.add_argument("--filters", action="store_true", help="first-layer filter weights")
    parser.add_argument("--tones", action="store_true", help="first-layer filters' responses to pure tones")
    parser.add_argument("--activations", action="store_true", help="feature maps of --layer for the clip")
    parser.add_argument("--layer", help="layer for --activations / Grad-CAM (default: first conv's ReLU / last conv)")
    parser.add_argument("--maximize", metavar="LAYER:UNIT|class:N", action="append",
                        help="spectrogram that maximizes a filter, a hidden unit or a class (repeatable)")
    parser.add_argument("--steps", type=common.positive_int, default=150, help="maximization steps")
    parser.add_argument("--step-size", type=float, default=0.02, help="maximization step (input range units)")
    # the penalties are means over 101 x 40 x 3 inputs, a logit's gradient is not: weights of hundreds
    parser.add_argument("--l1", type=float, default=300.0, help="L1 weight for --maximize (0: off)")
    parser.add_argument("--tv", type=float, default=3000.0, help="total-variation weight for --maximize (0: off)")
    parser.add_argument("--jitter", type=int, default=2, help="jitter in frames/bands for --maximize (0: off)")
    parser.add_argument("--blur", type=float, default=0.5, help="blur sigma for --maximize (0: off)")
    parser.add_argument("--seed", type=int, default=0)
    common.add_data_dir(parser)


def _add_train_args(train):
    from apps.speech import ARCHITECTURES, DATASETS, FRONTENDS
    train.add_argument("--dataset", choices=DATASETS, default="fsdd")
    train.add_argument("--data", help="dataset folder or .tar.gz in its original layout "
                       "(default: the registry's archive, found via --data-dir/$BEYOND_PIXELS_DATA)")
    train.add_argument("--arch", choices=ARCHITECTURES, default="freq",
                       help="freq: frequency-axis CNN (full weight sharing); freq-lws: limited weight "
                       "sharing; trad-fpool3: Sainath & Parada's 2D baseline; ds-cnn: depthwise-separable (Zhang et al. "
                       "2017); residual: res8 (Tang & Lin 2018)")
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
    train.add_argument("--frontend", choices=FRONTENDS, default="log",
                       help="static channel: the log-mel itself, or a trainable per-channel energy normalisation "
                            "of it (pcen; Wang et al. 2017) (default: %(default)s)")
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
    common.add_transfer_args(train, "warm start (transfer): copy the weights of every layer of MODEL (a speech "
                             "model) whose name and shape match, e.g. the conv layers of a Speech Commands model "
                             "into an FSDD one; a softmax with another class count starts fresh. Its features "
                             "must be computed alike")
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


def evaluate_model(args):
    """Accuracy (and per-class report) of a speech model on a dataset folder in its
    original layout; unreadable files are skipped and counted. For a TIMIT model the
    accuracy is over frames (39 folded phones)."""
    from apps.speech.predict import load_speech_model, mean_over_framings
    from apps.speech import data, examples, features, train
    from shared import overlap
    from shared.evaluation import classification_metrics, report_evaluation
    from shared.modelio import read_metadata

    model, pre, config = load_speech_model(args.model)
    dataset, names = pre["dataset"], pre["class_names"]
    if getattr(args, "split", None) == "standard":
        items = data.standard_test_items(dataset, args.data_dir)
        args.data = f"{dataset} standard test split"
    elif args.data:
        items = examples.items(dataset, data.resolve(args.data))
    else:
        raise UserError("speech evaluate: give --data FOLDER or --split standard")
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
        computed = {config: x}  # an input of placement centre reads the same in every framing

        def prepared(framing_of_input, index):  # the features of model input `index`, normalised as it expects
            if framing_of_input not in computed:
                computed[framing_of_input] = examples.clip_arrays(items, framing_of_input)[0]
            return features.normalise_for_model(computed[framing_of_input], pre, None if args.lone_clips else speakers,
                                                input_index=index)
        probabilities = mean_over_framings(model, pre, prepared, batch_size=args.batch_size)
    metrics = classification_metrics(y, probabilities, names, top_k=(2,) if len(names) > 2 else ())
    metrics.update(model=str(args.model), data=str(args.data), dataset=dataset, task=pre["task"],
                   files=len(items), skipped_files=len(errors), speakers=len({i[-1] for i in items}),
                   **({"tta_vad_db": pre["tta_vad_db"]} if pre.get("tta_vad_db") else {}))
    metrics["overlap"] = overlap.warn(train.speaker_overlap(read_metadata(args.model)["config"], items), args.model)
    return report_evaluation(args, metrics, y, probabilities, names,
                             title=f"{Path(args.model).name}: {dataset} ({metrics['speakers']} speakers)",
                             details=f"  skipped files {len(errors)}")


def ensemble_models(args):
    """One model file whose prediction is the mean of the given models' class probabilities
    (e.g. `train --no-val` runs with several --seed values; `cv --seeds K` measures what that
    gains). The models must share the dataset, classes, features and context window, except
    the clip placement: models trained with `--placement fit` and `centre` read the clip each
    their own way (the file has one input per placement, every network weighs the same). A
    speaker-norm fallback is the mean of theirs (per placement). `evaluate` and `predict` take the result like
    any model; `saliency` and `visualize` show its first member."""
    from shared.ensemble import ensemble_files

    def placement(meta):
        return meta["preprocessing"]["features"]["placement"]

    def preprocessing(metas):
        pre = {**metas[0]["preprocessing"], "members": len(metas)}
        first = {**pre["features"], "placement": None}
        for path, meta in zip(args.models[1:], metas[1:]):
            if {**meta["preprocessing"]["features"], "placement": None} != first:
                raise UserError(f"{path}: its features differs from {args.models[0]}'s beyond the placement; an "
                                "ensemble's models must share dataset, task, class_names, features, context")
        placements = list(dict.fromkeys(placement(meta) for meta in metas))
        if len(placements) > 1:
            pre["input_features"] = [{**pre["features"], "placement": p} for p in placements]
        if "speaker_stats" in pre:  # each input's fallback: the mean of its members' (features differ by placement)
            per_input = []
            for p in placements:
                stats = [meta["preprocessing"]["speaker_stats"] for meta in metas if placement(meta) == p]
                per_input.append({k: np.mean([s[k] for s in stats], axis=0).tolist() for k in stats[0]})
            pre["speaker_stats"] = per_input[0]
            if len(placements) > 1:
                pre["input_speaker_stats"] = per_input
        return pre
    merged = ensemble_files(args.models, args.out, app=APP, preprocessing=preprocessing, input_of=placement,
                            same=("dataset", "task", "class_names", "context"))
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
    from apps.speech.predict import input_configs
    from apps.speech.train import check_tta
    from shared.modelio import load_model, save_model
    model, meta = load_model(args.model, app=APP)
    preprocessing = meta["preprocessing"]
    if args.tta_vad_db:
        check_tta(args.tta_vad_db, [c.placement for c in input_configs(preprocessing)])
        preprocessing = {**preprocessing, "tta_vad_db": list(args.tta_vad_db)}
    path = save_model(model, args.out, app=APP, preprocessing=preprocessing, config=meta["config"])
    print(f"wrote {path} ({Path(path).stat().st_size / 1e6:.2f} MB)")
    return 0


def saliency_command(args):
    """Write a PNG of a clip's log-mel spectrogram and, beside it, the gradient
    saliency and Grad-CAM of the predicted class (which time-frequency cells drive the decision)."""
    from apps.speech.predict import framed_probabilities, load_speech_model
    from apps.speech import features
    model, pre, config = load_speech_model(args.model)
    if pre["task"] != "clips":
        raise UserError(f"{args.model}: saliency plots are for clip models (FSDD, Speech Commands)")
    from apps.speech.visualize import saliency_png
    from shared.ensemble import first_member
    from apps.speech import audio
    y = audio.load_audio(args.file, config.sample_rate)  # read once: the picture's features and the prediction
    feats = features.normalise_for_model(features.clip_features(y, config)[None], pre)[0]
    probs = framed_probabilities(model, pre, [y])[0]
    label = pre["class_names"][int(probs.argmax())]
    saliency_png(first_member(model), feats, args.out, pre["class_names"], title=Path(args.file).name)
    print(f"{args.file}: {label} {probs.max():.3f}; wrote {args.out}")
    return 0


def demo(out_dir, minutes, data_dir):
    """Train the frequency CNN on FSDD (speaker `nicolas` held out) for `minutes`,
    evaluate on that speaker, predict a few of his clips, and return the report section;
    where FSDD is not here, the shipped models on the example clips instead."""
    from apps.speech.predict import load_speech_model
    from apps.speech.train import dataset_root, train_model
    from apps.speech import data, examples
    from shared.evaluation import classification_metrics, confusion_matrix_png

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        root = dataset_root("fsdd", None, data_dir)
    except UserError as missing:
        return _demo_without_data(out_dir, missing)
    args = common.parse_command(register, [
        "train", "--dataset", "fsdd", "--arch", "freq", "--val-speakers", "nicolas", "--out", out_dir / "run",
        "--epochs", 12, "--time-budget", minutes] + (["--data-dir", data_dir] if data_dir else []))
    started = time.time()
    train_model(args)
    model, pre, config = load_speech_model(out_dir / "run" / "model.keras")
    _, val_items = data.split_by_speaker(examples.items("fsdd", root), ["nicolas"])
    x, y, _, _ = examples.clip_arrays(val_items, config)
    probabilities = model.predict(x, verbose=0)
    metrics = classification_metrics(y, probabilities, pre["class_names"])
    confusion_matrix_png(y, probabilities.argmax(1), pre["class_names"], out_dir / "confusion.png",
                         title="FSDD, held-out speaker nicolas")
    lines = [f"| `{item[0].name}` | {item[1]} | {int(p.argmax())} | {p.max():.2f} |"
             for item, p in list(zip(val_items, probabilities))[::50]]
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    gallery = _demo_gallery(out_dir / "run" / "model.keras", val_items[0][0], out_dir / "viz")
    return (f"## speech: FSDD spoken digits\n\nA frequency-axis CNN (Abdel-Hamid et al. 2014; conv and "
            f"max-pool along frequency only) trained for {(time.time() - started) / 60:.1f} min on 4 "
            f"speakers. Accuracy on the held-out speaker nicolas: **{metrics['accuracy']:.4f}** "
            f"(n={metrics['n']}).\n\n| file | digit | predicted | p |\n| --- | --- | --- | --- |\n"
            + "\n".join(lines) + "\n\n![confusion](speech/confusion.png)\n\n"
            + gallery + "\n")


def _demo_without_data(out_dir, missing):
    """The demo section where FSDD is not here: the shipped FSDD and Speech Commands models on
    the example clips, and the FSDD model's standard pictures."""
    from apps.speech import audio
    from apps.speech.predict import framed_probabilities, load_speech_model
    from shared import examples
    rows = []
    for model_name, clips in (("speech_fsdd.keras", ["seven.wav", "three.wav"]), ("speech_commands.keras", ["yes.wav"])):
        model, pre, config = load_speech_model(examples.shipped_model(model_name))
        waves = [audio.load_audio(examples.path(clip), config.sample_rate) for clip in clips]
        for clip, probs in zip(clips, framed_probabilities(model, pre, waves)):
            top = np.argsort(probs)[::-1][:3]
            rows.append(f"| `examples/{clip}` | `models/{model_name}` | "
                        + ", ".join(f"{pre['class_names'][i]} {probs[i]:.3f}" for i in top) + " |")
    gallery = _demo_gallery(examples.shipped_model("speech_fsdd.keras"), examples.path("seven.wav"), out_dir / "viz")
    return ("## speech: FSDD spoken digits\n\n" + examples.missing_data_note("speech", missing, "speech-fsdd")
            + "| clip | model | top 3 |\n|---|---|---|\n" + "\n".join(rows) + "\n\n" + gallery + "\n")


def _demo_gallery(model_path, audio, viz_dir, link_prefix="speech/viz/"):
    """The `visualize` standard set of the demo model on one clip, as a Markdown gallery."""
    from apps.speech import visualize
    from shared.visualize import gallery_markdown
    args = common.parse_command(register, ["visualize", "--model", model_path, "--out", viz_dir, "--audio", audio,
                                           "--steps", 100])
    visualize.run(args)
    return gallery_markdown(viz_dir, link_prefix, title="What the network listens to")
