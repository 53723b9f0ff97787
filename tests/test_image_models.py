"""The image architectures: parameter counts worked out by hand, the VGG stage
option, and the augmentation choices."""
import numpy as np
import pytest

import run
from apps.image import ARCHITECTURES
from apps.image.models import build_model
from tests.conftest import needs_data


def _conv_bn(c_in, c_out):
    return 9 * c_in * c_out + 4 * c_out  # 3x3 kernel (no bias: batch norm follows), gamma, beta, mean, var


def test_vgg_parameter_count_by_hand():
    w = 24
    stages = [(1, w), (w, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w)]
    expected = sum(_conv_bn(a, b) for a, b in stages) + 4 * w * 10 + 10
    assert build_model("vgg", width=w).count_params() == expected == 163_234


def test_vgg_with_one_conv_in_the_first_stage():
    w = 24
    stages = [(1, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w)]
    model = build_model("vgg", width=w, convs_per_stage=(1, 2, 2))
    assert model.count_params() == sum(_conv_bn(a, b) for a, b in stages) + 4 * w * 10 + 10
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert len(convs) == 5 and convs[0].output.shape[1:3] == (28, 28) and convs[1].output.shape[1:3] == (14, 14)


def test_convs_per_stage_is_checked():
    with pytest.raises(ValueError):
        build_model("resnet", width=8, convs_per_stage=(1, 2, 2))
    with pytest.raises(ValueError):
        build_model("vgg", width=8, convs_per_stage=(0, 2, 2))


def test_flip_augmentation_mirrors_only_in_training():
    model = build_model("vgg", width=8, augment="flip", dataset="fashion")
    names = [layer.name for layer in model.layers]
    assert "aug_flip" in names and "aug_translate" not in names
    x = np.random.default_rng(0).integers(0, 255, (4, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))
    full = [layer.name for layer in build_model("vgg", width=8, augment="full", dataset="fashion").layers]
    assert {"aug_flip", "aug_translate"} <= set(full)


def test_cli_refuses_flips_for_digits_and_stages_for_other_archs(capsys, tmp_path):
    code = run.main(["image", "train", "--augment", "flip", "--out", str(tmp_path / "a")])
    assert code == 2 and "mirrored digit" in capsys.readouterr().err
    code = run.main(["image", "train", "--arch", "lenet5", "--convs-per-stage", "1", "2", "2",
                     "--out", str(tmp_path / "b")])
    assert code == 2 and "--convs-per-stage and --dropout apply to --arch vgg only" in capsys.readouterr().err


@needs_data("image", "mnist", "train-images-idx3-ubyte.gz")
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_learns_digits_in_a_short_run(arch):
    """Narrow networks, 120 steps on 1,920 digits: each must beat chance (0.10)
    clearly (2.5 times) on 500 digits it never saw."""
    import keras

    from apps.image import data
    keras.utils.set_random_seed(0)
    x, y = data.load_split("mnist", "train", None)
    x, y = x[:2420].astype("float32"), y[:2420]
    # the two built for economy have a few thousand parameters at width 8: they get 16
    model = build_model(arch, 10, width=16 if arch in ("squeezenet", "shufflenet") else 8)
    for layer in model.layers:  # running averages that keep up with a run this short (default 0.99)
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[:1920], y[:1920], epochs=2, batch_size=32, verbose=0)
    accuracy = model.evaluate(x[1920:], y[1920:], verbose=0)[1]
    assert accuracy > 0.25, (arch, accuracy)  # chance is 0.10; its standard error on 500 digits, 0.013


@pytest.mark.parametrize("norm", ["layer", "instance", "group", "none"])
def test_the_normalization_is_a_choice(norm):
    model = build_model("resnet", 10, width=8, norm=norm)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "BatchNormalization" not in kinds
    assert ("GroupNormalization" in kinds) == (norm != "none")
    assert {type(layer).__name__ for layer in build_model("lenet5", 10).layers}.isdisjoint(
        {"BatchNormalization", "GroupNormalization"})  # LeNet-5 had none
