"""The image classifiers, each a configuration of the shared conv core.

- `lenet5`: LeCun et al. 1998 with ReLU and max pooling (two 5x5 convs, 120-84 dense).
- `vgg`: Simonyan & Zisserman's pattern at MNIST scale: three stages of 3x3 convs
  (two each by default; `convs_per_stage` changes that, as VGG's configurations
  A-E do) with batch norm, max pooling after a stage, global average pooling.
- `resnet`: a small pre-classification ResNet (He et al. 2016): a 3x3 stem and
  three stages of two residual units (widths w, 2w, 4w; stride 2 between stages).

- `alexnet`: Krizhevsky et al. 2012 at MNIST scale: five convolutions (5x5, 5x5,
  3x3 x 3; widths w, 2w, 4w, 4w, 2w), ReLU, overlapping 3x3 max pooling with stride 2,
  two dropout-regularised hidden layers of 8w. (No local response normalisation:
  later work found it adds nothing.)
- `inception`: GoogLeNet (Szegedy et al. 2015) in miniature: a 3x3 stem, modules 3a and
  3b, pooling, module 4a, with the paper's branch widths scaled by w/64, global average
  pooling, dropout 0.4, softmax.
- `densenet`: DenseNet-BC (Huang et al. 2017): three dense blocks of four layers,
  growth rate w/2, transitions with compression 0.5, global average pooling.
- `highway`: a convolutional highway network (Srivastava et al. 2015): three stages
  (w, 2w, 4w) of a 3x3 convolution and two highway blocks, pooling between them.
- `mobilenet`: MobileNet v1 (Howard et al. 2017): a 3x3 stem, then depthwise-separable
  blocks (2w, 4w/2, 4w, 8w/2, 8w; /2: stride 2), global average pooling.
- `mobilenetv2`: MobileNet v2 (Sandler et al. 2018): inverted residuals with linear
  bottlenecks (expansion 6), a 1x1 to 4w before global average pooling.
- `squeezenet`: SqueezeNet (Iandola et al. 2016): a 3x3 stem, four fire modules with
  max pooling between pairs, dropout 0.5, and the Network-in-Network head (a 1x1
  convolution to the classes, global average pooling): no dense layer.
- `shufflenet`: ShuffleNet v1 (Zhang et al. 2018) with 3 groups at half the paper's
  widths (0.5x: stages of 120 and 240 channels at w=32): two stages, each a stride-2
  unit and a stride-1 unit.

Every architecture's normalization can be chosen (`norm`: batch, layer, instance,
group, none); the default is each paper's own (batch norm for all but LeNet-5, AlexNet
and SqueezeNet, which had none). The blocks are those of `shared.blocks`.

Pixels enter as 0..255 and are rescaled inside the model; optional
augmentation layers sit inside it too (active only in training), so the
saved model needs no outside preprocessing beyond resizing to 28x28.
"""
import keras
from keras import layers

from apps.image import ARCHITECTURES
from shared import blocks
from shared.builders import ConvSpec, classifier_head, conv_stack

# The architectures whose papers used no normalization.
UNNORMALIZED = ("lenet5", "alexnet", "squeezenet")


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


def _specs(arch, width, norm, convs_per_stage=(2, 2, 2), dropout=0.3):
    """The ConvSpecs and head options of the plain and residual stacks."""
    w = width
    if arch == "lenet5":
        return [ConvSpec(6 * w // 32 or 6, 5, padding="same", pool="max", norm=norm),
                ConvSpec(16 * w // 32 or 16, 5, padding="valid", pool="max", norm=norm)], dict(hidden=(120, 84))
    if arch == "alexnet":  # overlapping pooling: 3x3 windows, stride 2
        pool = dict(pool="max", pool_size=3, pool_strides=2)
        return [ConvSpec(w, 5, norm=norm, **pool), ConvSpec(2 * w, 5, norm=norm, **pool),
                ConvSpec(4 * w, 3, norm=norm), ConvSpec(4 * w, 3, norm=norm),
                ConvSpec(2 * w, 3, norm=norm, **pool)], dict(hidden=(8 * w, 8 * w), dropout=0.5)
    if arch == "vgg":  # three stages (w, 2w, 4w filters); each ends with max pooling (not the last) and dropout
        specs = []
        for stage, convs in enumerate(convs_per_stage):  # dropout grows with depth: 1/3, 2/3, 1 x the rate
            specs += [ConvSpec(w * 2 ** stage, 3, norm=norm) for _ in range(convs - 1)]
            specs.append(ConvSpec(w * 2 ** stage, 3, norm=norm, pool="max" if stage < 2 else None,
                                  dropout=round(dropout * (stage + 1) / 3, 4)))
        return specs, dict(global_pool="avg", dropout=dropout)
    if arch == "resnet":
        return [ConvSpec(w, 3, norm=norm),
                ConvSpec(w, 3, norm=norm, residual=True), ConvSpec(w, 3, norm=norm, residual=True),
                ConvSpec(2 * w, 3, strides=2, norm=norm, residual=True),
                ConvSpec(2 * w, 3, norm=norm, residual=True),
                ConvSpec(4 * w, 3, strides=2, norm=norm, residual=True),
                ConvSpec(4 * w, 3, norm=norm, residual=True)], dict(global_pool="avg", dropout=0.2)
    return None, None


def _scaled(values, factor):
    return tuple(max(1, round(v * factor)) for v in values)


def _block_network(arch, x, num_classes, w, norm):
    """The block-built architectures: features from `x`, then their head."""
    if arch == "inception":  # GoogLeNet's 3a, 3b, 4a columns (Table 1), scaled by w/64
        x = blocks.conv_norm_act(x, w, 3, "stem", norm)
        x = layers.MaxPooling2D(2, name="stem_pool")(x)
        x = blocks.inception_module(x, _scaled((64, 96, 128, 16, 32, 32), w / 64), "inception3a", norm)
        x = blocks.inception_module(x, _scaled((128, 128, 192, 32, 96, 64), w / 64), "inception3b", norm)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool3")(x)
        x = blocks.inception_module(x, _scaled((192, 96, 208, 16, 48, 64), w / 64), "inception4a", norm)
        return classifier_head(x, num_classes, global_pool="avg", dropout=0.4)
    if arch == "densenet":
        growth = max(2, w // 2)
        x = blocks.conv_norm_act(x, 2 * growth, 3, "stem", "none", activation=None)
        for i in range(3):
            x = blocks.dense_block(x, 4, growth, f"dense{i + 1}", norm)
            if i < 2:
                x = blocks.transition(x, f"transition{i + 1}", norm)
        x = blocks.norm_act(x, norm, "relu", "final")
        return classifier_head(x, num_classes, global_pool="avg")
    if arch == "highway":
        for stage in range(3):
            x = blocks.conv_norm_act(x, w * 2 ** stage, 3, f"stage{stage + 1}", norm)
            for i in range(2):
                x = blocks.highway_block(x, f"highway{stage + 1}_{i + 1}", norm)
            if stage < 2:
                x = layers.MaxPooling2D(2, name=f"pool{stage + 1}")(x)
        return classifier_head(x, num_classes, global_pool="avg", dropout=0.2)
    if arch == "mobilenet":
        x = blocks.conv_norm_act(x, w, 3, "stem", norm)
        for i, (filters, strides) in enumerate([(2 * w, 1), (4 * w, 2), (4 * w, 1), (8 * w, 2), (8 * w, 1)]):
            x = blocks.separable_block(x, filters, f"separable{i + 1}", norm, strides)
        return classifier_head(x, num_classes, global_pool="avg", dropout=0.2)
    if arch == "mobilenetv2":  # (expansion, filters, stride, repeats), Table 2's pattern at 28x28
        x = blocks.conv_norm_act(x, w, 3, "stem", norm, activation="relu6")
        stages = [(1, w // 2, 1, 1), (6, 3 * w // 4, 2, 2), (6, w, 2, 2), (6, 2 * w, 1, 2)]
        for s, (expansion, filters, strides, repeats) in enumerate(stages):
            for r in range(repeats):
                x = blocks.inverted_residual(x, max(1, filters), f"ir{s + 1}_{r + 1}", norm,
                                             strides if r == 0 else 1, expansion)
        x = blocks.conv_norm_act(x, 4 * w, 1, "last", norm, activation="relu6")
        return classifier_head(x, num_classes, global_pool="avg", dropout=0.2)
    if arch == "squeezenet":  # fire2-3, pool, fire4-5 (squeeze w/4 then w/2; expand w then 2w)
        x = blocks.conv_norm_act(x, w, 3, "stem", norm)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
        for i, (squeeze, expand) in enumerate([(w // 4, w), (w // 4, w), (w // 2, 2 * w), (w // 2, 2 * w)]):
            x = blocks.fire_module(x, max(1, squeeze), expand, f"fire{i + 2}", norm)
            if i == 1:
                x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
        return blocks.gap_head(x, num_classes, dropout=0.5)
    if arch == "shufflenet":  # 3 groups; channels in multiples of 12 so every grouped 1x1 divides
        groups = 3
        stem = max(12, round(24 * w / 32 / 12) * 12)
        x = blocks.conv_norm_act(x, stem, 3, "stem", norm)
        channels = stem
        for stage in range(2):
            channels = max(channels + 12, round(120 * 2 ** stage * w / 32 / 12) * 12)
            x = blocks.shuffle_unit(x, channels, f"stage{stage + 2}_1", norm, strides=2, groups=groups,
                                    first_grouped=stage > 0)
            x = blocks.shuffle_unit(x, channels, f"stage{stage + 2}_2", norm, groups=groups)
        return classifier_head(x, num_classes, global_pool="avg")
    raise ValueError(f"unknown architecture {arch!r}; choose from {ARCHITECTURES}")


def build_model(arch="vgg", num_classes=10, width=32, augment=None, dataset="mnist", input_size=28,
                convs_per_stage=(2, 2, 2), dropout=0.3, norm=None):
    """`augment`: None, "full" (or True) or "flip"; see `augmentation_layers`.
    `convs_per_stage` (vgg only): 3x3 convolutions in each of the three stages;
    (1, 2, 2) drops the costliest layer (the second one at 28x28), ~1.6x faster.
    `dropout` (vgg only): the rate of the head and the last stage; the first two
    stages get 1/3 and 2/3 of it. `norm`: the normalization of every block (default: the
    architecture's own)."""
    if arch != "vgg" and (tuple(convs_per_stage) != (2, 2, 2) or dropout != 0.3):
        raise ValueError("convs_per_stage and dropout apply to the vgg architecture only")
    if len(convs_per_stage) != 3 or min(convs_per_stage) < 1:
        raise ValueError(f"convs_per_stage must be three counts >= 1, got {tuple(convs_per_stage)}")
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose from {ARCHITECTURES}")
    norm = norm or ("none" if arch in UNNORMALIZED else "batch")
    inputs = keras.Input(shape=(input_size, input_size, 1), name="input")
    x = layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    for layer in augmentation_layers(dataset, "flip" if augment == "flip" else "full") if augment else ():
        x = layer(x)
    specs, head = _specs(arch, width, norm, tuple(convs_per_stage), dropout)
    if specs is not None:
        outputs = classifier_head(conv_stack(x, specs), num_classes, **head)
    else:
        outputs = _block_network(arch, x, num_classes, width, norm)
    return keras.Model(inputs, outputs, name=f"image_{arch}")
