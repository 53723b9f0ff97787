"""The sentence CNNs: Kalchbrenner et al.'s DCNN and Kim's CNN.

Both take right-padded word ids (batch, time) (0 = padding) and compute each
sentence's true length inside the model, so padding is never convolved into
valid outputs nor selected by pooling, whatever the batch's padded length.

Embedding variants (Kim 2014): "rand" (random, trained), "static" (pretrained,
frozen), "nonstatic" (pretrained, fine-tuned), "multichannel" (two channels,
one frozen and one fine-tuned, both seen by every filter).

- `dcnn`: Kalchbrenner, Grefenstette & Blunsom 2014, as for SST: the sentence
  matrix (d rows, one column per word); wide row-wise convolution of width 7
  into 6 maps; dynamic k-max pooling with k = max(k_top, ceil(s / 2)); bias
  and tanh; wide convolution of width 5 into 14 maps; folding (adjacent rows
  summed); k-max pooling with k_top = 4; tanh; dropout; softmax.
- `kim`: Kim 2014: filters of widths 3, 4, 5 with 100 maps each, ReLU, max over
  time (k-max pooling with k = 1, so padding is never the max), dropout 0.5,
  softmax whose weight vectors are held to L2 norm <= 3. As in Kim's code, each
  sentence is padded by width - 1 zeros either side, i.e. wide convolution.

Optional word dropout (`word_dropout`, both architectures): during training,
each word's embedding (every dimension and channel) is zeroed with that
probability and the kept words are scaled by 1 / (1 - rate), i.e. dropout on
whole words (Iyyer et al. 2015; Gal & Ghahramani 2016's embedding dropout).
It regularises the fine-tuned embeddings, which over-fit the SST phrases.
"""
import keras
from keras import layers, ops

from apps.text import ARCHITECTURES, EMBEDDINGS
from shared.builders import ConvSpec, conv_block
from shared.layers import Folding, KMaxPooling, MaskTime, SequenceLengths, WideConv1D



@keras.saving.register_keras_serializable(package="beyond_pixels")
class WordDropout(layers.Layer):
    """Zero whole words: (batch, time, ...) positions dropped with probability
    `rate` in training (all features at once), the rest scaled by 1 / (1 - rate);
    the identity at inference."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"word dropout rate must be in [0, 1), got {rate}")
        self.rate, self.seed = float(rate), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or not self.rate:
            return inputs
        shape = ops.shape(inputs)
        noise_shape = (shape[0], shape[1]) + (1,) * (len(inputs.shape) - 2)
        keep = keras.random.uniform(noise_shape, seed=self.seed_generator) >= self.rate
        return inputs * ops.cast(keep, inputs.dtype) / (1.0 - self.rate)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


EMBEDDING_LAYERS = ("embed_static", "embed")  # the frozen and the trained table (by word id)


def embed(ids, vocab_size, dim, mode, weights=None, word_dropout=0.0):
    """Embedded words (batch, time, dim, channels): 1 channel, or 2 for multichannel;
    with `word_dropout`, whole words are dropped in training."""
    if mode not in EMBEDDINGS:
        raise ValueError(f"unknown embedding mode {mode!r}; choose from {EMBEDDINGS}")
    if mode != "rand" and weights is None:
        raise ValueError(f"embedding mode {mode!r} needs pretrained weights")
    # pretrained weights are assigned after building (a Constant initializer would copy
    # the whole matrix into the model's config.json)
    init = keras.initializers.RandomUniform(-0.25, 0.25)
    channels = []
    if mode in ("static", "multichannel"):
        channels.append(layers.Embedding(vocab_size, dim, embeddings_initializer=init, trainable=False,
                                         name=EMBEDDING_LAYERS[0])(ids))
    if mode in ("rand", "nonstatic", "multichannel"):
        channels.append(layers.Embedding(vocab_size, dim, embeddings_initializer=init, name=EMBEDDING_LAYERS[1])(ids))
    expanded = [layers.Reshape((-1, dim, 1), name=f"embed_as_rows{i}")(c) for i, c in enumerate(channels)]
    x = expanded[0] if len(expanded) == 1 else layers.Concatenate(axis=-1, name="embed_channels")(expanded)
    return WordDropout(word_dropout, name="word_dropout")(x) if word_dropout else x


def set_embeddings(model, weights):
    """Copy the pretrained matrix into the model's embedding layer(s)."""
    if weights is None:
        return model
    for layer in model.layers:
        if layer.name in ("embed", "embed_static"):
            layer.set_weights([weights])
    return model


def build_dcnn(vocab_size, num_classes, dim=50, mode="nonstatic", weights=None, widths=(7, 5),
               maps=(6, 14), k_top=4, dropout=0.5, fold_layers=(2,), l2=1e-4, word_dropout=0.0,
               return_selections=False):
    """The DCNN. `fold_layers`: the conv layers (1-based) followed by folding
    (the paper's Figure 3 folds after the last one). With `return_selections`,
    the model also outputs the positions the first k-max layer kept."""
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    lengths = SequenceLengths(name="lengths")(ids)
    x = embed(ids, vocab_size, dim, mode, weights, word_dropout)
    valid, selections = lengths, []
    num_layers = len(widths)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    for layer, (width, filters) in enumerate(zip(widths, maps), 1):
        conv = WideConv1D(filters, width, kernel_regularizer=regularizer, name=f"conv{layer}")
        x = conv(x, valid)
        valid = conv.output_lengths(valid)
        if layer in fold_layers:
            x = Folding(name=f"fold{layer}")(x)
        pool = KMaxPooling(k_top, layer=layer, num_layers=num_layers, return_indices=True,
                           name=f"kmax{layer}")
        x, valid, positions = pool(x, valid, lengths)
        selections.append(positions)
        x = layers.Activation("tanh", name=f"tanh{layer}")(x)
    x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", kernel_regularizer=regularizer,
                           name="softmax")(x)
    return keras.Model(ids, [outputs, *selections] if return_selections else outputs, name="dcnn")


def build_kim(vocab_size, num_classes, dim=50, mode="nonstatic", weights=None, widths=(3, 4, 5), maps=100,
              dropout=0.5, max_norm=3.0, word_dropout=0.0, return_selections=False):
    """Kim's CNN; with `return_selections` it also outputs, per width, the
    end position (in the wide-conv output) of the n-gram each map's max came from."""
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    lengths = SequenceLengths(name="lengths")(ids)
    x = embed(ids, vocab_size, dim, mode, weights, word_dropout)
    channels = x.shape[-1]
    x = layers.Reshape((-1, dim * channels), name="channels_as_features")(x)
    x = MaskTime(name="mask_padding")(x, lengths)
    pooled, selections = [], []
    for width in widths:
        # Kim's filters see every channel (each filter has weights per channel, summed)
        y = conv_block(x, ConvSpec(maps, width, padding="full", activation="relu", use_bias=True,
                                   kernel_initializer="he_uniform"), name=f"conv_w{width}")
        y, _, positions = KMaxPooling(1, return_indices=True, name=f"maxpool_w{width}")(y, lengths + width - 1)
        pooled.append(layers.Flatten(name=f"flatten_w{width}")(y))
        selections.append(positions)
    x = layers.Concatenate(name="features")(pooled)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    constraint = keras.constraints.MaxNorm(max_norm, axis=0) if max_norm else None
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", kernel_constraint=constraint,
                           name="softmax")(x)
    return keras.Model(ids, [outputs, *selections] if return_selections else outputs, name="kim_cnn")


def build_model(arch, vocab_size, num_classes, **kwargs):
    if arch == "dcnn":
        return set_embeddings(build_dcnn(vocab_size, num_classes, **kwargs), kwargs.get("weights"))
    if arch == "kim":
        return set_embeddings(build_kim(vocab_size, num_classes, **kwargs), kwargs.get("weights"))
    raise ValueError(f"unknown architecture {arch!r}; choose from {ARCHITECTURES}")


def selection_model(model):
    """A model that maps ids to probabilities and, per k-max layer, (kept values, their positions),
    for explanations. Returns (model, conv widths, layer names)."""
    pools = [layer for layer in model.layers if isinstance(layer, KMaxPooling)]
    if not pools:
        return None
    pools = [layer for layer in pools if layer.return_indices]
    outputs = [model.output] + [tensor for layer in pools for tensor in (layer.output[0], layer.output[2])]
    widths = []
    for layer in pools:
        conv_name = layer.name.replace("maxpool_w", "conv_w").replace("kmax", "conv")
        convs = [l for l in model.layers if l.name.startswith(conv_name) and isinstance(l, WideConv1D)]
        widths.append(convs[0].kernel_size if convs else 1)
    return keras.Model(model.input, outputs), widths, [layer.name for layer in pools]
