"""shared/visualize.py on tiny random models, 2D (images, Go) and 1D (speech, text)."""
import numpy as np
import pytest
from PIL import Image

import keras

from shared import visualize as viz  # noqa: E402
from shared.builders import ConvSpec, build_classifier  # noqa: E402
from shared.errors import UserError  # noqa: E402


@pytest.fixture(scope="module")
def model_2d():
    keras.utils.set_random_seed(1)
    return build_classifier((12, 12, 1), [ConvSpec(4, 3), ConvSpec(6, 3, pool="max")], 3,
                            preprocess=[keras.layers.Rescaling(1 / 255.0, name="rescale")], hidden=(8,))


@pytest.fixture(scope="module")
def model_1d():
    keras.utils.set_random_seed(2)
    return build_classifier((20, 5), [ConvSpec(4, 3), ConvSpec(4, 3, pool="max")], 4, global_pool="avg")


def test_input_range_from_rescaling_and_metadata(model_2d, model_1d):
    assert viz.input_range(model_2d) == pytest.approx((0, 255))
    assert viz.input_range(model_1d) == (0, 1)
    assert viz.input_range(model_1d, {"input_range": [-80, 0]}) == (-80, 0)


def test_parse_target(model_2d):
    assert viz.parse_target(model_2d, "class:2") == viz.Target("class", 2)
    assert viz.parse_target(model_2d, "conv2_conv:5") == viz.Target("filter", 5, "conv2_conv")
    assert viz.parse_target(model_2d, "head_dense1:7") == viz.Target("unit", 7, "head_dense1")
    for bad in ("class:3", "conv2_conv:6", "nope:1", "conv2_conv"):
        with pytest.raises(UserError):
            viz.parse_target(model_2d, bad)


@pytest.mark.parametrize("which", ["model_2d", "model_1d"])
def test_maximization_increases_the_target(which, request):
    model = request.getfixturevalue(which)
    conv = viz.conv_layers(model)[-1]
    for target in (viz.Target("filter", 1, conv), viz.Target("class", 0)):
        start = np.full((1,) + model.input_shape[1:], 0.5, np.float32)
        low, high = viz.input_range(model)
        x, history = viz.maximize(model, target, steps=25, start=start,
                                  regularizers=viz.Regularizers(jitter=1, blur=0.3))
        assert x.shape == start.shape and low <= x.min() and x.max() <= high
        before = viz.target_score(model, target, low + start * (high - low))[0]
        assert viz.target_score(model, target, x)[0] > before + 1e-3


def test_filter_score_is_the_degree_of_activation(model_2d):
    x = np.random.default_rng(0).uniform(0, 255, (2, 12, 12, 1)).astype(np.float32)
    maps = viz.feature_model(model_2d, ["conv2_conv"])(x).numpy()
    assert np.allclose(viz.target_score(model_2d, viz.Target("filter", 3, "conv2_conv"), x),
                       maps[..., 3].sum((1, 2)), rtol=1e-5)


def _mean_abs(x, low, high):
    return np.abs((x - low) / (high - low)).mean()


def test_l1_lowers_the_input_norm(model_2d):
    target = viz.Target("class", 1)
    plain, _ = viz.maximize(model_2d, target, steps=30, seed=4)
    sparse, _ = viz.maximize(model_2d, target, steps=30, seed=4, regularizers=viz.Regularizers(l1=20.0))
    assert _mean_abs(sparse, 0, 255) < 0.8 * _mean_abs(plain, 0, 255)


def test_total_variation_lowers_total_variation(model_1d):
    target = viz.Target("class", 2)
    plain, _ = viz.maximize(model_1d, target, steps=30, seed=5)
    smooth, _ = viz.maximize(model_1d, target, steps=30, seed=5, regularizers=viz.Regularizers(tv=50.0))
    assert float(viz.total_variation(smooth, 1)[0]) < 0.8 * float(viz.total_variation(plain, 1)[0])


def test_total_variation_known_answer():
    u = np.zeros((1, 3, 3, 1), np.float32)
    u[0, 1, 1, 0] = 1  # 4 unit differences of 6 per axis
    assert float(viz.total_variation(u, 2)[0]) == pytest.approx(2 * 2 / 6)


def test_saliency_is_the_input_gradient(model_2d):
    x = np.random.default_rng(1).uniform(0, 255, (12, 12, 1)).astype(np.float32)
    grad, cls = viz.saliency(model_2d, x, class_index=2)
    assert grad.shape == x.shape and cls == 2
    logits = viz.logits_model(model_2d)
    i = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
    nudged = x.copy()
    nudged[i] += 0.5
    change = (logits(nudged[None])[0, 2] - logits(x[None])[0, 2]).numpy() / 0.5
    assert change == pytest.approx(grad[i], rel=0.05, abs=1e-5)
    assert viz.saliency_map(grad, 2).shape == (12, 12)


def test_integrated_gradients_add_up_to_the_score_difference(model_2d, model_1d):
    for model, shape, low, high in ((model_2d, (12, 12, 1), 0, 255), (model_1d, (20, 5), 0, 1)):
        x = np.random.default_rng(3).uniform(low, high, shape).astype(np.float32)
        baseline = np.full_like(x, low)
        attributions, cls = viz.integrated_gradients(model, x, baseline=baseline, steps=64)
        logits = viz.logits_model(model)
        gap = float(logits(x[None], training=False)[0, cls] - logits(baseline[None], training=False)[0, cls])
        assert attributions.shape == x.shape
        assert attributions.sum() == pytest.approx(gap, rel=0.03, abs=1e-3)  # completeness


def test_smoothgrad_without_noise_is_saliency_and_with_noise_is_seeded(model_2d):
    x = np.random.default_rng(4).uniform(0, 255, (12, 12, 1)).astype(np.float32)
    plain, cls = viz.saliency(model_2d, x, class_index=1)
    still, _ = viz.smoothgrad(model_2d, x, class_index=1, noise=0.0, samples=4)
    np.testing.assert_allclose(still, plain, rtol=1e-5, atol=1e-7)
    noisy, _ = viz.smoothgrad(model_2d, x, class_index=1, noise=0.2, value_range=255.0, seed=5)
    again, _ = viz.smoothgrad(model_2d, x, class_index=1, noise=0.2, value_range=255.0, seed=5)
    np.testing.assert_array_equal(noisy, again)
    assert not np.allclose(noisy, plain)


def test_separating_layer_takes_the_coarsest_grid_where_classes_differ():
    # three convs: "early" at 8x8, then "same" and "varies" at 4x4; "same" sees its input through
    # a constant only (one flat map for every class), "varies" is a plain convolution
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 1))
    early = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="early")(inputs)
    pooled = keras.layers.MaxPooling2D()(early)
    varies = keras.layers.Conv2D(8, 3, padding="same", name="varies")(pooled)
    same = keras.layers.Conv2D(4, 1, name="same", kernel_initializer="zeros", bias_initializer="ones")(varies * 0.0)
    features = keras.layers.Flatten()(keras.layers.Concatenate()([varies, same]))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(features))
    xs = [np.random.default_rng(i).uniform(0, 1, (8, 8, 1)).astype(np.float32) for i in range(4)]
    assert viz.separating_layer(model, xs, layers=["early", "same", "varies"]) == "varies"
    assert viz.separating_layer(model, xs, layers=["early", "same"]) == "same"  # the only one at 4x4


def test_logits_are_the_pre_softmax_scores(model_2d):
    x = np.random.default_rng(2).uniform(0, 255, (3, 12, 12, 1)).astype(np.float32)
    logits = viz.logits_model(model_2d)(x).numpy()
    probs = model_2d(x).numpy()
    assert np.allclose(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), probs, atol=1e-5)


@pytest.mark.parametrize("which,spatial", [("model_2d", (12, 12)), ("model_1d", (20,))])
def test_grad_cam_shape_and_range(which, spatial, request):
    model = request.getfixturevalue(which)
    x = np.random.default_rng(3).uniform(0, 1, model.input_shape[1:]).astype(np.float32)
    cam, cls = viz.grad_cam(model, x)
    assert cam.shape == spatial and 0 <= cam.min() and cam.max() <= 1 + 1e-6
    assert 0 <= cls < model.output_shape[-1]


def test_pngs_are_valid_and_of_the_expected_size(model_2d, model_1d, tmp_path):
    path = viz.filter_grid_png(model_2d, tmp_path / "filters.png")
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:  # 4 filters in one row: 4 x 1.6 in by (1.6 + 0.4) in, at 80 dpi
        assert image.format == "PNG" and image.size == (512, 160)
    x2 = np.full((12, 12, 1), 100, np.float32)
    x1 = np.zeros((20, 5), np.float32)
    for path in (viz.filter_grid_png(model_1d, tmp_path / "f1.png"),
                 viz.activation_maps_png(model_2d, "conv1_conv", x2, tmp_path / "a2.png"),
                 viz.activation_maps_png(model_1d, "conv2_conv", x1, tmp_path / "a1.png"),
                 viz.activation_maps_png(model_2d, "head_dense1", x2, tmp_path / "d.png")):
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) > 50


def test_gallery_lists_every_png(tmp_path):
    for name in ("b_saliency.png", "a_filters.png"):
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    text = viz.gallery_markdown(tmp_path, "image/viz/", captions={"a_filters.png": "Filters"})
    assert text.index("](image/viz/a_filters.png)") < text.index("](image/viz/b_saliency.png)")
    assert "**Filters**" in text
