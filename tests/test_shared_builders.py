"""The conv-stack builder: output shapes and parameter counts worked out by hand."""
import keras
import pytest

from shared.builders import ConvSpec, build_classifier, conv_stack


def _stack(input_shape, specs):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, conv_stack(inputs, specs))


def test_lenet5_parameter_count_by_hand():
    specs = [ConvSpec(6, 5, padding="same", pool="max"), ConvSpec(16, 5, padding="valid", pool="max")]
    model = build_classifier((28, 28, 1), specs, 10, hidden=(120, 84))
    # conv1 6*(25+1)=156, conv2 16*(6*25+1)=2416, fc 400*120+120=48120, 120*84+84=10164, 84*10+10=850
    assert model.count_params() == 156 + 2416 + 48120 + 10164 + 850
    assert model.get_layer("conv2_maxpool").output.shape[1:] == (5, 5, 16)


def test_no_pooling_keeps_the_board_size():
    model = _stack((19, 19, 48), [ConvSpec(64, 5), ConvSpec(64, 3), ConvSpec(1, 1, activation=None)])
    assert model.output_shape == (None, 19, 19, 1)
    assert model.count_params() == (25 * 48 + 1) * 64 + (9 * 64 + 1) * 64 + 64 + 1


def test_kernels_per_axis_strides_and_dilation():
    model = _stack((40, 30, 1), [ConvSpec(8, (1, 5), padding="valid", pool="max", pool_size=(1, 3))])
    assert model.output_shape == (None, 40, 8, 8)  # conv: 30 - 5 + 1 = 26 bands; pool by 3 along them: 8
    assert _stack((32, 32, 3), [ConvSpec(4, 3, strides=2)]).output_shape == (None, 16, 16, 4)
    assert _stack((32, 32, 3), [ConvSpec(4, 3, dilation=2, padding="valid")]).output_shape == (None, 28, 28, 4)


def test_batch_norm_drops_the_conv_bias():
    model = _stack((8, 8, 2), [ConvSpec(4, 3, batch_norm=True)])
    # conv 3*3*2*4 = 72 weights, no bias; BN 4 * 4 (gamma, beta, mean, variance)
    assert model.count_params() == 72 + 16


def test_residual_block_with_projection_shortcut():
    model = _stack((16, 16, 8), [ConvSpec(16, 3, strides=2, batch_norm=True, residual=True)])
    assert model.output_shape == (None, 8, 8, 16)
    # conv1 9*8*16, conv2 9*16*16, shortcut 1*1*8*16, three BNs of 16 channels
    assert model.count_params() == 9 * 8 * 16 + 9 * 16 * 16 + 8 * 16 + 3 * 4 * 16
    identity = _stack((16, 16, 8), [ConvSpec(8, 3, residual=True)])
    assert not any("shortcut" in layer.name for layer in identity.layers)


def test_one_dimensional_stacks():
    model = _stack((50, 20), [ConvSpec(6, 7, padding="valid", pool="max", pool_size=2)])
    assert model.output_shape == (None, 22, 6)


def test_unknown_rank_is_rejected():
    with pytest.raises(ValueError, match="1D and 2D"):
        _stack((4, 4, 4, 1), [ConvSpec(2, 3)])
