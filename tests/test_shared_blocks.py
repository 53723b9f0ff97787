"""The architecture blocks of shared/blocks.py: output shapes and parameter counts worked
out by hand, and the behaviour each block is for (the shuffle's order, the highway's
carry, the dilated stack's receptive field, the pyramid's fixed length, the norms'
statistics)."""
import keras
import numpy as np
import pytest

from shared import blocks
from shared.builders import ConvSpec, conv_stack
from shared.layers import ChannelShuffle, SpatialPyramidPooling


def _model(input_shape, build):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, build(inputs))


def _bn(channels):
    return 4 * channels  # gamma, beta, moving mean, moving variance


@pytest.mark.parametrize("norm, per_channel", [("batch", 4), ("layer", 2), ("instance", 2), ("group", 2)])
def test_every_norm_on_a_conv_spec(norm, per_channel):
    model = _model((8, 8, 8), lambda x: conv_stack(x, [ConvSpec(4, 3, norm=norm)]))
    assert model.count_params() == 3 * 3 * 8 * 4 + per_channel * 4  # no conv bias when a norm follows
    plain = _model((8, 8, 8), lambda x: conv_stack(x, [ConvSpec(4, 3, norm="none")]))
    assert plain.count_params() == 3 * 3 * 8 * 4 + 4


def test_layer_and_instance_norm_normalise_what_they_should():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(2, 6, 6, 4)).astype("float32")
    x[1] *= 5
    layer_norm = np.asarray(blocks.normalization("layer", 4, "ln")(x))
    assert np.allclose(layer_norm.mean(axis=(1, 2, 3)), 0, atol=1e-4)  # per example, over everything
    assert np.allclose(layer_norm.std(axis=(1, 2, 3)), 1, atol=1e-2)
    instance = np.asarray(blocks.normalization("instance", 4, "in")(x))
    assert np.allclose(instance.mean(axis=(1, 2)), 0, atol=1e-4)  # per example and channel
    assert np.allclose(instance.std(axis=(1, 2)), 1, atol=1e-2)
    assert blocks.normalization("group", 48, "gn").groups == 16  # 32 does not divide 48
    with pytest.raises(ValueError, match="unknown normalization"):
        blocks.normalization("weight", 4, "x")


def test_inception_module_by_hand():
    model = _model((8, 8, 16), lambda x: blocks.inception_module(x, (4, 4, 8, 2, 4, 4), "inc"))
    assert model.output_shape == (None, 8, 8, 4 + 8 + 4 + 4)
    expected = (16 * 4 + _bn(4)          # 1x1
                + 16 * 4 + _bn(4)        # 3x3 reduce
                + 9 * 4 * 8 + _bn(8)     # 3x3
                + 16 * 2 + _bn(2)        # 5x5 reduce
                + 25 * 2 * 4 + _bn(4)    # 5x5
                + 16 * 4 + _bn(4))       # pool projection
    assert model.count_params() == expected == 816
    unnormalized = _model((8, 8, 16), lambda x: blocks.inception_module(x, (4, 4, 8, 2, 4, 4), "inc", "none"))
    assert unnormalized.count_params() == 816 - sum(_bn(c) for c in (4, 4, 8, 2, 4, 4)) + (4 + 4 + 8 + 2 + 4 + 4)


def test_dense_block_and_transition_by_hand():
    model = _model((8, 8, 8), lambda x: blocks.transition(blocks.dense_block(x, 2, 4, "dense"), "trans"))
    layer1 = _bn(8) + 8 * 16 + _bn(16) + 9 * 16 * 4     # BN, 1x1 to 4k, BN, 3x3 to k: 8 -> 12 channels
    layer2 = _bn(12) + 12 * 16 + _bn(16) + 9 * 16 * 4   # 12 -> 16 channels
    trans = _bn(16) + 16 * 8                             # BN, 1x1 to half
    assert model.count_params() == layer1 + layer2 + trans
    assert model.output_shape == (None, 4, 4, 8)
    # every layer reads every earlier map: the block's input is still there, unchanged, in its output
    x = np.random.default_rng(1).normal(size=(1, 8, 8, 8)).astype("float32")
    block = _model((8, 8, 8), lambda t: blocks.dense_block(t, 2, 4, "d"))
    assert np.array_equal(np.asarray(block(x))[..., :8], x)


def test_highway_block_by_hand_and_its_gate_carries_the_input():
    model = _model((8, 8, 4), lambda x: blocks.highway_block(x, "hw"))
    assert model.count_params() == (9 * 4 * 4 + _bn(4)) + (9 * 4 * 4 + 4)  # H (BN, no bias), gate (bias)
    assert model.output_shape == (None, 8, 8, 4)
    closed = _model((8, 8, 4), lambda x: blocks.highway_block(x, "hw", gate_bias=-30.0))
    x = np.random.default_rng(2).normal(size=(2, 8, 8, 4)).astype("float32") * 0.1
    assert np.allclose(np.asarray(closed(x)), x, atol=1e-5)  # gate shut: y = x


def test_separable_and_inverted_residual_by_hand():
    separable = _model((8, 8, 4), lambda x: blocks.separable_block(x, 6, "sep", strides=2))
    assert separable.count_params() == 9 * 4 + _bn(4) + 4 * 6 + _bn(6) == 100
    assert separable.output_shape == (None, 4, 4, 6)
    inverted = _model((8, 8, 4), lambda x: blocks.inverted_residual(x, 4, "ir", expansion=6))
    assert inverted.count_params() == 4 * 24 + _bn(24) + 9 * 24 + _bn(24) + 24 * 4 + _bn(4) == 616
    assert any(layer.name == "ir_add" for layer in inverted.layers)  # same shape: the identity is added
    widening = _model((8, 8, 4), lambda x: blocks.inverted_residual(x, 8, "ir", expansion=6))
    assert not any(layer.name == "ir_add" for layer in widening.layers)


def test_depthwise_separable_costs_a_fraction_of_a_full_convolution():
    from shared.benchmark import model_flops
    full = _model((16, 16, 32), lambda x: keras.layers.Conv2D(64, 3, padding="same", use_bias=False)(x))
    separable = _model((16, 16, 32), lambda x: blocks.separable_block(x, 64, "sep", norm="none"))
    # per position: 9*32*64 multiply-adds against 9*32 + 32*64
    assert model_flops(full) == 2 * 256 * 9 * 32 * 64
    assert model_flops(separable) == 2 * 256 * (9 * 32 + 32 * 64)


def test_fire_module_by_hand():
    model = _model((8, 8, 8), lambda x: blocks.fire_module(x, 2, 4, "fire"))
    assert model.count_params() == (8 * 2 + 2) + (2 * 4 + 4) + (9 * 2 * 4 + 4) == 106
    assert model.output_shape == (None, 8, 8, 8)


def test_channel_shuffle_interleaves_the_groups():
    x = np.arange(6, dtype="float32").reshape(1, 1, 1, 6)
    assert np.asarray(ChannelShuffle(2)(x)).ravel().tolist() == [0, 3, 1, 4, 2, 5]
    one_d = np.arange(12, dtype="float32").reshape(1, 2, 6)  # 1D, two positions, each shuffled alike
    assert np.asarray(ChannelShuffle(3)(one_d)).reshape(2, 6).tolist() == [[0, 2, 4, 1, 3, 5],
                                                                          [6, 8, 10, 7, 9, 11]]


def test_shuffle_unit_by_hand():
    model = _model((8, 8, 12), lambda x: blocks.shuffle_unit(x, 12, "unit", groups=3))
    # grouped 1x1 12 -> 3 (4 inputs per group), BN, depthwise 3x3, BN, grouped 1x1 3 -> 12 (1 input per group), BN
    assert model.count_params() == 4 * 3 + _bn(3) + 9 * 3 + _bn(3) + 1 * 12 + _bn(12) == 123
    down = _model((8, 8, 12), lambda x: blocks.shuffle_unit(x, 24, "unit", strides=2, groups=3))
    assert down.output_shape == (None, 4, 4, 24)  # 12 pooled input channels + 12 from the branch
    with pytest.raises(ValueError, match="keeps its 12 channels"):
        _model((8, 8, 12), lambda x: blocks.shuffle_unit(x, 24, "unit", groups=3))


def test_dilated_stack_receptive_field():
    model = _model((64, 1), lambda x: blocks.dilated_stack(x, 1, "dil", norm="none", dilations=(1, 2, 4)))
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([np.ones_like(w) if w.ndim > 1 else np.zeros_like(w) for w in layer.get_weights()])
    impulse = np.zeros((1, 64, 1), "float32")
    impulse[0, 32, 0] = 1
    reached = np.flatnonzero(np.asarray(model(impulse))[0, :, 0])
    assert reached.min() == 32 - 7 and reached.max() == 32 + 7  # 1 + 2 * (1 + 2 + 4) = 15 positions
    assert model.count_params() == 3 * (3 + 1)


def test_spatial_pyramid_pooling_by_hand_and_for_any_size():
    x = np.random.default_rng(3).normal(size=(2, 7, 5, 3)).astype("float32")
    out = np.asarray(SpatialPyramidPooling((1, 2))(x))
    assert out.shape == (2, 3 * (1 + 4))
    assert np.allclose(out[:, :3], x.max(axis=(1, 2)))
    # level 2 on 7 x 5: rows [0, 4) and [3, 7), columns [0, 3) and [2, 5); the first bin:
    assert np.allclose(out[:, 3:6], x[:, 0:4, 0:3].max(axis=(1, 2)))
    assert np.allclose(out[:, 12:15], x[:, 3:7, 2:5].max(axis=(1, 2)))
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, blocks.spatial_pyramid_pooling(inputs, "spp", levels=(1, 2, 4)))
    for size in (8, 13, 30):
        assert model(np.zeros((1, size, size + 3, 3), "float32")).shape == (1, 3 * 21)
    one_d = np.asarray(SpatialPyramidPooling((1, 2, 4), "avg")(np.ones((1, 9, 2), "float32")))
    assert one_d.shape == (1, 2 * 7) and np.allclose(one_d, 1)


def test_gap_head_has_no_dense_layer():
    model = _model((4, 4, 8), lambda x: blocks.gap_head(x, 10))
    assert model.count_params() == 8 * 10 + 10  # the 1x1 convolution to one map per class
    assert not any(isinstance(layer, keras.layers.Dense) for layer in model.layers)
    probabilities = np.asarray(model(np.random.default_rng(4).normal(size=(3, 4, 4, 8)).astype("float32")))
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_blocks_work_in_one_dimension():
    model = _model((20, 6), lambda x: blocks.separable_block(blocks.inception_module(x, (2, 2, 2, 2, 2, 2), "i"),
                                                              4, "s", strides=2))
    assert model.output_shape == (None, 10, 4)
    with pytest.raises(ValueError, match="1D and 2D"):
        _model((4, 4, 4, 2), lambda x: blocks.fire_module(x, 2, 2, "f"))


def test_models_with_the_new_layers_save_and_load(tmp_path):
    model = _model((8, 8, 12), lambda x: blocks.gap_head(blocks.shuffle_unit(x, 12, "u", groups=3), 3))
    spp = _model((8, 8, 2), lambda x: blocks.spatial_pyramid_pooling(blocks.highway_block(x, "hw"), "spp"))
    for m, shape in ((model, (2, 8, 8, 12)), (spp, (2, 8, 8, 2))):
        path = tmp_path / f"{m.name}.keras"
        m.save(path)
        x = np.random.default_rng(5).normal(size=shape).astype("float32")
        assert np.allclose(keras.saving.load_model(path)(x), m(x), atol=1e-6)
