"""shared/transfer.py: which layers each --freeze mode keeps, on small networks whose
parameters are counted by hand; the error cases; and `image train --init-model --freeze conv`
end to end (MNIST features reused for Fashion-MNIST: the convolutions come out untouched)."""
import json

import keras
import numpy as np
import pytest

import run
from conftest import needs_data
from shared import transfer
from shared.errors import UserError
from shared.layers import LimitedWeightSharingConv2D, WideConv1D


def small_cnn():
    """conv (3*3*1*4 + 4 = 40) -> batch norm (8 trainable, 8 statistics) -> flatten (6*6*4 = 144)
    -> dense (144*5 + 5 = 725) -> layer norm (10) -> head_softmax (5*3 + 3 = 18)."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, name="conv1_conv")(inputs)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(5, name="hidden")(x)
    x = keras.layers.LayerNormalization(name="hidden_norm")(x)  # after the convolutions: not among them
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="head_softmax")(x), name="small")


def trainable_names(model):
    return [layer.name for layer in model.layers if layer.trainable_weights]


@pytest.mark.parametrize("mode, frozen, trainable", [
    ("none", [], 40 + 8 + 725 + 10 + 18),
    ("conv", ["conv1_conv", "conv1_bn"], 725 + 10 + 18),
    ("all-but-head", ["conv1_conv", "conv1_bn", "hidden", "hidden_norm"], 18),
])
def test_each_mode_freezes_its_layers(mode, frozen, trainable):
    model = small_cnn()
    assert transfer.freeze(model, mode) == frozen
    counts = transfer.counts(model)
    assert counts["trainable_parameters"] == trainable
    # what does not train: the frozen weights plus the batch norm's 8 moving statistics
    assert counts["frozen_parameters"] == 40 + 8 + 725 + 10 + 18 + 8 - trainable
    assert not set(frozen) & set(trainable_names(model))
    assert "head_softmax" in trainable_names(model)
    line = transfer.describe(model, mode, frozen)
    assert f"{len(frozen)} layers frozen" in line and f"{trainable:,} parameters train" in line


def test_the_suites_own_convolutions_are_convolutions():
    text = keras.Input((12, 6))
    x = WideConv1D(4, 3, name="conv_w3")(text)  # 3*6*4 + 4 = 76
    x = keras.layers.GlobalMaxPooling1D(name="pool")(x)
    text_model = keras.Model(text, keras.layers.Dense(2, name="softmax")(x))  # 4*2 + 2 = 10
    assert transfer.freeze(text_model, "conv") == ["conv_w3"]
    assert transfer.counts(text_model)["trainable_parameters"] == 10

    bands = keras.Input((5, 12, 1))
    y = LimitedWeightSharingConv2D(2, (3, 4), 3, name="conv1_conv_lws")(bands)
    y = keras.layers.BatchNormalization(name="conv1_bn")(y)  # fed by the convolution: frozen with it
    y = keras.layers.Flatten()(y)
    speech_model = keras.Model(bands, keras.layers.Dense(3, name="head_softmax")(y))
    assert transfer.freeze(speech_model, "conv") == ["conv1_conv_lws", "conv1_bn"]
    assert trainable_names(speech_model) == ["head_softmax"]


def test_a_network_without_head_layers_names_its_own():
    """A Go policy: its head is a convolution (to one plane) and the per-point biases."""
    from apps.go.models import build_policy
    from apps.go.train import policy_head
    conv_model, all_model = build_policy(3, 8, board_size=9), build_policy(3, 8, board_size=9)
    expected = ["conv1_conv", "conv2_conv"]  # the 5x5 and the 3x3; not the head's 1x1
    assert policy_head(conv_model) == ("conv3_conv", "point_bias")
    assert transfer.freeze(conv_model, "conv", head=policy_head(conv_model)) == expected
    assert transfer.freeze(all_model, "all-but-head", head=policy_head(all_model)) == expected
    assert transfer.counts(conv_model)["trainable_parameters"] == 8 * 1 + 9 * 9  # 1x1 kernel, no bias; biases
    assert policy_head(build_policy(4, 8, board_size=9, arch="mobile")) == ("head_conv", "point_bias")
    with pytest.raises(ValueError, match="no layer conv9_conv"):
        transfer.freeze(build_policy(3, 8, board_size=9), "conv", head=("conv9_conv", "point_bias"))
    # without the names: the last layer with weights is the head (a text model's softmax)
    assert transfer.head_layers(build_policy(3, 8, board_size=9)) == ["point_bias"]


def test_input_statistics_and_untrainable_layers_are_left_alone():
    inputs = keras.Input((4,))
    norm = keras.layers.Normalization(name="input_norm")
    norm.adapt(np.arange(8, dtype="float32").reshape(2, 4))
    static = keras.layers.Dense(4, name="static", trainable=False)  # as a text model's static word vectors
    x = keras.layers.Dense(3, name="hidden")(static(norm(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head_softmax")(x))
    assert transfer.freeze(model, "none") == [] and not static.trainable
    assert transfer.freeze(model, "all-but-head") == ["hidden"]
    assert transfer.counts(model)["trainable_parameters"] == 3 * 2 + 2


def test_a_frozen_batch_norm_normalises_with_its_moving_statistics():
    model = small_cnn()
    bn = model.get_layer("conv1_bn")
    bn.set_weights([np.ones(4), np.zeros(4), np.full(4, 3.0), np.full(4, 4.0)])
    transfer.freeze(model, "conv")
    x = np.random.default_rng(0).normal(size=(16, 6, 6, 4)).astype("float32")
    np.testing.assert_allclose(bn(x, training=True), (x - 3.0) / np.sqrt(4.0 + bn.epsilon), rtol=1e-5)


def test_training_changes_only_what_trains():
    model = small_cnn()
    frozen = transfer.freeze(model, "conv")
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers}
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(64, 8, 8, 1)), rng.integers(0, 3, 64), epochs=2, batch_size=16, verbose=0)
    for layer in model.layers:
        same = all(np.array_equal(a, b) for a, b in zip(before[layer.name], layer.get_weights()))
        assert same == (layer.name in frozen or not layer.weights), layer.name


def test_the_error_cases():
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="hidden"),
                              keras.layers.Dense(2, name="head_softmax")], name="dense_only")
    with pytest.raises(UserError, match="--freeze conv: dense_only has no trainable convolution layers"):
        transfer.freeze(dense, "conv")
    only_head = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head_softmax")], name="probe")
    with pytest.raises(UserError, match="--freeze all-but-head: probe has no trainable layers with weights"):
        transfer.freeze(only_head, "all-but-head")
    convs = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, name="a"),
                              keras.layers.Conv2D(1, 3, name="b")], name="convs")
    with pytest.raises(UserError, match="would leave nothing of convs to train"):
        transfer.freeze(convs, "conv", head=[])
    assert all(layer.trainable for layer in convs.layers)  # a refused freeze changes nothing
    with pytest.raises(UserError, match="did not provide .*: conv1_bn"):
        transfer.freeze(small_cnn(), "conv", copied=["conv1_conv"])
    with pytest.raises(UserError, match="--freeze conv: give the model whose weights to keep with --init-model"):
        transfer.check_options(None, "conv")
    transfer.check_options(None, "none")
    with pytest.raises(UserError, match="choose one of none, conv, all-but-head"):
        transfer.freeze(small_cnn(), "head")


@pytest.mark.parametrize("argv", [
    ["image", "train", "--freeze", "conv"],
    ["go", "train", "--data", "nowhere", "--freeze", "all-but-head"],
    ["speech", "train", "--dataset", "fsdd", "--freeze", "conv"],
    ["text", "train", "--task", "sst2", "--freeze", "conv"],
])
def test_every_app_refuses_freeze_without_init_model(argv, capsys, tmp_path):
    assert run.main(argv + ["--out", str(tmp_path / "run")]) == 2
    assert "--freeze" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_every_app_records_the_option():
    parser = run.build_parser()
    for app in ("image", "go", "speech", "text"):
        args = parser.parse_args([app, "train", "--init-model", "m.keras", "--freeze", "all-but-head"]
                                 + (["--data", "d"] if app == "go" else []))
        assert (args.init_model, args.freeze) == ("m.keras", "all-but-head")
        assert parser.parse_args([app, "train"] + (["--data", "d"] if app == "go" else [])).freeze == "none"


@needs_data("image", "fashion-mnist", "train-images-idx3-ubyte.gz")
@needs_data("image", "mnist", "train-images-idx3-ubyte.gz")
def test_image_features_of_mnist_reused_for_fashion(tmp_path, capsys):
    small = ["--arch", "vgg", "--width", "8", "--convs-per-stage", "1", "1", "1", "--val-size", "256",
             "--batch-size", "64"]
    source = tmp_path / "mnist"
    assert run.main(["image", "train", "--dataset", "mnist", "--limit", "512", "--epochs", "1",
                     "--out", source] + small) == 0
    capsys.readouterr()
    # another width: the convolutions cannot be copied
    assert run.main(["image", "train", "--dataset", "fashion", "--init-model", source / "model.keras",
                     "--freeze", "conv", "--out", tmp_path / "bad"] + small + ["--width", "16"]) == 2
    assert "--width 8 (this run: 16)" in capsys.readouterr().err

    # ended by the time budget after its first epoch of 2, then resumed: the freeze is applied again
    target = tmp_path / "fashion"
    options = ["image", "train", "--dataset", "fashion", "--limit", "512", "--epochs", "2", "--seed", "7",
               "--init-model", source / "model.keras", "--freeze", "conv", "--out", target] + small
    assert run.main(options + ["--time-budget", "0.0001"]) == 0
    assert "freeze conv: 6 layers frozen" in capsys.readouterr().out
    assert (target / "backup").exists()
    assert run.main(options + ["--resume"]) == 0
    assert len((target / "log.csv").read_text().splitlines()) == 3  # header and the 2 epochs

    from shared.modelio import load_model
    before, _ = load_model(source / "model.keras")
    after, meta = load_model(target / "model.keras")
    for block in ("conv1", "conv2", "conv3"):  # the batch norms' moving statistics included
        for layer in (f"{block}_conv", f"{block}_bn"):
            for a, b in zip(before.get_layer(layer).get_weights(), after.get_layer(layer).get_weights()):
                np.testing.assert_array_equal(a, b)
    head_before, head_after = before.get_layer("head_softmax").get_weights(), after.get_layer("head_softmax").get_weights()
    assert not np.array_equal(head_before[0], head_after[0])
    config = json.loads((target / "config.json").read_text())
    assert config["init_model"] == str(source / "model.keras") and config["freeze"] == "conv"
    assert config["frozen_layers"] == ["conv1_conv", "conv1_bn", "conv2_conv", "conv2_bn", "conv3_conv", "conv3_bn"]
    assert config["trainable_parameters"] == 32 * 10 + 10  # the softmax over the 32 pooled maps
    assert meta["preprocessing"]["dataset"] == "fashion"
