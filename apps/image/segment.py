"""`python run.py image segment ...`: per-pixel classification (semantic segmentation).

    python run.py image segment train --arch unet --dataset mnist-canvas --out runs/segment_unet
    python run.py image segment evaluate --model runs/segment_unet/model.keras --data validation --json
    python run.py image segment predict --model runs/segment_unet/model.keras picture.png --out masks/

Networks: FCN and U-Net (`shared/segmentation.py`). Datasets: `mnist-canvas`, 1-3 MNIST
digits on a 64x64 canvas with every pixel labelled by its digit (`apps/image/canvas.py`),
and `oxford-pet`, the Oxford-IIIT Pet photos with their pet/background/border trimaps
(`apps/image/pets.py`). The metrics are pixel accuracy and intersection over union,
IoU_c = TP_c / (TP_c + FP_c + FN_c) from the pixel confusion matrix, averaged over the
classes present (mean IoU); the all-background prediction is reported alongside as the
trivial baseline. TensorFlow is imported only when a command runs.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from shared import cli as common
from shared.errors import UserError

APP = "image"
DATASETS = ("mnist-canvas", "oxford-pet")
PET_SIZE = 128


def register(subparsers):
    """The subcommands of `image segment`."""
    train = subparsers.add_parser("train", help="train an FCN or a U-Net", description=train_model.__doc__)
    train.add_argument("--arch", choices=["fcn", "unet"], default="unet")
    train.add_argument("--dataset", choices=DATASETS, default="mnist-canvas")
    train.add_argument("--width", type=common.positive_int, default=16, help="filters of the first stage "
                       "(doubled at each deeper stage; default: %(default)s)")
    train.add_argument("--depth", type=common.positive_int, default=3,
                       help="pooling stages (input sides must be multiples of 2**depth; default: %(default)s)")
    train.add_argument("--skips", type=int, default=2, help="fcn: score fusions with earlier pooling stages, "
                       "0..depth-1 (FCN-32s/16s/8s style; default: %(default)s)")
    train.add_argument("--batch-norm", action="store_true", help="batch normalization after every 3x3 conv")
    train.add_argument("--canvases", type=common.positive_int, default=10000,
                       help="mnist-canvas: training canvases (default: %(default)s)")
    train.add_argument("--val-canvases", type=common.positive_int, default=1000,
                       help="mnist-canvas: validation canvases (default: %(default)s)")
    train.add_argument("--val-size", type=common.positive_int, default=None,
                       help="validation digits carved from MNIST train (mnist-canvas, default 5000), or photos "
                            "carved from trainval (oxford-pet, default 10%%)")
    train.add_argument("--image-size", type=common.positive_int, default=PET_SIZE,
                       help="oxford-pet: photos resized to this square (default: %(default)s)")
    common.add_data_dir(train)
    common.add_training_args(train, epochs=10, batch_size=32, learning_rate=2e-3, out="runs/segment")
    train.set_defaults(func=train_model)

    evaluate = subparsers.add_parser("evaluate", help="pixel accuracy and IoU", description=evaluate_model.__doc__)
    common.add_evaluate_args(evaluate, "'validation' (the split held out when the model was trained), 'test' "
                             "(mnist-canvas: canvases of the t10k digits; oxford-pet: test.txt), or a folder "
                             "holding the MNIST t10k files")
    evaluate.add_argument("--count", type=common.positive_int, default=2000,
                          help="mnist-canvas: test canvases to build (default: %(default)s)")
    common.add_data_dir(evaluate)
    evaluate.set_defaults(func=evaluate_model)

    predict = subparsers.add_parser("predict", help="a coloured mask for each picture", description=predict_images.__doc__)
    predict.add_argument("--model", required=True)
    predict.add_argument("images", nargs="+", help="PNG/JPEG files of any size and colour")
    predict.add_argument("--out", default="segmentations", help="folder for the overlay PNGs (default: %(default)s)")
    predict.add_argument("--json", action="store_true", help="one JSON object per picture")
    predict.set_defaults(func=predict_images)


# ---------------------------------------------------------------- data

def load_data(dataset, split, config, data_dir=None, count=None, folder=None):
    """(pictures uint8 (N, H, W, C), label maps uint8 (N, H, W)) of a split ("train",
    "validation", "test") of `dataset`, built as `config` (the training options) says."""
    if dataset == "mnist-canvas":
        from apps.image import canvas
        if split == "test":
            return canvas.t10k_canvases(count or 2000, data_dir, folder)
        size = config["canvases"] if split == "train" else config["val_canvases"]
        if split == "train" and config.get("limit"):
            size = min(size, config["limit"])
        return canvas.digit_canvases(split, size, config["seed"], config.get("val_size") or 5000, data_dir)
    from apps.image import pets
    size = config.get("image_size") or PET_SIZE
    if split == "test":
        return pets.load_split("test", size, data_dir)
    x, y = pets.load_split("trainval", size, data_dir)
    val_size = config.get("val_size") or max(1, len(x) // 10)
    if not 0 < val_size < len(x):
        raise UserError(f"--val-size must be between 1 and {len(x) - 1} (trainval photos), got {val_size}")
    order = np.random.default_rng(config["seed"]).permutation(len(x))
    part = order[:-val_size][:config.get("limit") or None] if split == "train" else order[-val_size:]
    return x[part], y[part]


def class_names(dataset):
    if dataset == "mnist-canvas":
        from apps.image.canvas import CLASS_NAMES
    else:
        from apps.image.pets import CLASS_NAMES
    return list(CLASS_NAMES)


# ---------------------------------------------------------------- metrics

def segmentation_metrics(y_true, y_pred, class_names):
    """Pixel accuracy, per-class IoU = TP / (TP + FP + FN) and their mean over the classes
    present in the truth or the prediction (a class in neither has no IoU: None), from the
    pixel confusion matrix; the same for the all-background prediction (class 0)."""
    from sklearn.metrics import confusion_matrix
    num_classes = len(class_names)
    y_true = np.asarray(y_true).ravel()

    def scores(predicted):
        matrix = confusion_matrix(y_true, np.asarray(predicted).ravel(), labels=np.arange(num_classes))
        tp = np.diag(matrix).astype(np.float64)
        union = matrix.sum(0) + matrix.sum(1) - tp
        iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
        return float(tp.sum() / max(matrix.sum(), 1)), iou, matrix

    accuracy, iou, matrix = scores(y_pred)
    baseline_accuracy, baseline_iou, _ = scores(np.zeros_like(y_true))
    return {"accuracy": accuracy, "mean_iou": float(np.nanmean(iou)),
            "per_class_iou": {name: None if np.isnan(v) else float(v) for name, v in zip(class_names, iou)},
            "baseline_accuracy": baseline_accuracy, "baseline_mean_iou": float(np.nanmean(baseline_iou)),
            "pixels": int(matrix.sum()), "confusion": matrix.tolist()}


def predict_maps(model, x, batch_size=64):
    """Predicted class per pixel (N, H, W) uint8."""
    maps = [model.predict(x[i:i + batch_size].astype("float32"), verbose=0).argmax(-1)
            for i in range(0, len(x), batch_size)]
    return np.concatenate(maps).astype(np.uint8)


# ---------------------------------------------------------------- train

def _preprocessing(dataset, names, shape):
    return {"task": "segmentation", "dataset": dataset, "class_names": names, "canvas_size": list(shape[:2]),
            "channels": int(shape[2]), "input_range": [0, 255],
            # how predict brings a picture to the model's size: kept whole and padded (digits),
            # or stretched as the training photos were (pets)
            "fit": "pad" if dataset == "mnist-canvas" else "stretch",
            "light_on_dark": dataset == "mnist-canvas"}


def train_model(args):
    """Train an FCN or a U-Net on MNIST canvases or Oxford-IIIT Pet. Validation: canvases
    of the validation digits (a seeded split of MNIST train), or a seeded share of the pet
    trainval list; the test data are never read. Loss: per-pixel cross-entropy; the epoch
    with the best validation mean IoU is kept. Writes model.keras, config.json,
    metrics.json, log.csv and TensorBoard logs to --out."""
    import keras

    from shared import training
    from shared.modelio import save_model
    from shared.segmentation import build_segmenter

    if args.arch == "unet" and args.skips != 2:
        raise UserError("--skips applies to --arch fcn only")
    training.set_seed(args.seed)
    training.set_precision(args.mixed_bfloat16)
    options = vars(args)
    x_train, y_train = load_data(args.dataset, "train", options, args.data_dir)
    x_val, y_val = load_data(args.dataset, "validation", options, args.data_dir)
    names = class_names(args.dataset)
    extra = {"skips": args.skips} if args.arch == "fcn" else {}
    try:
        model = build_segmenter(args.arch, x_train.shape[1:], len(names), width=args.width, depth=args.depth,
                                batch_norm=args.batch_norm, **extra)
    except ValueError as error:
        raise UserError(f"--arch {args.arch}: {error}") from None
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, steps - steps // 20), warmup_target=args.learning_rate,
        warmup_steps=steps // 20)  # 5% warm-up, then cosine to zero, as the classifiers
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.MeanIoU(len(names), sparse_y_pred=False, name="mean_iou")])
    config = common.training_config(args, command="segment-train", train_examples=len(x_train),
                                    val_examples=len(x_val), parameters=model.count_params())
    preprocessing = _preprocessing(args.dataset, names, x_train.shape[1:])

    def save(m, path):
        return save_model(m, path, app=APP, config=config, preprocessing=preprocessing)
    metrics = training.fit(model, _dataset(x_train, y_train, args.batch_size, True, args.seed),
                           _dataset(x_val, y_val, 128), out_dir=args.out, epochs=args.epochs, config=config,
                           save=save, resume=args.resume, patience=args.patience, monitor="val_mean_iou",
                           time_budget_s=args.time_budget and args.time_budget * 60)
    print(f"best val_mean_iou {metrics['best_val_mean_iou']:.4f} at epoch {metrics['best_epoch']}; "
          f"model: {metrics['model']}")
    return 0


def _dataset(x, y, batch_size, shuffle=False, seed=0):
    from apps.image.data import make_dataset
    return make_dataset(x, y, batch_size, shuffle=shuffle, seed=seed)


# ---------------------------------------------------------------- evaluate

def _segmentation_model(path):
    from shared.modelio import load_model
    model, meta = load_model(path, app=APP)
    if meta["preprocessing"].get("task") != "segmentation":
        raise UserError(f"{path}: a classifier, not a segmentation model; use `run.py image evaluate/predict`")
    return model, meta


def evaluate_model(args):
    """Pixel accuracy, mean IoU and per-class IoU of a segmentation model on the validation
    split it was trained with, on test data (t10k canvases or the pet test list), or on
    canvases of the t10k files in a folder; with the all-background baseline for comparison."""
    from shared.evaluation import confusion_matrix_png, print_json_line

    model, meta = _segmentation_model(args.model)
    config, rule = meta["config"], meta["preprocessing"]
    dataset = rule["dataset"]
    if args.data in ("validation", "test"):
        x, y = load_data(dataset, args.data, config, args.data_dir, count=args.count)
    elif dataset == "mnist-canvas":
        x, y = load_data(dataset, "test", config, count=args.count, folder=args.data)
    else:
        raise UserError(f"--data {args.data}: an oxford-pet model is evaluated on 'validation' or 'test'")
    if tuple(x.shape[1:]) != tuple(model.input_shape[1:]):
        raise UserError(f"{args.data}: pictures are {tuple(x.shape[1:])} but the model expects "
                        f"{tuple(model.input_shape[1:])}")
    names = rule["class_names"]
    predicted = predict_maps(model, x, args.batch_size)
    metrics = segmentation_metrics(y, predicted, names)
    confusion = metrics.pop("confusion")
    metrics.update(n=len(x), model=str(args.model), data=str(args.data), dataset=dataset)
    if args.confusion:
        _confusion_png(np.asarray(confusion), names, args.confusion, f"{Path(args.model).name} on {args.data} (pixels)")
    print(f"pixel accuracy {metrics['accuracy']:.4f}  mean IoU {metrics['mean_iou']:.4f}  n={len(x)} "
          f"({metrics['pixels']:,} pixels); all-background baseline: mean IoU {metrics['baseline_mean_iou']:.4f}, "
          f"accuracy {metrics['baseline_accuracy']:.4f}")
    print("IoU per class: " + ", ".join(f"{name} {'-' if v is None else f'{v:.3f}'}"
                                        for name, v in metrics["per_class_iou"].items()))
    if args.json:
        print_json_line(metrics)
    return 0


def _confusion_png(matrix, names, path, title):
    """The pixel confusion matrix, each row normalised (recall per class)."""
    from shared.plots import pyplot, save_figure
    plt = pyplot()
    shares = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    size = max(5, 0.5 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45)
    ax.set_yticks(range(len(names)), names)
    for (i, j), value in np.ndenumerate(shares):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white" if value > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path, dpi=100)


# ---------------------------------------------------------------- predict

def to_model_input(image, rule):
    """A PIL image as the model's input (H, W, channels) uint8. Digit models: grey, inverted
    when the border is light (dark ink on paper, as the canvases are light on dark), scaled
    to fit the canvas whole (aspect kept) and centred on black padding. Pet models: RGB,
    stretched to the model's square as the training photos were."""
    from PIL import Image
    height, width = rule["canvas_size"]
    picture = image.convert("L" if rule["channels"] == 1 else "RGB")
    if rule.get("fit") == "stretch":
        array = np.asarray(picture.resize((width, height), Image.BILINEAR), np.uint8)
        return array[..., None] if array.ndim == 2 else array
    grey = np.asarray(picture, np.uint8)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if rule.get("light_on_dark") and np.median(border) > 127:
        picture = Image.fromarray(255 - grey)
    scale = min(width / picture.width, height / picture.height)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    scaled = np.asarray(picture.resize(size, Image.LANCZOS), np.uint8)
    frame = np.zeros((height, width) + scaled.shape[2:], np.uint8)
    top, left = (height - scaled.shape[0]) // 2, (width - scaled.shape[1]) // 2
    frame[top:top + scaled.shape[0], left:left + scaled.shape[1]] = scaled
    return frame[..., None] if frame.ndim == 2 else frame


PALETTE = ["#000000", "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
           "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324"]


def overlay_png(picture, mask, names, path, title=""):
    """The picture and, beside it, the picture with the predicted classes in colour
    (background left clear) and a legend of the classes found with their pixel counts."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from shared.plots import pyplot, save_figure
    plt = pyplot()
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(names))]
    counts = np.bincount(mask.ravel(), minlength=len(names))
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    shown = picture[..., 0] if picture.shape[-1] == 1 else picture
    for ax in axes:
        ax.imshow(shown, cmap="gray", vmin=0, vmax=255)
        ax.axis("off")
    axes[1].imshow(np.ma.masked_equal(mask, 0), cmap=ListedColormap(colours), vmin=0, vmax=len(names) - 1,
                   alpha=0.6, interpolation="nearest")
    axes[0].set_title("input (as the model sees it)", fontsize=9)
    axes[1].set_title("predicted classes", fontsize=9)
    handles = [Patch(color=colours[c], label=f"{names[c]}: {counts[c]:,} px") for c in np.flatnonzero(counts) if c]
    if handles:
        axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def predict_images(args):
    """For each picture, the class of every pixel: an overlay PNG (the picture as the model
    sees it, the predicted classes in colour, a legend) written to --out, and the classes
    found with their pixel counts printed. Unreadable files are reported and skipped; the
    rest are still predicted (exit status 1 if any failed)."""
    from apps.image.preprocess import load_image

    model, meta = _segmentation_model(args.model)
    rule, names = meta["preprocessing"], meta["preprocessing"]["class_names"]
    inputs, paths, failures = [], [], []
    for path in args.images:
        try:
            inputs.append(to_model_input(load_image(path), rule))
            paths.append(path)
        except UserError as error:
            failures.append(str(error))
            print(f"skipped: {error}", file=sys.stderr)
    out = Path(args.out)
    if inputs:
        maps = predict_maps(model, np.stack(inputs))
        stems = {}
        for path, picture, mask in zip(paths, inputs, maps):
            stem = Path(path).stem
            stems[stem] = stems.get(stem, 0) + 1  # two inputs of the same name get two PNGs
            png = out / (f"{stem}_segmentation.png" if stems[stem] == 1 else f"{stem}_{stems[stem]}_segmentation.png")
            counts = np.bincount(mask.ravel(), minlength=len(names))
            overlay_png(picture, mask, names, png, title=Path(path).name)
            found = {names[c]: int(counts[c]) for c in np.argsort(counts)[::-1] if counts[c]}
            if args.json:
                print(json.dumps({"file": path, "png": str(png), "pixels": found}))
            else:
                print(f"{path}: " + ", ".join(f"{name} {n:,} px" for name, n in found.items()) + f"; wrote {png}")
    if failures:
        print(f"{len(failures)} of {len(args.images)} files could not be read", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------- demo

def demo(out_dir, minutes, data_dir):
    """A short FCN run on MNIST canvases for the image demo: train on 1,000 canvases within
    `minutes`, evaluate on 300 validation canvases against the all-background baseline, predict
    one validation canvas saved as a PNG. Returns the Markdown section; its pictures are
    linked relative to the report's image/ folder. An FCN: in tens of seconds a U-Net learns
    where the ink is but not yet which digit it belongs to."""
    from PIL import Image

    from shared.modelio import load_model
    out_dir = Path(out_dir)
    argv = ["train", "--arch", "fcn", "--width", 16, "--depth", 3, "--canvases", 1000, "--val-canvases", 300,
            "--epochs", 6, "--batch-size", 16, "--learning-rate", 3e-3, "--time-budget", minutes,
            "--out", out_dir / "run"] + (["--data-dir", data_dir] if data_dir else [])
    args = common.parse_command(register, argv)
    started = time.time()
    train_model(args)
    train_seconds = time.time() - started
    model, meta = load_model(out_dir / "run" / "model.keras", app=APP)
    x, y = load_data("mnist-canvas", "validation", meta["config"], data_dir)
    metrics = segmentation_metrics(y, predict_maps(model, x), meta["preprocessing"]["class_names"])
    metrics.pop("confusion")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    sample = out_dir / "canvas.png"
    Image.fromarray(x[0, ..., 0]).save(sample)
    predict = common.parse_command(register, ["predict", "--model", out_dir / "run" / "model.keras", sample,
                                              "--out", out_dir])
    predict_images(predict)
    return (f"### Segmentation: digits on 64x64 canvases\n\nAn FCN (width 16, three pooling stages, two skips, "
            f"{model.count_params():,} parameters) trained for {train_seconds:.0f} s on 1,000 canvases of 1-3 "
            f"MNIST digits, every pixel labelled with its digit or background. On {len(x)} validation canvases "
            f"(digits never trained on): mean IoU **{metrics['mean_iou']:.4f}** against "
            f"{metrics['baseline_mean_iou']:.4f} for predicting background everywhere; pixel accuracy "
            f"{metrics['accuracy']:.4f}.\n\n![segmentation](image/segment/canvas_segmentation.png)\n")
