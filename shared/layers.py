"""Custom Keras layers shared by the apps.

Every layer here is registered with Keras serialization under the
`beyond_pixels` package, so models that use it save and load as `.keras` files.

Sequence layers for sentences of different lengths (Kalchbrenner, Grefenstette
& Blunsom 2014, "A Convolutional Neural Network for Modelling Sentences"):

- `WideConv1D`: wide ("full") convolution along time: every filter position
  that overlaps the sentence by at least one word, so a sentence of n words
  and a filter of width m give n + m - 1 outputs and the edge words get as many
  filter positions as the middle ones. On (batch, time, channels) it is an
  ordinary convolution with m - 1 zeros either side; on (batch, time, rows,
  maps) it is the DCNN's row-wise convolution: each embedding row has its own
  filter per (input map, output map) pair, and rows never mix.
- `KMaxPooling`: the k largest values along time, per channel, kept in their
  original order; with `num_layers` and `layer` set, k is the dynamic
  k_l = max(k_top, ceil((L - l) / L * s)) of each sentence's TRUE length s.
  Positions at or beyond each sequence's valid length are never selected.
- `Folding`: sums every pair of adjacent rows (rows 2i and 2i + 1), halving
  the row dimension, so features of different rows interact before the
  fully connected layer.

Sequence lengths travel beside the tensors as int32 (batch,) vectors, because
k-max pooling changes the length of every sentence differently.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="beyond_pixels")
class WideConv1D(keras.layers.Layer):
    """Wide (full) 1D convolution along axis 1: output length n + m - 1.

    Input (batch, time, channels) -> (batch, time + m - 1, filters); or, with a
    rank-4 input (batch, time, rows, maps) -> (batch, time + m - 1, rows, filters),
    a separate filter per row (the DCNN's convolution). Call with
    `lengths` (batch,) to zero the input beyond each sequence first, so padding
    never leaks into the valid outputs; the valid output length is lengths + m - 1
    (see `output_lengths`).
    """

    def __init__(self, filters, kernel_size, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", kernel_constraint=None, kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)

    def build(self, inputs_shape, lengths_shape=None):
        input_shape = inputs_shape
        self.row_wise = len(input_shape) == 4
        if self.row_wise:
            rows, maps = input_shape[2], input_shape[3]
            kernel_shape = (self.kernel_size, rows, maps, self.filters)
            bias_shape = (rows, self.filters)
        else:
            kernel_shape = (self.kernel_size, input_shape[-1], self.filters)
            bias_shape = (self.filters,)
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer=self.kernel_initializer,
                                      constraint=self.kernel_constraint, regularizer=self.kernel_regularizer)
        self.bias = self.add_weight(name="bias", shape=bias_shape, initializer="zeros") if self.use_bias else None

    def call(self, inputs, lengths=None):
        if lengths is not None:
            inputs = inputs * _time_mask(lengths, ops.shape(inputs)[1], inputs.dtype, ops.ndim(inputs))
        pad = self.kernel_size - 1
        padding = [[0, 0], [pad, pad]] + [[0, 0]] * (len(inputs.shape) - 2)
        padded = tf.pad(inputs, padding)
        if self.row_wise:
            # windows: (batch, time + m - 1, m, rows, maps); one einsum does every row's filter
            out_len = tf.shape(inputs)[1] + pad
            windows = tf.stack([padded[:, i:i + out_len] for i in range(self.kernel_size)], axis=2)
            outputs = tf.einsum("btmrc,mrcf->btrf", windows, self.kernel)
        else:
            outputs = tf.nn.conv1d(padded, self.kernel, stride=1, padding="VALID")
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def output_lengths(self, lengths):
        return lengths + (self.kernel_size - 1)

    def compute_output_shape(self, inputs_shape, lengths_shape=None):
        input_shape = inputs_shape
        time = None if input_shape[1] is None else input_shape[1] + self.kernel_size - 1
        return (input_shape[0], time, *input_shape[2:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)}


def _time_mask(lengths, time, dtype, ndim):
    """(batch, time, 1[, 1]) mask: 1 at positions < length, else 0."""
    mask = tf.sequence_mask(lengths, time, dtype=dtype)
    return tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([ndim - 2], tf.int32)], 0))


def dynamic_k(sentence_lengths, k_top, layer, num_layers):
    """k_l = max(k_top, ceil((L - l) / L * s)) for each sentence length s (int32 tensor)."""
    s = tf.cast(sentence_lengths, tf.float32)
    k = tf.math.ceil((num_layers - layer) / num_layers * s)
    return tf.maximum(tf.cast(k, tf.int32), k_top)


@keras.saving.register_keras_serializable(package="beyond_pixels")
class KMaxPooling(keras.layers.Layer):
    """k-max pooling along axis 1, keeping the selected values in their original order.

    `call(x, lengths, sentence_lengths=None)` returns `(pooled, new_lengths)`.
    Only positions < `lengths` (the valid length of each sequence) can be
    selected. With `layer` and `num_layers` set, k is dynamic per sentence,
    max(k_top, ceil((num_layers - layer) / num_layers * s)) with s its true
    length (`sentence_lengths`); the output is padded with zeros to the largest
    k in the batch. With `return_indices=True` a third output gives the
    selected time positions (-1 for empty slots), used to show which words
    decided. Shorter sequences than k leave zeros in the unused slots.
    """

    def __init__(self, k_top, layer=None, num_layers=None, return_indices=False, **kwargs):
        super().__init__(**kwargs)
        self.k_top, self.layer, self.num_layers = int(k_top), layer, num_layers
        self.return_indices = return_indices
        if (layer is None) != (num_layers is None):
            raise ValueError("KMaxPooling: give both `layer` and `num_layers` for dynamic k, or neither")
        self.dynamic = layer is not None and num_layers > layer

    def call(self, inputs, lengths, sentence_lengths=None):
        lengths = tf.cast(lengths, tf.int32)
        time = tf.shape(inputs)[1]
        if self.dynamic:
            k = dynamic_k(lengths if sentence_lengths is None else sentence_lengths,
                          self.k_top, self.layer, self.num_layers)
            k_max = tf.maximum(tf.reduce_max(k), self.k_top)
        else:
            k = tf.fill(tf.shape(lengths), self.k_top)
            k_max = tf.constant(self.k_top)
        k = tf.minimum(k, lengths)  # a sequence shorter than k gives all its values
        # move time last: top_k works on the last axis
        perm = [0] + list(range(2, len(inputs.shape))) + [1]
        x = tf.transpose(inputs, perm)
        valid = tf.sequence_mask(lengths, time)
        valid = tf.reshape(valid, tf.concat([[tf.shape(x)[0]], tf.ones([len(inputs.shape) - 2], tf.int32),
                                             [time]], 0))
        lowest = tf.cast(tf.float32.min, x.dtype)
        masked = tf.where(valid, x, lowest)
        # top_k needs k <= time: pad time with `lowest` when the batch is shorter than k_max
        short = tf.maximum(k_max - time, 0)
        masked = tf.pad(masked, [[0, 0]] * (len(inputs.shape) - 1) + [[0, short]], constant_values=lowest)
        _, index = tf.math.top_k(masked, k=k_max, sorted=True)
        # keep the first k[b] of the ranked positions, then restore word order
        rank_ok = tf.sequence_mask(k, k_max)
        rank_ok = tf.reshape(rank_ok, tf.concat([[tf.shape(x)[0]], tf.ones([len(inputs.shape) - 2], tf.int32),
                                                 [k_max]], 0))
        big = tf.shape(masked)[-1]
        index = tf.where(rank_ok, index, big)  # unselected slots sort to the end
        index = tf.sort(index, axis=-1)
        selected = index < big
        values = tf.gather(x, tf.minimum(index, time - 1), batch_dims=len(inputs.shape) - 1)
        values = tf.where(selected, values, tf.zeros_like(values))
        inverse = [0, len(inputs.shape) - 1] + list(range(1, len(inputs.shape) - 1))
        pooled = tf.transpose(values, inverse)
        if not self.dynamic:
            pooled = tf.ensure_shape(pooled, [None, self.k_top, *inputs.shape[2:]])
        if self.return_indices:
            positions = tf.transpose(tf.where(selected, index, -1), inverse)
            return pooled, k, positions
        return pooled, k

    def compute_output_shape(self, inputs_shape, lengths_shape=None, sentence_lengths_shape=None):
        input_shape = inputs_shape
        time = None if self.dynamic else self.k_top
        shape = (input_shape[0], time, *input_shape[2:])
        if self.return_indices:
            return shape, (input_shape[0],), shape
        return shape, (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "k_top": self.k_top, "layer": self.layer,
                "num_layers": self.num_layers, "return_indices": self.return_indices}


@keras.saving.register_keras_serializable(package="beyond_pixels")
class Folding(keras.layers.Layer):
    """Sum adjacent rows: (batch, time, rows, maps) -> (batch, time, rows // 2, maps).

    Row i of the output is row 2i + row 2i + 1 of the input. A rank-3 input
    (batch, time, rows) is folded along its last axis. The row count must be even.
    """

    def call(self, inputs):
        axis = 2
        rows = inputs.shape[axis]
        if rows is None or rows % 2:
            raise ValueError(f"Folding needs an even number of rows, got {rows}")
        return inputs[:, :, 0::2] + inputs[:, :, 1::2]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], input_shape[2] // 2, *input_shape[3:])


@keras.saving.register_keras_serializable(package="beyond_pixels")
class SequenceLengths(keras.layers.Layer):
    """The true length of each padded id sequence: the count of ids != `pad_id`
    (padding is always at the end), at least `minimum`."""

    def __init__(self, pad_id=0, minimum=0, **kwargs):
        super().__init__(**kwargs)
        self.pad_id, self.minimum = pad_id, minimum

    def call(self, ids):
        counts = tf.reduce_sum(tf.cast(tf.not_equal(ids, self.pad_id), tf.int32), axis=1)
        return tf.maximum(counts, self.minimum)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id, "minimum": self.minimum}


@keras.saving.register_keras_serializable(package="beyond_pixels")
class MaskTime(keras.layers.Layer):
    """Zero every position at or beyond each sequence's length (axis 1)."""

    def call(self, inputs, lengths):
        return inputs * _time_mask(lengths, tf.shape(inputs)[1], inputs.dtype, len(inputs.shape))

    def compute_output_shape(self, inputs_shape, lengths_shape=None):
        input_shape = inputs_shape
        return input_shape


def merge_class_probabilities(probabilities, groups):
    """(batch, len(groups)) probabilities of coarser classes: each group's summed probability,
    renormalised over the groups (classes in no group, e.g. SST's neutral, drop out)."""
    merged = ops.stack([ops.sum(ops.take(probabilities, group, axis=-1), axis=-1) for group in groups], axis=-1)
    return merged / ops.maximum(ops.sum(merged, axis=-1, keepdims=True), 1e-12)


@keras.saving.register_keras_serializable(package="beyond_pixels")
class MergeClasses(keras.layers.Layer):
    """Softmax outputs of fine classes -> of coarse ones (`merge_class_probabilities`), e.g.
    SST-5's five sentiment classes -> SST-2's negative (0, 1) and positive (3, 4): a model
    trained on the fine labels answers the coarse question."""

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        self.groups = [list(map(int, group)) for group in groups]

    def call(self, probabilities):
        return merge_class_probabilities(probabilities, self.groups)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], len(self.groups))

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package="beyond_pixels")
class LimitedWeightSharingConv2D(keras.layers.Layer):
    """2D convolution whose filters are shared only within sections of the last spatial axis.

    Abdel-Hamid et al. (2014), "Convolutional Neural Networks for Speech
    Recognition", section IV-B: along frequency, the convolution outputs are
    divided into sections of `section_size` positions; the positions of one
    section share one set of filters, and different sections have different
    filters (so low and high bands can learn different patterns). Following
    the paper, the max-pooling that comes after should pool each section into
    one unit (pool size = stride = `section_size`).

    Input `(batch, rows, cols, channels)`; `valid` convolution with strides
    `(row_stride, 1)`. The `cols - kernel_cols + 1` valid positions are cut into
    `sections = (cols - kernel_cols + 1) // section_size` sections; a remainder of
    fewer than `section_size` positions at the top is dropped, as the paper's
    pooling does. Output `(batch, rows', sections * section_size, filters)`.
    """

    def __init__(self, filters, kernel_size, section_size, row_stride=1, use_bias=True,
                 kernel_initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = tuple(int(k) for k in (kernel_size if isinstance(kernel_size, (tuple, list))
                                                  else (kernel_size, kernel_size)))
        self.section_size = int(section_size)
        self.row_stride = int(row_stride)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        cols, channels = input_shape[2], input_shape[3]
        positions = cols - self.kernel_size[1] + 1
        self.sections = positions // self.section_size
        if self.sections < 1:
            raise ValueError(f"{self.name}: {cols} columns give {positions} positions, fewer than "
                             f"one section of {self.section_size}")
        kr, kc = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(self.sections, kr, kc, channels, self.filters),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.sections, self.filters), initializer="zeros") \
            if self.use_bias else None

    def call(self, inputs):
        outputs = []
        span = self.section_size + self.kernel_size[1] - 1  # input columns one section sees
        for s in range(self.sections):
            start = s * self.section_size
            piece = inputs[:, :, start:start + span, :]
            y = ops.conv(piece, self.kernel[s], strides=(self.row_stride, 1), padding="valid")
            if self.bias is not None:
                y = y + self.bias[s]
            outputs.append(y)
        return ops.concatenate(outputs, axis=2)

    def compute_output_shape(self, input_shape):
        rows = input_shape[1]
        rows = None if rows is None else (rows - self.kernel_size[0]) // self.row_stride + 1
        positions = input_shape[2] - self.kernel_size[1] + 1
        return (input_shape[0], rows, (positions // self.section_size) * self.section_size, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, section_size=self.section_size,
                      row_stride=self.row_stride, use_bias=self.use_bias,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config


@keras.saving.register_keras_serializable(package="beyond_pixels")
class PerChannelEnergyNormalization(keras.layers.Layer):
    """Trainable per-channel energy normalisation of filterbank energies (PCEN).

    Wang, Getreuer, Hughes, Lyon & Saurous (2017), "Trainable Frontend for Robust
    and Far-Field Keyword Spotting": instead of the log, each band's energy E is
    divided by a smoothed version of itself (an automatic gain control per band),
    then root-compressed:

        M[t] = (1 - s) M[t-1] + s E[t]          (M[-1] = E[0]: starts settled)
        PCEN[t] = (E[t] / (eps + M[t])^alpha + delta)^r - delta^r

    so a band's loudness relative to its recent past matters, not the microphone's
    gain or a steady background. `alpha`, `delta` and `r` are learned per band
    (through their logs, so they stay positive; `alpha` and `r` are capped at 1),
    initialised at the paper's 0.98, 2 and 0.5; `s` is fixed by `time_constant`
    (in frames, converted as `librosa.pcen` does).

    Input `(batch, time, bands, channels)` of LOG energies (the speech app's
    log-mel layout); channel 0 is replaced by its PCEN, the other channels (deltas)
    pass through. Time must be static: the smoother is one (time, time) matrix.
    """

    def __init__(self, time_constant=40.0, eps=1e-6, **kwargs):
        kwargs.setdefault("dtype", "float32")  # a gain control divides small energies: float32 in mixed precision
        super().__init__(**kwargs)
        self.time_constant = float(time_constant)
        self.eps = float(eps)

    @property
    def smoothing(self):
        t = self.time_constant
        return ((1 + 4 * t * t) ** 0.5 - 1) / (2 * t * t)

    def build(self, input_shape):
        time, bands = input_shape[1], input_shape[2]
        if time is None:
            raise ValueError(f"{self.name}: needs a static time length, got {input_shape}")
        for name, value in (("log_alpha", 0.98), ("log_delta", 2.0), ("log_r", 0.5)):
            setattr(self, name, self.add_weight(name=name, shape=(bands,), trainable=True,
                                                initializer=keras.initializers.Constant(float(np.log(value)))))
        s = self.smoothing
        steps = np.arange(time)
        lag = steps[:, None] - steps[None, :]
        # M[t] = sum_k s (1-s)^(t-k) E[k] for k <= t, plus (1-s)^(t+1) E[0] from the settled start
        weights = np.where(lag >= 0, s * (1 - s) ** np.maximum(lag, 0), 0.0)
        weights[:, 0] += (1 - s) ** (steps + 1)
        self.smoother = weights.astype("float32")

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        log_energy = inputs[..., 0]
        energy = ops.exp(log_energy)
        smoothed = ops.einsum("tk,bkf->btf", ops.convert_to_tensor(self.smoother), energy)
        alpha = ops.minimum(ops.exp(self.log_alpha), 1.0)
        delta = ops.exp(self.log_delta)
        r = ops.minimum(ops.exp(self.log_r), 1.0)
        gained = ops.exp(log_energy - alpha * ops.log(self.eps + smoothed))
        pcen = ops.power(gained + delta, r) - ops.power(delta, r)
        return ops.concatenate([pcen[..., None], inputs[..., 1:]], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(time_constant=self.time_constant, eps=self.eps)
        return config


@keras.saving.register_keras_serializable(package="beyond_pixels")
class ChannelShuffle(keras.layers.Layer):
    """ShuffleNet's channel shuffle (Zhang et al. 2018): the channels, seen as `groups`
    groups of C/g, are transposed to C/g groups of g, so that the next grouped
    convolution sees channels from every group of the previous one. 1D or 2D."""

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)

    def build(self, input_shape):
        if input_shape[-1] % self.groups:
            raise ValueError(f"{input_shape[-1]} channels do not split into {self.groups} groups")

    def call(self, x):
        channels = x.shape[-1]
        grouped = tf.reshape(x, (-1, self.groups, channels // self.groups))
        return tf.reshape(tf.transpose(grouped, (0, 2, 1)), tf.shape(x))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package="beyond_pixels")
class SpatialPyramidPooling(keras.layers.Layer):
    """Spatial pyramid pooling (He, Zhang, Ren & Sun 2014, SPP-net): for each level n, the
    feature map is cut into n x n bins (n bins in 1D) whose edges are floor(i * H / n) and
    ceil((i + 1) * H / n), each bin is max- (or average-) pooled, and the pooled bins of all
    levels are concatenated: a fixed-length vector of C * sum(n^2) values whatever the
    input's size, so one network takes inputs of any size."""

    def __init__(self, levels=(1, 2, 4), pool="max", **kwargs):
        super().__init__(**kwargs)
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg', not {pool!r}")
        self.levels, self.pool = tuple(int(n) for n in levels), pool

    def _bins(self, length, n):
        return [(tf.cast(tf.math.floor(i * length / n), tf.int32),
                 tf.cast(tf.math.ceil((i + 1) * length / n), tf.int32)) for i in range(n)]

    def call(self, x):
        reduce = tf.reduce_max if self.pool == "max" else tf.reduce_mean
        shape = tf.shape(x)
        pooled = []
        for n in self.levels:
            rows = self._bins(tf.cast(shape[1], tf.float32), n)
            if len(x.shape) == 3:
                pooled += [reduce(x[:, lo:hi], axis=1) for lo, hi in rows]
                continue
            cols = self._bins(tf.cast(shape[2], tf.float32), n)
            pooled += [reduce(x[:, r0:r1, c0:c1], axis=(1, 2)) for r0, r1 in rows for c0, c1 in cols]
        return tf.concat(pooled, axis=-1)

    def compute_output_shape(self, input_shape):
        bins = sum(n ** (len(input_shape) - 2) for n in self.levels)
        return (input_shape[0], bins * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "levels": list(self.levels), "pool": self.pool}
