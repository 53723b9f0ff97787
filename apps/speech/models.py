"""Speech CNNs on `(time, freq, channels)` log-mel inputs (layout: see features.py).

- `freq_cnn` (Abdel-Hamid, Mohamed, Jiang, Deng, Penn & Yu 2014, "Convolutional
  Neural Networks for Speech Recognition"): convolution and max-pooling along
  frequency only. The first layer's filters span a context window of
  `context` frames and 8 mel bands (kernel `(context, 8)`) and slide along
  frequency; pooling is `(1, 3)`, frequency only. The second layer is
  frequency-only too (`(1, 4)`). For a whole clip the same window detector is
  applied at every frame (`context_stride` frames apart) and the result is
  max-pooled over time into `time_bins` segments at the end (keeping coarse
  order), then a dense layer and softmax. With `lws=True` the first layer uses
  limited weight sharing: separate filters for each frequency section of 3
  positions, each section pooled into one unit (the paper's LWS).
  For frame classification (TIMIT) the input is one context window, so the
  first layer covers all of it and `time_bins=1`.
- `cnn_trad_fpool3` (Sainath & Parada 2015, Table 1): a 2D time-frequency
  baseline: conv 64 x (20 time, 8 freq) + max-pool (1, 3) in frequency, conv
  64 x (10, 4), a linear low-rank layer of 32, a 128-unit ReLU layer, softmax.

- `ds-cnn` (Zhang, Suda, Lai & Chandra 2017, "Hello Edge: Keyword Spotting on
  Microcontrollers", DS-CNN-S): a conv of 64 x (10 time, 4 freq), stride 2 x 2, then
  four depthwise-separable blocks of 64 (3x3 depthwise, 1x1 pointwise, batch norm and
  ReLU after each), global average pooling, softmax.
- `residual` (Tang & Lin 2018, "Deep Residual Learning for Small-Footprint Keyword
  Spotting", res8): a 3x3 conv of 45 maps, 4 x 3 (time x freq) average pooling, three
  residual units of two 3x3 convs with batch norm, global average pooling, softmax.
  (The paper orders each conv as conv, ReLU, batch norm; here batch norm comes before
  the ReLU, as in He et al.'s units.)

Every model starts with a Normalization layer adapted on the training
features (per mel band and channel), so the saved file needs nothing else.
With `frontend="pcen"` a trainable per-channel energy normalisation
(`shared.layers.PerChannelEnergyNormalization`, Wang et al. 2017) replaces the
static log-mel channel before it: a gain control per band instead of the log.
"""
import math

import keras
from keras import layers

from apps.speech import ARCHITECTURES, FRONTENDS
from shared import blocks
from shared.builders import ConvSpec, classifier_head, conv_stack

PCEN_TIME_CONSTANT = 40  # frames: 0.4 s at a 10 ms hop, the paper's and librosa's default


def _input(input_shape, normalizer_data, frontend="log"):
    inputs = keras.Input(shape=tuple(input_shape), name="log_mel")
    if frontend not in FRONTENDS:
        raise ValueError(f"unknown frontend {frontend!r}; choose from {FRONTENDS}")
    x = inputs
    if frontend == "pcen":
        from shared.layers import PerChannelEnergyNormalization
        pcen = PerChannelEnergyNormalization(PCEN_TIME_CONSTANT, name="pcen")
        x = pcen(x)
        if normalizer_data is not None:  # the normaliser sees what it will normalise
            import tensorflow as tf
            normalizer_data = tf.data.Dataset.from_tensor_slices(normalizer_data).batch(1024).map(pcen)
    norm = layers.Normalization(axis=(2, 3), name="band_norm")
    if normalizer_data is not None:
        norm.adapt(normalizer_data)
    else:  # built to be loaded into, or for tests: statistics set later or left neutral
        norm.build((None, *input_shape))
    return inputs, norm(x)


def freq_cnn_specs(context, filters=(64, 64), lws=False, context_stride=1, dropout=0.1):
    """The two frequency-axis conv blocks (kernel per axis: (time, freq))."""
    return [
        ConvSpec(filters[0], kernel=(context, 8), strides=(context_stride, 1), padding="valid",
                 batch_norm=True, pool="max", pool_size=(1, 3), lws_section=3 if lws else None),
        ConvSpec(filters[1], kernel=(1, 4), padding="valid", batch_norm=True, dropout=dropout),
    ]


def freq_cnn(input_shape, num_classes, *, context=9, context_stride=1, filters=(64, 64), lws=False,
             time_bins=3, hidden=256, dropout=0.3, normalizer_data=None, frontend="log"):
    frames = input_shape[0]
    context = min(context, frames)
    inputs, x = _input(input_shape, normalizer_data, frontend)
    x = conv_stack(x, freq_cnn_specs(context, filters, lws, context_stride))
    steps = x.shape[1]
    bins = max(1, min(time_bins, steps))
    if steps > 1:  # pooling over time at the end, into `bins` segments
        x = layers.MaxPooling2D((math.ceil(steps / bins), 1), padding="same", name="time_maxpool")(x)
    outputs = classifier_head(x, num_classes, hidden=(hidden,), dropout=dropout)
    return keras.Model(inputs, outputs, name="freq_cnn_lws" if lws else "freq_cnn")


def cnn_trad_fpool3(input_shape, num_classes, *, dropout=0.3, normalizer_data=None, frontend="log"):
    frames = input_shape[0]
    t1 = min(20, frames)
    t2 = min(10, frames - t1 + 1)
    inputs, x = _input(input_shape, normalizer_data, frontend)
    x = conv_stack(x, [ConvSpec(64, kernel=(t1, 8), padding="valid", pool="max", pool_size=(1, 3)),
                       ConvSpec(64, kernel=(t2, 4), padding="valid", dropout=dropout)])
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(32, name="lowrank_linear")(x)  # linear low-rank layer of the paper
    outputs = classifier_head(x, num_classes, hidden=(128,), dropout=dropout)
    return keras.Model(inputs, outputs, name="cnn_trad_fpool3")


def ds_cnn(input_shape, num_classes, *, filters=64, blocks_count=4, dropout=0.2, normalizer_data=None,
           frontend="log"):
    inputs, x = _input(input_shape, normalizer_data, frontend)
    kernel = (min(10, input_shape[0]), min(4, input_shape[1]))
    x = blocks.conv_norm_act(x, filters, kernel, "conv1", "batch", strides=2)
    for i in range(blocks_count):
        x = blocks.separable_block(x, filters, f"separable{i + 1}", "batch")
    outputs = classifier_head(x, num_classes, global_pool="avg", dropout=dropout)
    return keras.Model(inputs, outputs, name="ds_cnn")


def residual_cnn(input_shape, num_classes, *, filters=45, units=3, dropout=0.0, normalizer_data=None,
                 frontend="log"):
    inputs, x = _input(input_shape, normalizer_data, frontend)
    x = conv_stack(x, [ConvSpec(filters, 3, norm="batch", pool="avg", pool_size=(4, 3))], name="stem")
    x = conv_stack(x, [ConvSpec(filters, 3, norm="batch", residual=True) for _ in range(units)], name="res")
    outputs = classifier_head(x, num_classes, global_pool="avg", dropout=dropout)
    return keras.Model(inputs, outputs, name="res8")


def build_model(arch, input_shape, num_classes, normalizer_data=None, **options):
    if arch in ("freq", "freq-lws"):
        return freq_cnn(input_shape, num_classes, lws=arch == "freq-lws", normalizer_data=normalizer_data,
                        **options)
    if arch == "trad-fpool3":
        return cnn_trad_fpool3(input_shape, num_classes, normalizer_data=normalizer_data,
                               dropout=options.get("dropout", 0.3), frontend=options.get("frontend", "log"))
    if arch in ("ds-cnn", "residual"):
        builder = ds_cnn if arch == "ds-cnn" else residual_cnn
        return builder(input_shape, num_classes, normalizer_data=normalizer_data,
                       dropout=options.get("dropout", 0.2 if arch == "ds-cnn" else 0.0),
                       frontend=options.get("frontend", "log"))
    raise ValueError(f"unknown architecture {arch!r}; choose from {ARCHITECTURES}")
