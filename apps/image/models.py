"""The image classifiers, each a configuration of the shared conv core.

- `lenet5`: LeCun et al. 1998 with ReLU and max pooling (two 5x5 convs, 120-84 dense).
- `vgg`: Simonyan & Zisserman's pattern at MNIST scale: three stages of 3x3 convs
  (two each by default; `convs_per_stage` changes that, as VGG's configurations
  A-E do) with batch norm, max pooling after a stage, global average pooling.
- `resnet`: a small pre-classification ResNet (He et al. 2016): a 3x3 stem and
  three stages of two residual units (widths w, 2w, 4w; stride 2 between stages).

Pixels enter as 0..255 and are rescaled inside the model; optional
augmentation layers sit inside it too (active only in training), so the
saved model needs no outside preprocessing beyond resizing to 28x28.
"""
from keras import layers

from shared.builders import ConvSpec, build_classifier

ARCHITECTURES = ("lenet5", "vgg", "resnet")


def augmentation_layers(dataset, kind="full"):
    """Small geometric perturbations that keep the label: shifts and rotations
    for digits, shifts and left-right flips for clothes (a flipped 7 is not a 7).
    `kind="flip"` keeps only the flips: cheaper, and shifts slow Fashion's
    convergence more than they help in a short run."""
    if kind == "flip":
        return [layers.RandomFlip("horizontal", name="aug_flip")]
    shift = layers.RandomTranslation(0.1, 0.1, fill_mode="constant", name="aug_translate")
    if dataset == "fashion":  # photos of flat-laid items: never rotated, often mirrored
        return [layers.RandomFlip("horizontal", name="aug_flip"), shift]
    return [shift, layers.RandomRotation(0.04, fill_mode="constant", name="aug_rotate")]  # +-14 degrees


def _specs(arch, width, convs_per_stage=(2, 2, 2), dropout=0.3):
    w = width
    if arch == "lenet5":
        return [ConvSpec(6 * w // 32 or 6, 5, padding="same", pool="max"),
                ConvSpec(16 * w // 32 or 16, 5, padding="valid", pool="max")], dict(hidden=(120, 84))
    if arch == "vgg":  # three stages (w, 2w, 4w filters); each ends with max pooling (not the last) and dropout
        specs = []
        for stage, convs in enumerate(convs_per_stage):  # dropout grows with depth: 1/3, 2/3, 1 x the rate
            specs += [ConvSpec(w * 2 ** stage, 3, batch_norm=True) for _ in range(convs - 1)]
            specs.append(ConvSpec(w * 2 ** stage, 3, batch_norm=True, pool="max" if stage < 2 else None,
                                  dropout=round(dropout * (stage + 1) / 3, 4)))
        return specs, dict(global_pool="avg", dropout=dropout)
    if arch == "resnet":
        return [ConvSpec(w, 3, batch_norm=True),
                ConvSpec(w, 3, batch_norm=True, residual=True), ConvSpec(w, 3, batch_norm=True, residual=True),
                ConvSpec(2 * w, 3, strides=2, batch_norm=True, residual=True),
                ConvSpec(2 * w, 3, batch_norm=True, residual=True),
                ConvSpec(4 * w, 3, strides=2, batch_norm=True, residual=True),
                ConvSpec(4 * w, 3, batch_norm=True, residual=True)], dict(global_pool="avg", dropout=0.2)
    raise ValueError(f"unknown architecture {arch!r}; choose from {ARCHITECTURES}")


def build_model(arch="vgg", num_classes=10, width=32, augment=None, dataset="mnist", input_size=28,
                convs_per_stage=(2, 2, 2), dropout=0.3):
    """`augment`: None, "full" (or True) or "flip"; see `augmentation_layers`.
    `convs_per_stage` (vgg only): 3x3 convolutions in each of the three stages;
    (1, 2, 2) drops the costliest layer (the second one at 28x28), ~1.6x faster.
    `dropout` (vgg only): the rate of the head and the last stage; the first two
    stages get 1/3 and 2/3 of it."""
    if arch != "vgg" and (tuple(convs_per_stage) != (2, 2, 2) or dropout != 0.3):
        raise ValueError("convs_per_stage and dropout apply to the vgg architecture only")
    if len(convs_per_stage) != 3 or min(convs_per_stage) < 1:
        raise ValueError(f"convs_per_stage must be three counts >= 1, got {tuple(convs_per_stage)}")
    specs, head = _specs(arch, width, tuple(convs_per_stage), dropout)
    preprocess = [layers.Rescaling(1 / 255.0, name="rescale")]
    if augment:
        preprocess += augmentation_layers(dataset, "flip" if augment == "flip" else "full")
    return build_classifier((input_size, input_size, 1), specs, num_classes, preprocess=preprocess,
                            name=f"image_{arch}", **head)
