"""The image architectures: parameter counts worked out by hand, the VGG stage
option, and the augmentation choices."""
import numpy as np
import pytest

import run
from apps.image.models import build_model


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
