"""Wide convolution, (dynamic) k-max pooling and folding: known answers and properties."""

import keras
import numpy as np
import pytest

from shared.layers import Folding, KMaxPooling, SequenceLengths, WideConv1D, dynamic_k


def test_kmax_keeps_original_order_and_never_picks_padding():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 12, 3)).astype("float32")
    lengths = np.array([1, 3, 5, 8, 12, 2], dtype="int32")
    for row, n in enumerate(lengths):
        x[row, n:] = 100.0  # padding holds the largest values: it must never be selected
    pooled, new_lengths, positions = KMaxPooling(4, return_indices=True)(x, lengths)
    pooled, positions = np.asarray(pooled), np.asarray(positions)
    for row, n in enumerate(lengths):
        k = min(4, n)
        assert new_lengths[row] == k
        for channel in range(3):
            values = x[row, :n, channel]
            expected_positions = np.sort(np.argsort(-values, kind="stable")[:k])
            np.testing.assert_array_equal(positions[row, :k, channel], expected_positions)
            np.testing.assert_allclose(pooled[row, :k, channel], values[expected_positions])
            assert (positions[row, k:, channel] == -1).all() and (pooled[row, k:, channel] == 0).all()
    assert (pooled < 100).all()


def test_kmax_known_answer():
    x = np.array([[5, 1, 9, 2, 7, 0, 0]], dtype="float32")[..., None]
    pooled, _ = KMaxPooling(3)(x, np.array([5]))
    np.testing.assert_array_equal(np.asarray(pooled)[0, :, 0], [5, 9, 7])  # not [9, 7, 5]


def test_dynamic_k_of_the_papers_worked_example():
    # Kalchbrenner et al. 2014, section 3.2: three convolutional layers, k_top = 3, an
    # 18-word sentence: the first layer keeps k1 = 12, the second k2 = 6, the last k_top
    lengths = np.array([18], dtype="int32")
    assert [int(dynamic_k(lengths, 3, layer, 3)[0]) for layer in (1, 2, 3)] == [12, 6, 3]


def test_dynamic_k_never_drops_below_k_top():
    # layer 1 of 2, k_top 4: half the sentence, rounded up, but at least 4
    lengths = np.array([1, 7, 8, 9, 30], dtype="int32")
    np.testing.assert_array_equal(dynamic_k(lengths, 4, 1, 2), [4, 4, 4, 5, 15])


def test_dynamic_kmax_uses_each_sentences_true_length():
    # layer 1 of 2, k_top 4: k = max(4, ceil(s / 2)); valid lengths are those of a width-7 wide conv
    sentence_lengths = np.array([3, 10, 15], dtype="int32")
    valid = sentence_lengths + 6
    x = np.random.default_rng(1).normal(size=(3, 21, 2, 1)).astype("float32")
    pooled, k = KMaxPooling(4, layer=1, num_layers=2)(x, valid, sentence_lengths)
    np.testing.assert_array_equal(np.asarray(k), [4, 5, 8])
    assert pooled.shape == (3, 8, 2, 1)  # padded to the batch's largest k
    assert (np.asarray(pooled)[0, 4:] == 0).all() and (np.asarray(pooled)[1, 5:] == 0).all()


def test_folding_sums_adjacent_rows():
    x = np.arange(2 * 3 * 6 * 2, dtype="float32").reshape(2, 3, 6, 2)
    folded = np.asarray(Folding()(x))
    assert folded.shape == (2, 3, 3, 2)
    np.testing.assert_array_equal(folded, x[:, :, 0::2] + x[:, :, 1::2])
    with pytest.raises(ValueError):
        Folding()(np.zeros((1, 2, 5, 1), "float32"))


@pytest.mark.parametrize("n,m", [(1, 3), (5, 3), (4, 7), (10, 5)])
def test_wide_conv_length_and_values(n, m):
    rng = np.random.default_rng(n * m)
    x = rng.normal(size=(1, n, 1)).astype("float32")
    conv = WideConv1D(1, m, use_bias=False)
    y = np.asarray(conv(x))
    assert y.shape == (1, n + m - 1, 1)
    kernel = np.asarray(conv.kernel)[:, 0, 0]
    np.testing.assert_allclose(y[0, :, 0], np.correlate(np.pad(x[0, :, 0], m - 1), kernel, "valid"), atol=1e-5)


def test_row_wise_wide_conv_has_a_filter_per_row_and_rows_never_mix():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 6, 4, 3)).astype("float32")  # (batch, time, rows, maps)
    conv = WideConv1D(5, 3)
    y = np.asarray(conv(x))
    assert y.shape == (2, 8, 4, 5)
    kernel, bias = np.asarray(conv.kernel), np.asarray(conv.bias)
    assert kernel.shape == (3, 4, 3, 5)
    padded = np.pad(x, ((0, 0), (2, 2), (0, 0), (0, 0)))
    expected = np.zeros_like(y)
    for t in range(8):
        expected[:, t] = np.einsum("bmrc,mrcf->brf", padded[:, t:t + 3], kernel) + bias
    np.testing.assert_allclose(y, expected, atol=1e-4)


def test_wide_conv_ignores_input_beyond_length():
    x = np.zeros((1, 6, 2), "float32")
    x[0, :3] = 1.0
    noisy = x.copy()
    noisy[0, 3:] = 50.0
    conv = WideConv1D(4, 3)
    np.testing.assert_allclose(conv(x, np.array([3])), conv(noisy, np.array([3])))


def test_layers_round_trip_through_a_keras_file(tmp_path):
    ids = keras.Input(shape=(None,), dtype="int32")
    lengths = SequenceLengths()(ids)
    x = keras.layers.Reshape((-1, 4, 1))(keras.layers.Embedding(20, 4)(ids))
    conv = WideConv1D(3, 3)
    x = conv(x, lengths)
    x = Folding()(x)
    x, k = KMaxPooling(2, layer=1, num_layers=2)(x, conv.output_lengths(lengths), lengths)
    x, _ = KMaxPooling(2)(x, k)
    out = keras.layers.Dense(2)(keras.layers.Flatten()(x))
    model = keras.Model(ids, out)
    data = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(model.predict(data, verbose=0), loaded.predict(data, verbose=0), atol=1e-6)


def test_merge_classes_sums_groups_renormalises_and_saves(tmp_path):
    from shared.layers import MergeClasses
    probabilities = np.array([[0.1, 0.2, 0.4, 0.2, 0.1], [0.0, 0.0, 0.5, 0.5, 0.0]], np.float32)
    inputs = keras.Input((5,))
    model = keras.Model(inputs, MergeClasses([[0, 1], [3, 4]])(inputs))
    np.testing.assert_allclose(model.predict(probabilities, verbose=0), [[0.5, 0.5], [0.0, 1.0]], atol=1e-6)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(probabilities, verbose=0), [[0.5, 0.5], [0.0, 1.0]], atol=1e-6)
