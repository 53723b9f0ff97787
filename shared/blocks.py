"""Architecture blocks of the conv core: each a small builder over Keras layers that
takes a tensor (batch, *spatial, channels), 1D or 2D, and returns the block's output.

The apps compose them into networks (apps/*/models.py); `shared.builders`
keeps the plain conv stack and residual unit. Every block takes `norm`, one of
`NORMS`, so the normalization is a choice, not a property of the architecture:

- `batch` (Ioffe & Szegedy 2015): statistics over the batch and positions, per channel;
  running averages at inference.
- `layer` (Ba et al. 2016): over all positions and channels of one example.
- `instance` (Ulyanov et al. 2016): over the positions of one channel of one example.
- `group` (Wu & He 2018): over the positions of groups of channels of one example
  (32 groups, or fewer when the channels do not allow it).
- `none`: no normalization; the convolutions keep their biases.

Blocks (paper, then what the builder makes):

- `inception_module` (Szegedy et al. 2015, GoogLeNet): four parallel branches,
  1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max-pool -> 1x1, concatenated; the 1x1
  reductions before the 3x3 and 5x5 keep their cost down.
- `dense_block` and `transition` (Huang et al. 2017, DenseNet-BC): each layer
  (norm-ReLU-1x1 to 4k, norm-ReLU-3x3 to k) sees the concatenation of all earlier
  feature maps; a transition (norm-ReLU-1x1 to theta*C, 2x2 average pooling) shrinks them.
- `highway_block` (Srivastava, Greff & Schmidhuber 2015): y = H(x) * T(x) + x * (1 - T(x)),
  a learned sigmoid gate T between a 3x3 convolution H and the identity; the gate's
  bias starts at -1 so that the block begins close to carrying its input.
- `separable_block` (Howard et al. 2017, MobileNet v1): depthwise 3x3, norm, ReLU,
  pointwise 1x1, norm, ReLU: about 1/9 of a full 3x3 convolution's multiply-adds.
- `inverted_residual` (Sandler et al. 2018, MobileNet v2): 1x1 expansion by t, norm,
  ReLU6, depthwise 3x3, norm, ReLU6, linear 1x1 projection, norm; the identity is
  added when the shape allows.
- `fire_module` (Iandola et al. 2016, SqueezeNet): a 1x1 squeeze to s channels, then
  1x1 and 3x3 expansions concatenated.
- `shuffle_unit` (Zhang et al. 2018, ShuffleNet v1): grouped 1x1, norm, ReLU, channel
  shuffle, depthwise 3x3, norm, grouped 1x1, norm; added to the input (stride 1), or
  concatenated with its 3x3 average pooling (stride 2); then ReLU.
- `dilated_stack` (Yu & Koltun 2016; WaveNet's 1D stacks): 3x3 convolutions with
  dilations 1, 2, 4, ...: the receptive field doubles with each layer at no cost in
  resolution or parameters.
- `spatial_pyramid_pooling` (He et al. 2014): pooled bins at several scales, a fixed
  length whatever the input size (`shared.layers.SpatialPyramidPooling`).
- `gap_head` (Lin, Chen & Yan 2014, Network in Network): a 1x1 convolution to one map
  per class, global average pooling, softmax: no dense layer at all.
"""
import keras
from keras import layers

NORMS = ("batch", "layer", "instance", "group", "none")


def _rank(x):
    rank = len(x.shape) - 2
    if rank not in (1, 2):
        raise ValueError(f"blocks take 1D and 2D inputs, got rank {rank}")
    return rank


def _conv(x, filters, kernel, name, strides=1, dilation=1, groups=1, use_bias=True,
          kernel_initializer="he_normal", bias_initializer="zeros"):
    cls = layers.Conv1D if _rank(x) == 1 else layers.Conv2D
    return cls(filters, kernel, strides=strides, padding="same", dilation_rate=dilation, groups=groups,
               use_bias=use_bias, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
               name=name)(x)


def _depthwise(x, name, strides=1, kernel=3):
    cls = layers.DepthwiseConv1D if _rank(x) == 1 else layers.DepthwiseConv2D
    return cls(kernel, strides=strides, padding="same", use_bias=False, depthwise_initializer="he_normal",
               name=name)(x)


def _pool(x, kind, size, strides, name):
    if _rank(x) == 1:
        cls = layers.MaxPooling1D if kind == "max" else layers.AveragePooling1D
    else:
        cls = layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D
    return cls(size, strides=strides, padding="same", name=name)(x)


def _concat(tensors, name):
    return layers.Concatenate(axis=-1, name=name)(tensors)


def normalization(norm, channels, name):
    """The normalization layer for `norm` (one of NORMS) over `channels`, or None for 'none'."""
    if norm == "batch":
        return layers.BatchNormalization(name=name)
    if norm == "layer":  # one group: every position and channel of an example together
        return layers.GroupNormalization(groups=1, name=name)
    if norm == "instance":  # one group per channel
        return layers.GroupNormalization(groups=-1, name=name)
    if norm == "group":
        groups = next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0)
        return layers.GroupNormalization(groups=groups, name=name)
    if norm in (None, "none"):
        return None
    raise ValueError(f"unknown normalization {norm!r}; choose from {NORMS}")


def norm_act(x, norm, activation, name):
    """Normalization (if any), then the activation (if any)."""
    layer = normalization(norm, x.shape[-1], f"{name}_{norm}norm")
    if layer is not None:
        x = layer(x)
    if activation:
        x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def conv_norm_act(x, filters, kernel, name, norm="batch", activation="relu", strides=1, dilation=1, groups=1):
    """The common unit: convolution (no bias when a normalization follows), norm, activation."""
    x = _conv(x, filters, kernel, f"{name}_conv", strides=strides, dilation=dilation, groups=groups,
              use_bias=norm in (None, "none"))
    return norm_act(x, norm, activation, name)


def inception_module(x, filters, name, norm="batch"):
    """GoogLeNet's module; `filters` = (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj),
    the column order of the paper's Table 1. Output channels: 1x1 + 3x3 + 5x5 + pool proj."""
    f1, f3r, f3, f5r, f5, fp = filters
    branch1 = conv_norm_act(x, f1, 1, f"{name}_1x1", norm)
    branch3 = conv_norm_act(conv_norm_act(x, f3r, 1, f"{name}_3x3reduce", norm), f3, 3, f"{name}_3x3", norm)
    branch5 = conv_norm_act(conv_norm_act(x, f5r, 1, f"{name}_5x5reduce", norm), f5, 5, f"{name}_5x5", norm)
    branch_pool = conv_norm_act(_pool(x, "max", 3, 1, f"{name}_pool"), fp, 1, f"{name}_poolproj", norm)
    return _concat([branch1, branch3, branch5, branch_pool], f"{name}_concat")


def dense_block(x, num_layers, growth, name, norm="batch", bottleneck=True):
    """DenseNet(-BC) block: `num_layers` layers each adding `growth` channels to the
    concatenation they all read; with `bottleneck`, a 1x1 to 4 x growth comes first."""
    for i in range(num_layers):
        y = x
        unit = f"{name}_layer{i + 1}"
        if bottleneck:
            y = _conv(norm_act(y, norm, "relu", f"{unit}_a"), 4 * growth, 1, f"{unit}_1x1",
                      use_bias=norm in (None, "none"))
        y = _conv(norm_act(y, norm, "relu", f"{unit}_b"), growth, 3, f"{unit}_3x3", use_bias=norm in (None, "none"))
        x = _concat([x, y], f"{unit}_concat")
    return x


def transition(x, name, norm="batch", compression=0.5):
    """DenseNet's transition: norm, ReLU, 1x1 to compression x channels, 2x2 average pooling."""
    channels = max(1, int(x.shape[-1] * compression))
    x = _conv(norm_act(x, norm, "relu", name), channels, 1, f"{name}_1x1", use_bias=norm in (None, "none"))
    return _pool(x, "avg", 2, 2, f"{name}_avgpool")


def highway_block(x, name, norm="batch", kernel=3, gate_bias=-1.0):
    """A convolutional highway layer; keeps the input's shape (the carry needs it)."""
    channels = x.shape[-1]
    transform = conv_norm_act(x, channels, kernel, f"{name}_h", norm)
    gate = _conv(x, channels, kernel, f"{name}_gate", kernel_initializer="glorot_uniform",
                 bias_initializer=keras.initializers.Constant(gate_bias))
    gate = layers.Activation("sigmoid", name=f"{name}_gate_sigmoid")(gate)
    carried = layers.Multiply(name=f"{name}_carry")([x, _one_minus(gate, f"{name}_1minus")])
    transformed = layers.Multiply(name=f"{name}_transform")([transform, gate])
    return layers.Add(name=f"{name}_add")([transformed, carried])


def _one_minus(gate, name):
    # 1 - T as a plain layer (no Lambda: models with Lambda layers do not load in Keras' safe mode)
    return layers.Rescaling(-1.0, offset=1.0, name=name)(gate)


def separable_block(x, filters, name, norm="batch", strides=1):
    """MobileNet v1's depthwise-separable convolution."""
    x = norm_act(_depthwise(x, f"{name}_dw", strides), norm, "relu", f"{name}_dw")
    return conv_norm_act(x, filters, 1, f"{name}_pw", norm)


def inverted_residual(x, filters, name, norm="batch", strides=1, expansion=6):
    """MobileNet v2's inverted residual with a linear bottleneck."""
    inputs = x
    if expansion != 1:
        x = conv_norm_act(x, x.shape[-1] * expansion, 1, f"{name}_expand", norm, activation="relu6")
    x = norm_act(_depthwise(x, f"{name}_dw", strides), norm, "relu6", f"{name}_dw")
    x = conv_norm_act(x, filters, 1, f"{name}_project", norm, activation=None)
    if strides == 1 and inputs.shape[-1] == filters:
        x = layers.Add(name=f"{name}_add")([inputs, x])
    return x


def fire_module(x, squeeze, expand, name, norm="none"):
    """SqueezeNet's fire module: squeeze 1x1 to `squeeze`, expand to `expand` 1x1 plus
    `expand` 3x3 channels (2 x expand in all). SqueezeNet had no normalization."""
    x = conv_norm_act(x, squeeze, 1, f"{name}_squeeze", norm)
    return _concat([conv_norm_act(x, expand, 1, f"{name}_expand1x1", norm),
                    conv_norm_act(x, expand, 3, f"{name}_expand3x3", norm)], f"{name}_concat")


def shuffle_unit(x, filters, name, norm="batch", strides=1, groups=3, first_grouped=True):
    """ShuffleNet v1's unit. With stride 1 the output has the input's channels (`filters`
    must equal them); with stride 2 it has `filters` (the branch makes filters minus the
    input's channels, the pooled input the rest). The bottleneck is a quarter of the
    output; the first unit of a network takes a 1x1 that is not grouped (`first_grouped`
    False), since its input has too few channels to split."""
    from shared.layers import ChannelShuffle
    inputs = x
    in_channels = x.shape[-1]
    out_branch = filters - in_channels if strides != 1 else filters
    if strides == 1 and filters != in_channels:
        raise ValueError(f"a stride-1 shuffle unit keeps its {in_channels} channels, not {filters}")
    bottleneck = max(groups, (filters // 4) // groups * groups)
    x = conv_norm_act(x, bottleneck, 1, f"{name}_gconv1", norm, groups=groups if first_grouped else 1)
    x = ChannelShuffle(groups, name=f"{name}_shuffle")(x)
    x = norm_act(_depthwise(x, f"{name}_dw", strides), norm, None, f"{name}_dw")
    x = conv_norm_act(x, out_branch, 1, f"{name}_gconv2", norm, activation=None, groups=groups)
    if strides == 1:
        x = layers.Add(name=f"{name}_add")([inputs, x])
    else:
        x = _concat([_pool(inputs, "avg", 3, 2, f"{name}_avgpool"), x], f"{name}_concat")
    return layers.Activation("relu", name=f"{name}_relu")(x)


def dilated_stack(x, filters, name, norm="batch", dilations=(1, 2, 4, 8), kernel=3):
    """Convolutions with growing dilation: the receptive field grows exponentially with depth.
    With kernel k it covers 1 + (k - 1) * sum(dilations) positions per axis."""
    for dilation in dilations:
        x = conv_norm_act(x, filters, kernel, f"{name}_d{dilation}", norm, dilation=dilation)
    return x


def spatial_pyramid_pooling(x, name, levels=(1, 2, 4), pool="max"):
    from shared.layers import SpatialPyramidPooling
    return SpatialPyramidPooling(levels, pool, name=name)(x)


def gap_head(x, num_classes, name="head", dropout=0.0):
    """Network in Network's classifier: [dropout], a 1x1 convolution to one map per class,
    global average pooling, softmax (in float32, for mixed precision)."""
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = _conv(x, num_classes, 1, f"{name}_classmaps", kernel_initializer="glorot_uniform")
    pool = layers.GlobalAveragePooling1D if _rank(x) == 1 else layers.GlobalAveragePooling2D
    x = pool(name=f"{name}_gap")(x)
    return layers.Activation("softmax", dtype="float32", name=f"{name}_softmax")(x)
