"""The frequency CNN, the limited-weight-sharing layer and the 2D baseline."""
import keras
import numpy as np
import pytest

from apps.speech import models
from shared.builders import ConvSpec, conv_stack
from shared.layers import LimitedWeightSharingConv2D, PerChannelEnergyNormalization


def test_lws_layer_uses_separate_filters_per_frequency_section():
    layer = LimitedWeightSharingConv2D(4, (3, 5), section_size=3, row_stride=2)
    x = np.random.default_rng(0).normal(size=(2, 9, 20, 2)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == (2, 4, 15, 4) and layer.sections == 5  # (20 - 5 + 1) // 3 sections
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in (layer.kernel, layer.bias))
    for s in range(layer.sections):
        piece = x[:, :, 3 * s:3 * s + 3 + 4, :]
        ref = keras.ops.convert_to_numpy(keras.ops.conv(piece, kernel[s], strides=(2, 1), padding="valid")) + bias[s]
        np.testing.assert_allclose(y[:, :, 3 * s:3 * s + 3], ref, atol=1e-5)
    assert not np.allclose(kernel[0], kernel[1])


def test_convspec_lws_option_and_its_limits():
    x = keras.Input((11, 40, 3))
    y = conv_stack(x, [ConvSpec(8, (11, 8), padding="valid", pool="max", pool_size=(1, 3), lws_section=3)])
    assert tuple(y.shape[1:]) == (1, 11, 8)
    with pytest.raises(ValueError, match="lws_section"):
        conv_stack(x, [ConvSpec(8, (3, 8), padding="same", lws_section=3)])


def test_freq_cnn_convolves_and_pools_along_frequency_only():
    model = models.build_model("freq", (101, 40, 3), 10, context=9)
    conv1 = model.get_layer("conv1_conv")
    assert conv1.kernel_size == (9, 8)  # a 9-frame context window, 8 mel bands
    assert model.get_layer("conv1_maxpool").pool_size == (1, 3)
    assert model.get_layer("conv2_conv").kernel_size == (1, 4)
    assert model.get_layer("time_maxpool").output.shape[1] == 3
    frames = models.build_model("freq-lws", (11, 40, 3), 39, context=11, time_bins=1)
    assert frames.get_layer("conv1_conv_lws").kernel.shape == (11, 11, 8, 3, 64)


def test_models_save_and_load_with_the_lws_layer(tmp_path):
    from shared.modelio import load_model, save_model
    x = np.random.default_rng(0).normal(size=(4, 21, 24, 2)).astype("float32")
    model = models.build_model("freq-lws", (21, 24, 2), 5, normalizer_data=x, filters=(8, 8), hidden=16)
    path = save_model(model, tmp_path / "m.keras", app="speech")
    loaded, meta = load_model(path, app="speech")
    np.testing.assert_allclose(model.predict(x, verbose=0), loaded.predict(x, verbose=0), atol=1e-6)


def _log_energies(rng, shape=(2, 101, 40)):
    """Log filterbank energies of very different levels per band, and a second channel of noise."""
    energy = rng.gamma(1.0, 1.0, shape) * rng.uniform(0.01, 100.0, (1, 1, shape[-1]))
    return np.stack([np.log(energy), rng.normal(size=shape)], axis=-1).astype("float32")


def test_pcen_layer_matches_librosa_and_passes_the_deltas_through():
    import librosa
    import scipy.signal
    x = _log_energies(np.random.default_rng(0))
    layer = PerChannelEnergyNormalization(time_constant=40.0)
    y = keras.ops.convert_to_numpy(layer(x))
    b = layer.smoothing
    for clip, out in zip(np.exp(x[..., 0]), y):  # librosa's filter started settled on the first frame, as ours
        settled = scipy.signal.lfilter_zi([b], [1, b - 1]) * clip.T[:, :1]
        ref = librosa.pcen(clip.T, sr=100, hop_length=1, time_constant=0.4, gain=0.98, bias=2.0, power=0.5,
                           eps=1e-6, zi=settled)
        np.testing.assert_allclose(out[..., 0], ref.T, atol=1e-4)
    np.testing.assert_array_equal(y[..., 1], x[..., 1])


def test_pcen_with_full_gain_control_ignores_the_recording_level():
    x = _log_energies(np.random.default_rng(1))
    layer = PerChannelEnergyNormalization(eps=1e-12)
    layer.build(x.shape)
    layer.log_alpha.assign(np.zeros(40, "float32"))  # alpha = 1: E / M, a pure ratio
    louder = x.copy()
    louder[..., 0] += np.log(1000.0)  # +30 dB in every band
    quiet, loud = (keras.ops.convert_to_numpy(layer(v)) for v in (x, louder))
    np.testing.assert_allclose(quiet, loud, atol=1e-4)
    assert np.ptp(quiet[..., 0].mean(axis=(0, 1))) < 0.5 * np.ptp(x[..., 0].mean(axis=(0, 1)))  # bands evened


def test_pcen_frontend_trains_its_parameters_and_saves(tmp_path):
    from shared.modelio import load_model, save_model
    x = _log_energies(np.random.default_rng(2), (8, 21, 24))
    x = np.concatenate([x, x[..., 1:]], axis=-1)  # (8, 21, 24, 3): static, delta, delta-delta
    y = np.arange(8) % 2
    model = models.build_model("freq", (21, 24, 3), 2, normalizer_data=x, filters=(8, 8), hidden=16, frontend="pcen")
    pcen = model.get_layer("pcen")
    assert {w.name for w in pcen.trainable_weights} == {"log_alpha", "log_delta", "log_r"}
    before = keras.ops.convert_to_numpy(pcen.log_r).copy()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    assert not np.allclose(before, keras.ops.convert_to_numpy(pcen.log_r))
    path = save_model(model, tmp_path / "m.keras", app="speech")
    loaded, _ = load_model(path, app="speech")
    np.testing.assert_allclose(model.predict(x, verbose=0), loaded.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="frontend"):
        models.build_model("freq", (21, 24, 3), 2, frontend="mfcc")


def test_trad_fpool3_follows_sainath_and_parada():
    model = models.build_model("trad-fpool3", (101, 40, 3), 12)
    assert model.get_layer("conv1_conv").kernel_size == (20, 8)
    assert model.get_layer("conv1_maxpool").pool_size == (1, 3)
    assert model.get_layer("conv2_conv").kernel_size == (10, 4)
    assert model.get_layer("lowrank_linear").units == 32
    assert model.get_layer("head_dense1").units == 128


@pytest.mark.parametrize("arch", ["freq", "freq-lws"])
def test_freq_cnn_learns_formant_like_patterns_that_move_in_time(arch):
    """Class = which pair of bands is lit; where in time it happens is random."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n, frames, bands = 240, 30, 24
    y = rng.integers(0, 3, size=n)
    x = rng.normal(scale=0.3, size=(n, frames, bands, 1)).astype("float32")
    for i, label in enumerate(y):
        start = rng.integers(0, frames - 8)
        x[i, start:start + 8, [3 + 6 * label, 6 + 6 * label], 0] += 2.0
    model = models.build_model(arch, (frames, bands, 1), 3, normalizer_data=x, context=5, filters=(8, 8),
                               hidden=16, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[:180], y[:180], epochs=12, batch_size=32, verbose=0)
    assert model.evaluate(x[180:], y[180:], verbose=0)[1] >= 0.9


def test_ds_cnn_follows_hello_edge_and_res8_follows_tang_and_lin():
    ds = models.build_model("ds-cnn", (101, 40, 3), 12)
    assert ds.get_layer("conv1_conv").kernel_size == (10, 4) and ds.get_layer("conv1_conv").strides == (2, 2)
    depthwise = [layer for layer in ds.layers if isinstance(layer, keras.layers.DepthwiseConv2D)]
    assert len(depthwise) == 4 and all(layer.kernel_size == (3, 3) for layer in depthwise)
    # each block: depthwise 3x3 over 64 maps + BN, pointwise 64 x 64 + BN
    block = 9 * 64 + 4 * 64 + 64 * 64 + 4 * 64
    first = 10 * 4 * 3 * 64 + 4 * 64
    normalization = 3 * 40 * 2 + 1  # per band and channel: mean, variance; the sample count
    assert ds.count_params() == normalization + first + 4 * block + 64 * 12 + 12
    res8 = models.build_model("residual", (101, 40, 3), 12)
    assert res8.get_layer("stem1_avgpool").pool_size == (4, 3)
    convs = [layer for layer in res8.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 7 and {layer.filters for layer in convs} == {45}  # res8: 1 + 3 units of 2


@pytest.mark.parametrize("arch", ["ds-cnn", "residual"])
def test_ds_cnn_and_res8_learn_formant_like_patterns(arch):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n, frames, bands = 240, 30, 24
    y = rng.integers(0, 3, size=n)
    x = rng.normal(scale=0.3, size=(n, frames, bands, 1)).astype("float32")
    for i, label in enumerate(y):
        start = rng.integers(0, frames - 8)
        x[i, start:start + 8, [3 + 6 * label, 6 + 6 * label], 0] += 2.0
    model = models.build_model(arch, (frames, bands, 1), 3, normalizer_data=x, dropout=0.0)
    for layer in model.layers:  # running averages that keep up with a run this short
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.8
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[:180], y[:180], epochs=12, batch_size=32, verbose=0)
    assert model.evaluate(x[180:], y[180:], verbose=0)[1] >= 0.6  # chance: 1/3
