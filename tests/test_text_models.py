"""The text models' options: word dropout, Kim's map count and filter widths."""
import keras
import numpy as np
import pytest

from apps.text.models import WordDropout, build_model


def test_word_dropout_drops_whole_words_and_keeps_the_mean():
    x = np.ones((64, 40, 5, 2), "float32")
    layer = WordDropout(0.25, seed=3)
    y = np.asarray(layer(x, training=True))
    per_word = y.reshape(64, 40, -1)
    # every word is either dropped entirely or kept entirely (scaled by 1 / 0.75)
    dropped = (per_word == 0).all(-1)
    kept = np.isclose(per_word, 1 / 0.75).all(-1)
    assert (dropped | kept).all()
    assert 0.2 < dropped.mean() < 0.3
    assert abs(y.mean() - 1.0) < 0.05
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)  # identity at inference
    with pytest.raises(ValueError):
        WordDropout(1.0)


def test_kim_maps_and_widths_set_the_filters():
    vocab, dim, classes = 30, 6, 3
    model = build_model("kim", vocab, classes, dim=dim, mode="rand", maps=7, widths=(2, 3))
    kernels = sorted(tuple(w.shape) for l in model.layers if l.name.startswith("conv_w")
                     for w in l.get_weights() if w.ndim == 3)
    assert kernels == [(2, dim, 7), (3, dim, 7)]
    features = 7 * 2
    expected = vocab * dim + (2 + 3) * dim * 7 + 2 * 7 + features * classes + classes
    assert model.count_params() == expected


@pytest.mark.parametrize("arch", ["kim", "dcnn"])
def test_word_dropout_model_saves_and_predicts_deterministically(arch, tmp_path):
    weights = np.random.default_rng(0).normal(size=(25, 8)).astype("float32")
    small = dict(maps=5) if arch == "kim" else dict(maps=(2, 3))
    model = build_model(arch, 25, 2, dim=8, mode="multichannel", weights=weights, word_dropout=0.3, **small)
    assert any(isinstance(l, WordDropout) for l in model.layers)
    ids = np.array([[3, 4, 5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14, 15, 16]], "int32")
    first = np.asarray(model(ids, training=False))
    np.testing.assert_allclose(first, np.asarray(model(ids, training=False)))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(first, np.asarray(loaded(ids, training=False)), atol=1e-6)
