"""The supervised-learning policy network of AlphaGo (Silver et al. 2016, Methods).

Layer 1 convolves the 48 feature planes with 5x5 filters (zero padding, stride
1, ReLU); layers 2 .. L-1 are 3x3 (zero padding, stride 1, ReLU); layer L is a
1x1 convolution to ONE plane followed by a separate bias for every point
(`PointBias`), and a softmax over the 361 points. There is no pooling
anywhere: subsampling a Go board changes what it means (a stone one point to
the left is a different move), so every layer keeps the full 19x19 grid.

`layers` counts all convolutions, as the paper does: `alphago` = 13 layers
(one 5x5, eleven 3x3, the final 1x1) x 192 filters = 3,882,793 parameters.

Two later variants keep the no-pooling, full-board design and the same head
(a 1x1 convolution to one plane, the per-point bias, softmax); `layers` still
counts the convolutions along the path from input to output:
- `residual` (Cazenave 2018, "Residual Networks for Computer Go"): the 5x5 layer,
  then (layers - 2) / 2 residual units of two 3x3 convolutions with batch norm.
- `mobile` (Cazenave 2020, "Mobile Networks for Computer Go"): the 5x5 layer, then
  layers - 2 MobileNet v2 inverted residuals (1x1 expansion by 6, depthwise 3x3,
  linear 1x1 projection, batch norm), which cost far fewer multiply-adds per layer.
"""
import keras
from keras import layers

from apps.go import ARCHITECTURES, PRESETS
from apps.go.features import NUM_PLANES
from shared import blocks
from shared.builders import ConvSpec, conv_stack

BOARD_SIZE = 19

# name -> (layers, filters). `default` is sized for a 2-core CPU (about 0.17
# GFLOP per position forward, 18x less than `alphago`).


@keras.saving.register_keras_serializable(package="beyond_pixels")
class PointBias(layers.Layer):
    """Adds a learned bias per board point (and channel): the paper's final-layer
    "different bias for each position", which a convolution's shared bias cannot give."""

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=tuple(input_shape[1:]), initializer="zeros")

    def call(self, inputs):
        return inputs + keras.ops.cast(self.bias, inputs.dtype)


def policy_specs(num_layers, filters):
    """The ConvSpecs of the policy network: 5x5, then 3x3s, then the 1x1 to one plane."""
    if num_layers < 2:
        raise ValueError(f"the policy network needs at least 2 layers (5x5 and 1x1), not {num_layers}")
    if filters < 1:
        raise ValueError(f"filters must be positive, not {filters}")
    return ([ConvSpec(filters, 5, padding="same", use_bias=True)]
            + [ConvSpec(filters, 3, padding="same", use_bias=True) for _ in range(num_layers - 2)]
            + [ConvSpec(1, 1, padding="same", activation=None, use_bias=False)])


def _variant_trunk(x, arch, num_layers, filters):
    """The residual or mobile trunk, then the head's 1x1 convolution (named `head_conv`)."""
    if num_layers < 4:
        raise ValueError(f"the {arch} policy needs at least 4 layers, not {num_layers}")
    x = blocks.conv_norm_act(x, filters, 5, "conv1", "batch")
    if arch == "residual":
        x = conv_stack(x, [ConvSpec(filters, 3, norm="batch", residual=True)
                           for _ in range((num_layers - 2) // 2)], name="res")
    else:
        for i in range(num_layers - 2):
            x = blocks.inverted_residual(x, filters, f"mobile{i + 1}", "batch", expansion=6)
    return layers.Conv2D(1, 1, use_bias=False, name="head_conv")(x)


def build_policy(num_layers=PRESETS["default"][0], filters=PRESETS["default"][1], board_size=BOARD_SIZE,
                 planes=NUM_PLANES, arch="plain"):
    """A Keras model: float32 planes (batch, size, size, planes) -> move probabilities (batch, size*size).
    `arch`: plain (AlphaGo's), residual or mobile."""
    inputs = keras.Input(shape=(board_size, board_size, planes), name="planes")
    if arch == "plain":
        x = conv_stack(inputs, policy_specs(num_layers, filters), name="conv")
    elif arch in ARCHITECTURES:
        x = _variant_trunk(inputs, arch, num_layers, filters)
    else:
        raise ValueError(f"unknown architecture {arch!r}; choose from {ARCHITECTURES}")
    x = PointBias(name="point_bias")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="policy")(x)
    prefix = "go_policy" if arch == "plain" else f"go_{arch}"
    return keras.Model(inputs, outputs, name=f"{prefix}_{num_layers}x{filters}")


def preset_shape(preset, num_layers=None, filters=None):
    """(layers, filters) of a preset, with either overridden by explicit flags."""
    base_layers, base_filters = PRESETS[preset]
    return num_layers or base_layers, filters or base_filters
