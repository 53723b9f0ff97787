"""apps/speech/visualize.py and `run.py speech visualize` on tiny models of the clip models' shape
(101 frames x 40 mel bands x 3 channels in, one probability per class out) and a synthetic chirp."""
import numpy as np
import pytest

import keras
import soundfile as sf

from apps.speech import features  # noqa: E402
from apps.speech import visualize as sv  # noqa: E402
from apps.speech.examples import DEFAULT_FEATURES  # noqa: E402
from shared import visualize as viz  # noqa: E402
from shared.builders import ConvSpec, build_classifier  # noqa: E402
from shared.modelio import save_model  # noqa: E402

import run  # noqa: E402
from conftest import png_sizes

CONFIG = DEFAULT_FEATURES["fsdd"]  # 8 kHz, 40 mel bands up to 4 kHz, 1 s clips: 101 frames
NAMES = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def model():
    """Conv along time and frequency (9 x 8, stride 3 in time), BN, ReLU, max-pool over frequency; head."""
    keras.utils.set_random_seed(5)
    return build_classifier((CONFIG.frames, CONFIG.n_mels, CONFIG.channels),
                            [ConvSpec(6, (9, 8), strides=(3, 1), padding="valid", batch_norm=True, pool="max",
                                      pool_size=(1, 3)),
                             ConvSpec(8, (1, 4), padding="valid")], len(NAMES), hidden=(16,))


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "speech.keras"
    save_model(model, path, app="speech", preprocessing={"dataset": "fsdd", "task": "clips", "class_names": NAMES,
                                                         "features": CONFIG.to_dict(), "context": 9})
    return path


@pytest.fixture(scope="module")
def chirp(tmp_path_factory):
    """0.6 s of a 300 -> 2500 Hz chirp at 8 kHz, as a WAV file."""
    t = np.arange(int(0.6 * CONFIG.sample_rate)) / CONFIG.sample_rate
    y = 0.5 * np.sin(2 * np.pi * (300 * t + (2500 - 300) / (2 * 0.6) * t ** 2))
    path = tmp_path_factory.mktemp("audio") / "chirp.wav"
    sf.write(path, y.astype(np.float32), CONFIG.sample_rate)
    return path


def test_cli_standard_set(model_file, chirp, tmp_path):
    out = tmp_path / "viz"
    assert run.main(["speech", "visualize", "--model", str(model_file), "--out", str(out), "--audio", str(chirp),
                     "--steps", "3"]) == 0
    sizes = png_sizes(out)
    assert set(sizes) == {"saliency_chirp.png", "filters.png", "tone_response.png", "activations_conv1_act.png",
                          "maximize_classes.png"}
    assert sizes["saliency_chirp.png"] == (1360, 288) and sizes["tone_response.png"] == (640, 360)


def test_cli_choices_and_errors(model_file, chirp, tmp_path, capsys):
    base = ["speech", "visualize", "--model", str(model_file), "--out", str(tmp_path), "--audio", str(chirp)]
    assert run.main(base + ["--saliency", "--class", "3", "--maximize", "conv2_conv:1", "--steps", "2"]) == 0
    assert set(png_sizes(tmp_path)) == {"saliency_chirp.png", "maximize.png"}
    assert run.main(base + ["--class", "10"]) == 2
    assert run.main(base + ["--maximize", "class:10"]) == 2
    assert "class must be in 0..9" in capsys.readouterr().err


def test_every_explanation_has_the_spectrogram_shape(model, chirp):
    x = features.file_features(chirp, CONFIG)
    maps, cls = sv.explain(model, x, class_index=4)
    assert cls == 4 and [name.split(" (")[0] for name in maps] == [
        "saliency", "SmoothGrad", "integrated gradients", "Grad-CAM"]
    for name, heat in maps.items():
        assert heat.shape == x.shape[:2] and heat.min() >= 0, name
    assert list(maps.values())[-1].max() <= 1 + 1e-6


def test_tone_response_finds_the_band_a_filter_listens_to():
    """A full-band conv whose filters read one mel band each answers most to the tone at that band's centre."""
    inputs = keras.Input((CONFIG.frames, CONFIG.n_mels, CONFIG.channels))
    x = keras.layers.Conv2D(2, (1, CONFIG.n_mels), name="conv1_conv")(inputs)
    x = keras.layers.Activation("relu", name="conv1_act")(x)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((1, CONFIG.n_mels, CONFIG.channels, 2), np.float32)
    kernel[0, 6, 0, 0] = kernel[0, 30, 0, 1] = 1.0  # static channel, bands 6 and 30
    model.get_layer("conv1_conv").set_weights([kernel, np.full(2, 20.0, np.float32)])  # log energies > -20
    frequencies, response = sv.tone_response(model, CONFIG, count=CONFIG.n_mels)
    assert response.shape == (CONFIG.n_mels, 2) and np.all(np.diff(frequencies) > 0)
    assert abs(int(np.argmax(response[:, 0])) - 6) <= 1 and abs(int(np.argmax(response[:, 1])) - 30) <= 1


def test_maximization_raises_the_class_in_the_clip_range(model, chirp, tmp_path):
    x = features.file_features(chirp, CONFIG)
    low, high = float(x.min()), float(x.max())
    best, history = viz.maximize(model, viz.Target("class", 2), steps=15, step_size=0.02,
                                 regularizers=viz.Regularizers(l1=300.0, tv=3000.0, jitter=2, blur=0.5),
                                 preprocessing={"input_range": [low, high]})
    assert best.shape == (1,) + x.shape and low - 1e-4 <= best.min() and best.max() <= high + 1e-4
    assert history[-1] > history[0]
