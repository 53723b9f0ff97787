"""Conv-stack builder: the one place where the suite's convolutional layers are made.

Every app describes its network as a list of `ConvSpec`s (kernel sizes per axis,
strides, padding, dilation, batch norm, pooling or none, residual blocks) and
calls `conv_stack`. The Go policy net (no pooling, 5x5 then 3x3), the speech
net (kernels and pooling along frequency only) and the image nets (LeNet, VGG,
ResNet) are all configurations of the same code. Works for 1D and 2D inputs.
"""
import dataclasses
from typing import Optional, Tuple, Union

import keras
from keras import layers

from shared.blocks import normalization

Size = Union[int, Tuple[int, ...]]


@dataclasses.dataclass
class ConvSpec:
    """One convolutional block: conv -> [batch norm] -> activation -> [pool] -> [dropout].

    With `residual=True` the block is a two-conv residual unit (He et al. 2016):
    conv -> BN -> act -> conv -> BN, plus a shortcut (1x1 conv when the shape
    changes), then the activation.
    """
    filters: int
    kernel: Size = 3
    strides: Size = 1
    padding: str = "same"  # "same", "valid", or "full" (wide convolution, 1D only: n + m - 1 outputs)
    dilation: Size = 1
    batch_norm: bool = False  # the same as norm="batch"
    norm: Optional[str] = None  # one of shared.blocks.NORMS: batch, layer, instance, group, none
    activation: Optional[str] = "relu"
    pool: Optional[str] = None  # None, "max" or "avg"
    pool_size: Size = 2
    pool_strides: Optional[Size] = None
    dropout: float = 0.0
    residual: bool = False
    use_bias: Optional[bool] = None  # default: no bias when batch norm follows
    kernel_initializer: str = "he_normal"
    kernel_constraint: Optional[object] = None  # e.g. keras.constraints.MaxNorm(3)
    # Limited weight sharing (Abdel-Hamid et al. 2014): separate filters for each section of
    # this many output positions along the last spatial axis (2D, valid padding, no residual).
    lws_section: Optional[int] = None

    def to_dict(self):
        return dataclasses.asdict(self)


def _layer_classes(rank):
    if rank == 1:
        return layers.Conv1D, layers.MaxPooling1D, layers.AveragePooling1D
    if rank == 2:
        return layers.Conv2D, layers.MaxPooling2D, layers.AveragePooling2D
    raise ValueError(f"conv_stack supports 1D and 2D inputs, got rank {rank}")


def conv_block(x, spec: ConvSpec, name: str):
    """Apply one `ConvSpec` to tensor `x` (batch, *spatial, channels)."""
    rank = len(x.shape) - 2
    conv_cls, max_pool, avg_pool = _layer_classes(rank)
    norm_kind = spec.norm or ("batch" if spec.batch_norm else "none")
    use_bias = (norm_kind == "none") if spec.use_bias is None else spec.use_bias

    def conv(y, strides, suffix):
        if spec.padding == "full":  # wide convolution (Kalchbrenner et al. 2014): shared.layers.WideConv1D
            if rank != 1 or strides not in (1, (1,)) or spec.dilation not in (1, (1,)):
                raise ValueError("padding='full' supports 1D, stride 1, no dilation")
            from shared.layers import WideConv1D
            kernel = spec.kernel[0] if isinstance(spec.kernel, (tuple, list)) else spec.kernel
            return WideConv1D(spec.filters, kernel, use_bias=use_bias, kernel_initializer=spec.kernel_initializer,
                              kernel_constraint=spec.kernel_constraint, name=f"{name}_{suffix}")(y)
        if spec.lws_section:
            from shared.layers import LimitedWeightSharingConv2D
            row_stride = strides[0] if isinstance(strides, (tuple, list)) else strides
            col_stride = strides[-1] if isinstance(strides, (tuple, list)) else strides
            if rank != 2 or spec.padding != "valid" or col_stride != 1 or spec.dilation not in (1, (1, 1)):
                raise ValueError("lws_section needs a 2D input, padding='valid', column stride 1, no dilation")
            return LimitedWeightSharingConv2D(spec.filters, spec.kernel, spec.lws_section, row_stride=row_stride,
                                              use_bias=use_bias, name=f"{name}_{suffix}_lws")(y)
        return conv_cls(spec.filters, spec.kernel, strides=strides, padding=spec.padding,
                        dilation_rate=spec.dilation, use_bias=use_bias,
                        kernel_initializer=spec.kernel_initializer, kernel_constraint=spec.kernel_constraint,
                        name=f"{name}_{suffix}")(y)

    def norm(y, suffix):
        layer = normalization(norm_kind, y.shape[-1], f"{name}_{suffix}")
        return y if layer is None else layer(y)

    if spec.residual:
        shortcut = x
        y = layers.Activation(spec.activation, name=f"{name}_act1")(norm(conv(x, spec.strides, "conv1"), "bn1"))
        y = norm(conv(y, 1, "conv2"), "bn2")
        if shortcut.shape[-1] != spec.filters or spec.strides not in (1, (1,) * rank):
            shortcut = conv_cls(spec.filters, 1, strides=spec.strides, padding="same", use_bias=use_bias,
                                kernel_initializer="he_normal", name=f"{name}_shortcut")(shortcut)
            shortcut = norm(shortcut, "shortcut_bn")
        x = layers.Add(name=f"{name}_add")([y, shortcut])
        x = layers.Activation(spec.activation, name=f"{name}_act")(x)
    else:
        x = norm(conv(x, spec.strides, "conv"), "bn")
        if spec.activation:
            x = layers.Activation(spec.activation, name=f"{name}_act")(x)
    if spec.pool:
        pool_cls = {"max": max_pool, "avg": avg_pool}[spec.pool]
        x = pool_cls(spec.pool_size, strides=spec.pool_strides, padding="same" if spec.padding == "same" else "valid",
                     name=f"{name}_{spec.pool}pool")(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name=f"{name}_dropout")(x)
    return x


def conv_stack(x, specs, name="conv"):
    """Apply a list of `ConvSpec`s in order; block i is named `{name}{i + 1}`."""
    for i, spec in enumerate(specs):
        x = conv_block(x, spec, f"{name}{i + 1}")
    return x


def classifier_head(x, num_classes, hidden=(), dropout=0.0, global_pool=None, name="head"):
    """Flatten (or global-pool), optional hidden dense layers, softmax.

    The softmax runs in float32 so that mixed-precision training stays stable.
    """
    if global_pool == "avg":
        x = (layers.GlobalAveragePooling2D if len(x.shape) == 4 else layers.GlobalAveragePooling1D)(
            name=f"{name}_gap")(x)
    elif global_pool == "max":
        x = (layers.GlobalMaxPooling2D if len(x.shape) == 4 else layers.GlobalMaxPooling1D)(
            name=f"{name}_gmp")(x)
    elif len(x.shape) > 2:
        x = layers.Flatten(name=f"{name}_flatten")(x)
    for i, units in enumerate(hidden):
        x = layers.Dense(units, activation="relu", name=f"{name}_dense{i + 1}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_dropout{i + 1}")(x)
    if dropout and not hidden:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name=f"{name}_softmax")(x)


def build_classifier(input_shape, specs, num_classes, *, preprocess=(), hidden=(), dropout=0.0,
                     global_pool=None, name="classifier"):
    """A complete Keras classifier: preprocessing layers, conv stack, head."""
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for layer in preprocess:
        x = layer(x)
    x = conv_stack(x, specs)
    outputs = classifier_head(x, num_classes, hidden=hidden, dropout=dropout, global_pool=global_pool)
    return keras.Model(inputs, outputs, name=name)
