"""What a CNN of the suite has learned: filters, activations, maximization, saliency, Grad-CAM.

Works on any Keras classifier of the suite, 1D (speech, text) or 2D (Go, images),
with any number of input channels; the input shape comes from the model, and the
input value range from the model file's preprocessing metadata
(`preprocessing["input_range"]`) or a `Rescaling` layer right after the input.

- `filter_grid_png`: the first conv layer's kernels as a grid.
- `activation_maps_png`: the feature maps of a layer for one input.
- `maximize`: x* = argmax_x score(x) by gradient ascent on the input, where the
  score is the degree of activation of filter k, a^k = sum_ij a^k_ij, one hidden
  unit, or the logit of an output class; L1, total-variation, jitter and blur
  regularizers (Simonyan et al. 2013; Yosinski et al. 2015; Mahendran & Vedaldi 2015).
- `saliency`: d score / d input (Simonyan et al. 2013).
- `grad_cam`: class-discriminative localisation at a conv layer (Selvaraju et al. 2017).
- `gallery_markdown`: a Markdown gallery of the PNGs in a folder, for demo reports.

Computation returns numpy arrays; the `*_png` helpers draw them with matplotlib (Agg).
"""
import dataclasses
from pathlib import Path
from typing import Optional

import keras
import numpy as np
from keras import ops
from scipy import ndimage

from shared.errors import UserError
from shared.plots import pyplot, save_figure

CONV_TYPES = (keras.layers.Conv1D, keras.layers.Conv2D)


# ---------------------------------------------------------------- model facts

def input_range(model, preprocessing=None):
    """(low, high) of the values the model expects at its input.

    Metadata wins; else a `Rescaling(scale, offset)` layer that maps the input
    onto [0, 1] tells (images: 0..255); else (0, 1) (Go planes)."""
    if preprocessing and preprocessing.get("input_range"):
        low, high = preprocessing["input_range"]
        return float(low), float(high)
    for layer in model.layers[1:3]:
        if isinstance(layer, keras.layers.Rescaling):
            scale, offset = float(np.ravel(layer.scale)[0]), float(np.ravel(layer.offset)[0])
            return (0 - offset) / scale, (1 - offset) / scale
    return 0.0, 1.0


def spatial_rank(model):
    """1 for (length, channels) inputs, 2 for (height, width, channels)."""
    return len(model.input_shape) - 2


def conv_layers(model):
    """Names of the convolution layers, input to output."""
    return [layer.name for layer in model.layers if isinstance(layer, CONV_TYPES)]


def get_layer(model, name):
    try:
        return model.get_layer(name)
    except ValueError:
        raise UserError(f"layer {name!r} not in the model; conv layers: {', '.join(conv_layers(model))}; "
                        f"all: {', '.join(layer.name for layer in model.layers)}") from None


def activation_after(model, layer):
    """The name of the Activation layer that follows conv `layer`, through a batch
    normalization if there is one (its ReLU: what the next layer sees), else `layer`."""
    tensor = get_layer(model, layer).output
    for _ in range(3):
        consumers = [later for later in model.layers if later.input is tensor]
        if len(consumers) != 1:
            break
        if isinstance(consumers[0], keras.layers.Activation):
            return consumers[0].name
        if not isinstance(consumers[0], keras.layers.BatchNormalization):
            break
        tensor = consumers[0].output
    return layer


def _input(model):
    """The model's input tensor (a single one, so calls with one array match its structure)."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def feature_model(model, layer_names):
    """A model from the input to the outputs of `layer_names` (a list)."""
    return keras.Model(_input(model), [get_layer(model, name).output for name in layer_names])


class DenseLogits(keras.layers.Layer):
    """x W + b of a Dense(softmax) layer, with its weights (not copies).

    A layer, not bare ops on symbolic tensors: those get automatic names ("add")
    that can clash with ops of the model's own graph (the text models' lengths)."""

    def __init__(self, dense, **kwargs):
        super().__init__(name=f"{dense.name}_logits", **kwargs)
        self.dense = dense

    def call(self, x):
        logits = ops.matmul(x, ops.cast(self.dense.kernel, x.dtype))
        return logits + ops.cast(self.dense.bias, x.dtype) if self.dense.use_bias else logits


class LogProbabilities(keras.layers.Layer):
    """log(p): the class score of a model whose last layer is not a softmax; a layer for the
    same reason as `DenseLogits`."""

    def call(self, probabilities):
        return ops.log(probabilities + 1e-12)


class MergedLogits(keras.layers.Layer):
    """The logit of each merged class (`shared.layers.MergeClasses`): log-sum-exp of its fine
    classes' logits, the log of its unnormalised probability."""

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, logits):
        return ops.stack([ops.logsumexp(ops.take(logits, group, axis=-1), axis=-1) for group in self.groups],
                         axis=-1)


def _is_softmax_dense(layer):
    return isinstance(layer, keras.layers.Dense) and getattr(layer.activation, "__name__", "") == "softmax"


def logits_model(model):
    """A model from the input to the class scores before the softmax.

    Maximizing a softmax probability mostly pushes the other classes down; the
    logit asks for evidence of the class itself (Simonyan et al. 2013). Handles a
    final Dense(softmax), a final Softmax/Activation layer, and merged classes after
    a Dense(softmax); otherwise the log of the output is used (equal to the logit up
    to a shared constant)."""
    from shared.layers import MergeClasses
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    if _is_softmax_dense(last):
        return keras.Model(_input(model), DenseLogits(last)(last.input))
    if isinstance(last, keras.layers.Softmax) or (
            isinstance(last, keras.layers.Activation) and getattr(activation, "__name__", "") == "softmax"):
        return keras.Model(_input(model), last.input)
    if isinstance(last, MergeClasses):
        fine = last.input._keras_history.operation
        if _is_softmax_dense(fine):
            return keras.Model(_input(model), MergedLogits(last.groups, name="merged_logits")(
                DenseLogits(fine)(fine.input)))
    return keras.Model(_input(model), LogProbabilities(name="log_probabilities")(model.outputs[0]))


# ---------------------------------------------------------------- targets

@dataclasses.dataclass
class Target:
    """What to maximize or explain.

    kind "filter": a^k = sum over positions of channel `index` of conv layer `layer`;
    kind "unit": output `index` of a dense (or flattened) layer;
    kind "class": the logit of class `index`."""
    kind: str
    index: int
    layer: Optional[str] = None

    def describe(self):
        return f"class {self.index}" if self.kind == "class" else f"{self.layer}:{self.index} ({self.kind})"


def parse_target(model, text):
    """`class:N` or `LAYER:UNIT` (a filter of a conv layer, a unit of a dense one)."""
    name, _, index = text.rpartition(":")
    if not name or not (index.isascii() and index.lstrip("-").isdigit()):
        raise UserError(f"--maximize {text!r}: expected LAYER:UNIT or class:N")
    index = int(index)
    if name == "class":
        classes = model.output_shape[-1]
        if not 0 <= index < classes:
            raise UserError(f"--maximize {text}: class must be in 0..{classes - 1}")
        return Target("class", index)
    layer = get_layer(model, name)
    width = layer.output.shape[-1]
    if not 0 <= index < width:
        raise UserError(f"--maximize {text}: {name} has {width} units/filters (0..{width - 1})")
    kind = "filter" if len(layer.output.shape) > 2 else "unit"
    return Target(kind, index, name)


def score_model(model, target):
    """A model mapping inputs to one score per example for `target`."""
    if target.kind == "class":
        scores = logits_model(model)
        return keras.Model(_input(scores), scores.outputs[0][:, target.index])
    output = get_layer(model, target.layer).output
    channel = output[..., target.index]
    if target.kind == "filter":  # the degree of activation a^k = sum_ij a^k_ij
        return keras.Model(_input(model), ops.sum(channel, axis=tuple(range(1, len(channel.shape)))))
    return keras.Model(_input(model), channel)


# ---------------------------------------------------------------- gradients

def _gradient(score_net, x):
    """(scores, d sum(scores) / dx) for a numpy batch x."""
    import tensorflow as tf
    x = tf.convert_to_tensor(x, dtype="float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        scores = score_net(x, training=False)
        total = tf.reduce_sum(scores)
    return scores.numpy(), tape.gradient(total, x).numpy()


def saliency(model, x, class_index=None):
    """Input gradient of a class logit for one input x (no batch axis), same shape as x.

    With no class, the predicted class is explained. Returns (gradient, class)."""
    x = np.asarray(x, np.float32)[None]
    if class_index is None:
        class_index = int(np.argmax(model(x, training=False)[0]))
    _, grad = _gradient(score_model(model, Target("class", class_index)), x)
    return grad[0], class_index


def smoothgrad(model, x, class_index=None, samples=32, noise=0.15, seed=0, value_range=1.0):
    """SmoothGrad (Smilkov et al. 2017): the input gradient of a class logit averaged over
    `samples` copies of x with Gaussian noise of sd `noise` * `value_range` (the input's
    max - min). Plain gradients of a ReLU network flicker from pixel to pixel; their
    average over a neighbourhood of x shows the shape. Returns (gradient, class)."""
    x = np.asarray(x, np.float32)
    if class_index is None:
        class_index = int(np.argmax(model(x[None], training=False)[0]))
    rng = np.random.default_rng(seed)
    noisy = x[None] + rng.normal(0.0, noise * value_range, size=(samples,) + x.shape).astype(np.float32)
    _, grad = _gradient(score_model(model, Target("class", class_index)), noisy)
    return grad.mean(axis=0), class_index


def integrated_gradients(model, x, class_index=None, baseline=None, steps=32):
    """Integrated gradients (Sundararajan et al. 2017): (x - baseline) times the class logit's
    gradient averaged along the straight path from `baseline` (default: all zeros, a blank
    input) to x (midpoint rule). The attributions add up to logit(x) - logit(baseline), so
    each says how much of the score an input element carries, with its sign.
    Returns (attributions, class)."""
    x = np.asarray(x, np.float32)
    baseline = np.zeros_like(x) if baseline is None else np.asarray(baseline, np.float32)
    if class_index is None:
        class_index = int(np.argmax(model(x[None], training=False)[0]))
    alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32).reshape((-1,) + (1,) * x.ndim)
    _, grad = _gradient(score_model(model, Target("class", class_index)), baseline + alphas * (x - baseline))
    return (x - baseline) * grad.mean(axis=0), class_index


def separating_layer(model, inputs, layers=None):
    """The conv layer at which Grad-CAM separates classes best. Grad-CAM belongs at the last
    stage's grid (Selvaraju et al.), so the candidates are the conv layers of the coarsest
    spatial size; of those, the one whose maps for an input's best and runner-up classes
    differ most (mean 1 - correlation over `inputs`; a flat map counts as no difference).
    The very last conv of a small digit network draws the same central blob for every class."""
    layers = layers or conv_layers(model)
    sizes = {layer: int(np.prod(get_layer(model, layer).output.shape[1:-1])) for layer in layers}
    candidates = [layer for layer in layers if sizes[layer] == min(sizes.values())]
    if len(candidates) == 1:
        return candidates[0]
    logits = logits_model(model)
    top_two = [np.argsort(np.asarray(logits(np.asarray(x, np.float32)[None], training=False))[0])[::-1][:2]
               for x in inputs]
    best, best_score = candidates[-1], -1.0
    for layer in candidates:
        distances = []
        for x, (first, second) in zip(inputs, top_two):
            a, b = grad_cam(model, x, layer, int(first))[0].ravel(), grad_cam(model, x, layer, int(second))[0].ravel()
            distances.append(1.0 - np.corrcoef(a, b)[0, 1] if a.std() > 0 and b.std() > 0 else 0.0)
        if np.mean(distances) > best_score:
            best, best_score = layer, float(np.mean(distances))
    return best


def grad_cam(model, x, layer=None, class_index=None):
    """Grad-CAM map for one input x at conv layer `layer` (default: the last conv layer).

    Channel weights are the spatially averaged gradients of the class logit; the
    map relu(sum_k w_k A^k) is resized to the input's spatial shape and scaled to
    [0, 1]. Returns (map, class)."""
    import tensorflow as tf
    layer = layer or conv_layers(model)[-1]
    x = tf.convert_to_tensor(np.asarray(x, np.float32)[None])
    logits = logits_model(model)
    both = keras.Model(_input(model), [get_layer(model, layer).output, logits.outputs[0]])
    if class_index is None:
        class_index = int(np.argmax(model(x, training=False)[0]))
    with tf.GradientTape() as tape:
        maps, scores = both(x, training=False)
        score = scores[:, class_index]
    grads = tape.gradient(score, maps)[0].numpy()
    maps = maps[0].numpy()
    weights = grads.reshape(-1, grads.shape[-1]).mean(0)
    cam = np.maximum((maps * weights).sum(-1), 0)
    cam = resize_map(cam, x.shape[1:-1])
    return cam / (cam.max() + 1e-12), class_index


def resize_map(values, shape):
    """Linear resize of a 1D or 2D map to `shape` (spatial only)."""
    values = np.asarray(values, np.float32)
    zoom = [t / s for t, s in zip(shape, values.shape)]
    return ndimage.zoom(values, zoom, order=1, mode="nearest")[tuple(slice(0, t) for t in shape)]


# ---------------------------------------------------------------- activation maximization

@dataclasses.dataclass
class Regularizers:
    """Weights of the regularizers of activation maximization (0 = off).

    l1: weight of mean |u - u0|, u the input scaled to [0, 1] and u0 the scaled
        zero (background) input: keeps only the evidence that matters.
    tv: weight of the mean squared difference of neighbouring positions: smooth,
        natural-looking inputs instead of high-frequency noise.
    jitter: random shift of up to this many positions before each step (undone after).
    blur: Gaussian blur of this sigma (positions) every `blur_every` steps."""
    l1: float = 0.0
    tv: float = 0.0
    jitter: int = 0
    blur: float = 0.0
    blur_every: int = 4


def total_variation(u, rank):
    """Mean squared difference between neighbours along each spatial axis, per example
    (numpy arrays or tensors of shape (batch, *spatial, channels))."""
    total = 0.0
    for axis in range(1, rank + 1):
        n = u.shape[axis]
        diff = ops.take(u, np.arange(1, n), axis=axis) - ops.take(u, np.arange(n - 1), axis=axis)
        total = total + ops.mean(ops.reshape(ops.square(diff), (u.shape[0], -1)), axis=1)
    return total


def maximize(model, target, steps=200, step_size=0.05, regularizers=Regularizers(), preprocessing=None,
             start=None, seed=0, batch=1):
    """Inputs that maximize `target` by gradient ascent, with regularizers.

    The ascent runs on u = (x - low) / (high - low) in [0, 1] (the model's input
    range), so step sizes and regularizer weights mean the same for every app.
    Each step moves u by `step_size` times the gradient divided by its mean
    magnitude, then clips to [0, 1]. Returns (x*, history): x* in the model's
    units, shape (batch, *input_shape), and the target score of each step
    (mean over the batch, without the penalties)."""
    import tensorflow as tf
    low, high = input_range(model, preprocessing)
    rank = spatial_rank(model)
    shape = (batch,) + tuple(model.input_shape[1:])
    if None in shape:
        raise UserError("activation maximization needs a model with a fixed input shape")
    rng = np.random.default_rng(seed)
    zero = float(np.clip((0.0 - low) / (high - low), 0, 1))  # the scaled background input
    u = np.asarray(start, np.float32).reshape(shape) if start is not None else \
        np.clip(zero + rng.normal(0, 0.05, shape) + (0.5 - zero) * 0.2, 0, 1).astype(np.float32)
    score_net = score_model(model, target)

    @tf.function
    def ascent_gradient(rolled):
        with tf.GradientTape() as tape:
            tape.watch(rolled)
            scores = score_net(low + rolled * (high - low), training=False)
            objective = tf.reduce_sum(scores) / batch
            if regularizers.l1:
                objective -= regularizers.l1 * tf.reduce_mean(tf.abs(rolled - zero))
            if regularizers.tv:
                objective -= regularizers.tv * tf.reduce_mean(total_variation(rolled, rank))
        return tf.reduce_mean(scores), tape.gradient(objective, rolled)

    history = []
    axes = tuple(range(1, rank + 1))
    for step in range(steps):
        shift = tuple(int(s) for s in rng.integers(-regularizers.jitter, regularizers.jitter + 1, rank)) \
            if regularizers.jitter else (0,) * rank
        score, grad = ascent_gradient(tf.constant(np.roll(u, shift, axis=axes)))
        grad = np.roll(grad.numpy(), tuple(-s for s in shift), axis=axes)
        history.append(float(score))
        u = np.clip(u + step_size * grad / (np.abs(grad).mean() + 1e-12), 0, 1).astype(np.float32)
        if regularizers.blur and (step + 1) % regularizers.blur_every == 0:
            u = ndimage.gaussian_filter(u, sigma=(0,) + (regularizers.blur,) * rank + (0,))
    return low + u * (high - low), history


def target_score(model, target, x):
    """The target's score for a batch x (model units)."""
    return score_model(model, target)(np.asarray(x, np.float32), training=False).numpy()


# ---------------------------------------------------------------- pictures

def to_display(x, low=None, high=None):
    """A 2D map (H, W), an RGB image (H, W, 3) or a 1D signal made displayable:
    floats in [0, 1] (scaled by low/high, or by its own min/max)."""
    x = np.asarray(x, np.float32)
    low = x.min() if low is None else low
    high = x.max() if high is None else high
    return np.clip((x - low) / (high - low + 1e-12), 0, 1)


def tiles(x, rank):
    """One input or feature tensor (no batch axis) as pictures:
    2D with 1 or 3 channels -> one picture; 2D with C channels -> C pictures;
    1D (length, channels) -> one (channels, length) picture."""
    x = np.asarray(x, np.float32)
    if rank == 1:
        return [x.T]
    if x.shape[-1] in (1, 3):
        return [x[..., 0] if x.shape[-1] == 1 else x]
    return [x[..., c] for c in range(x.shape[-1])]


def grid_png(pictures, path, titles=None, cmap="gray", ncols=None, suptitle=None, scale=1.6,
             shared_range=None, dpi=80, origin="upper"):
    """Save pictures (2D arrays or RGB) in a grid; returns the path.
    origin="lower" puts row 0 at the bottom (Go boards)."""
    plt = pyplot()
    n = len(pictures)
    ncols = ncols or min(n, 8)
    nrows = -(-n // ncols)
    aspect = pictures[0].shape[1] / max(pictures[0].shape[0], 1)
    width = min(max(scale * aspect, scale), 4 * scale)
    extra_lines = max(t.count("\n") for t in titles) if titles else 0  # room for two-line titles
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, (scale + 0.25 * extra_lines) * nrows +
                                                    (0.4 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        picture = pictures[i]
        if picture.ndim == 3:
            ax.imshow(to_display(picture, *(shared_range or (None, None))), origin=origin)
        else:
            low, high = shared_range or (picture.min(), picture.max())
            ax.imshow(picture, cmap=cmap, vmin=low, vmax=high, aspect="auto" if aspect > 4 else "equal",
                      interpolation="nearest", origin=origin)
        if titles:
            ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return save_figure(fig, path, dpi=dpi)


def filter_grid_png(model, path, layer=None, max_filters=64, max_channels=8):
    """The kernels of a conv layer (default: the first) as a grid.

    2D kernels with 1 or 3 input channels are one picture per filter (grey or RGB);
    with more input channels, each filter's first `max_channels` input planes
    are drawn in a row (Go: 48 planes). 1D kernels (k, C_in) are drawn as
    (C_in, k) pictures (speech: frequency x time)."""
    layer = get_layer(model, layer or _first_conv(model))
    kernel = np.asarray(layer.kernel)
    rank = kernel.ndim - 2
    n = min(kernel.shape[-1], max_filters)
    pictures, titles = [], []
    if rank == 1:
        pictures = [kernel[:, :, k].T for k in range(n)]
        titles = [f"{k}" for k in range(n)]
    elif kernel.shape[2] in (1, 3):
        pictures = [kernel[..., k][..., 0] if kernel.shape[2] == 1 else to_display(kernel[..., k]) for k in range(n)]
        titles = [f"{k}" for k in range(n)]
    else:
        channels = min(kernel.shape[2], max_channels)
        for k in range(n):
            for c in range(channels):
                pictures.append(kernel[:, :, c, k])
                titles.append(f"f{k} in{c}")
        return grid_png(pictures, path, titles=titles, cmap="RdBu_r", ncols=channels,
                        suptitle=f"{layer.name}: {n} filters x {channels} input planes")
    return grid_png(pictures, path, titles=titles, cmap="RdBu_r" if rank == 1 or kernel.shape[2] == 1 else None,
                    suptitle=f"{layer.name}: {n} of {kernel.shape[-1]} filters {kernel.shape[:-2]}")


def _first_conv(model):
    names = conv_layers(model)
    if not names:
        raise UserError("the model has no convolution layer")
    return names[0]


def activations(model, layer, x):
    """The output of `layer` for one input x (no batch axis)."""
    return feature_model(model, [layer])(np.asarray(x, np.float32)[None], training=False)[0].numpy()


def activation_maps_png(model, layer, x, path, max_maps=32, origin="upper", transpose=False):
    """The feature maps of `layer` for input x; the strongest `max_maps` channels
    (by degree of activation) for 2D layers, all channels as rows for 1D.
    origin="lower" puts row 0 at the bottom (Go boards); transpose=True draws
    2D maps axis 1 upwards (speech: frequency up, time across)."""
    maps = activations(model, layer, x)
    if maps.ndim == 1:  # a dense layer: one bar per unit
        maps = maps[None, :]
        return grid_png([maps], path, titles=[f"{layer}: {maps.shape[1]} units"], cmap="viridis")
    if maps.ndim == 2:
        return grid_png([maps.T], path, titles=[f"{layer}: {maps.shape[1]} channels x {maps.shape[0]} positions"],
                        cmap="viridis")
    degree = maps.reshape(-1, maps.shape[-1]).sum(0)
    order = np.argsort(degree)[::-1][:max_maps]
    return grid_png([maps[..., k].T if transpose else maps[..., k] for k in order], path, cmap="viridis",
                    titles=[f"{k}: a={degree[k]:.3g}" for k in order], origin=origin,
                    suptitle=f"{layer}: {len(order)} of {maps.shape[-1]} maps, strongest first")


def heatmap_overlay_png(image, heat, path, title="", cmap="jet", alpha=0.45):
    """The input picture with a heat map (same spatial shape) on top, side by side with it."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
    for ax in axes:
        ax.imshow(image, cmap=None if np.ndim(image) == 3 else "gray", aspect="auto" if image.shape[1] > 4 *
                  image.shape[0] else "equal")
        ax.axis("off")
    axes[1].imshow(heat, cmap=cmap, alpha=alpha, aspect="auto" if heat.shape[1] > 4 * heat.shape[0] else "equal")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def input_picture(x, rank, low, high):
    """One model input (no batch axis) as a picture in [0, 1]: the image itself
    (grey or RGB), the channel-wise max for other 2D inputs, (channels, length) for 1D."""
    x = to_display(x, low, high)
    if rank == 1:
        return x.T
    if x.shape[-1] == 1:
        return x[..., 0]
    return x if x.shape[-1] == 3 else x.max(-1)


def saliency_map(grad, rank):
    """|gradient|, max over channels for 2D inputs (Simonyan et al.), (channels, length) for 1D."""
    grad = np.abs(grad)
    return grad.T if rank == 1 else grad.max(-1)


# ---------------------------------------------------------------- reports

def gallery_markdown(out_dir, link_prefix="", title="What the network learned", captions=None):
    """A Markdown section showing every PNG in out_dir (sorted), with links
    relative to the report: `link_prefix` + file name. `captions` maps file
    names to captions (default: the name)."""
    out_dir = Path(out_dir)
    captions = captions or {}
    lines = [f"### {title}", ""]
    for png in sorted(out_dir.glob("*.png")):
        caption = captions.get(png.name, png.stem.replace("_", " "))
        lines += [f"**{caption}**", "", f"![{caption}]({link_prefix}{png.name})", ""]
    return "\n".join(lines)
