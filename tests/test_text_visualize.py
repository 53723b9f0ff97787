"""apps/text/visualize.py and `run.py text visualize` on tiny Kim and DCNN models (random embeddings)."""
import numpy as np
import pytest

import keras

from apps.text import visualize as tv  # noqa: E402
from apps.text.models import build_model, selection_model  # noqa: E402
from apps.text.tokenize import Vocabulary, pad_batch  # noqa: E402
from shared.modelio import save_model  # noqa: E402

import run  # noqa: E402
from conftest import png_sizes

WORDS = "the a film movie plot is was great wonderful awful boring not but".split()
NAMES = ["negative", "positive"]


def _model(arch):
    keras.utils.set_random_seed(11)
    vocab = Vocabulary(WORDS)
    options = dict(widths=(2, 3), maps=4) if arch == "kim" else dict(widths=(3, 2), maps=(3, 4), k_top=2)
    model = build_model(arch, len(vocab), len(NAMES), dim=6, mode="rand", dropout=0.0, **options)
    meta = {"preprocessing": {"task": "mr", "class_names": NAMES, "rule": "kim", "arch": arch, "max_words": 1000,
                              "vocabulary": vocab.words}}
    return model, meta, vocab


@pytest.fixture(scope="module", params=["kim", "dcnn"])
def tiny(request):
    return _model(request.param)


@pytest.fixture(scope="module")
def kim_file(tmp_path_factory):
    model, meta, _ = _model("kim")
    path = tmp_path_factory.mktemp("model") / "kim.keras"
    save_model(model, path, app="text", preprocessing=meta["preprocessing"])
    return path


def test_word_saliency_is_the_embedding_gradient(tiny):
    """Moving word i's embedding by eps along its gradient raises the logit by eps * saliency_i."""
    model, meta, vocab = tiny
    tokens = "the plot was not great but wonderful".split()  # no repeated word: one table row per position
    ids = vocab.encode(tokens)
    saliency, evidence, cls = tv.word_saliency(model, ids, class_index=1)
    assert saliency.shape == evidence.shape == (len(ids),) and cls == 1 and np.all(saliency >= 0)
    from shared.visualize import logits_model
    logits = logits_model(model)
    table = model.get_layer("embed")
    weights = table.get_weights()[0]
    i = int(np.argmax(saliency))
    before = float(logits(np.array([ids]))[0, 1])
    import tensorflow as tf
    with tf.GradientTape() as tape:
        tape.watch(table.embeddings.value)
        score = logits(np.array([ids]))[0, 1]
    grad = tape.gradient(score, table.embeddings.value).values.numpy()[i]
    eps = 1e-3
    nudged = weights.copy()
    nudged[ids[i]] += eps * grad / np.linalg.norm(grad)
    table.set_weights([nudged])
    try:
        after = float(logits(np.array([ids]))[0, 1])
    finally:
        table.set_weights([weights])
    assert (after - before) / eps == pytest.approx(saliency[i], rel=0.05, abs=1e-4)


def test_repeated_words_keep_their_own_saliency(tiny):
    model, meta, vocab = tiny
    ids = vocab.encode("great film , great plot , the great movie".split())
    saliency, _, _ = tv.word_saliency(model, ids)
    at = [i for i, t in enumerate(ids) if t == vocab.index["great"]]
    assert len(at) == 3 and len(set(np.round(saliency[at], 6))) > 1  # not summed per word


def test_kmax_selections_point_at_real_words(tiny):
    """In a batch padded to a longer sentence, every kept position's window overlaps the short
    sentence's real words, and the word scores cover just those words."""
    model, meta, vocab = tiny
    short, long = vocab.encode("a great film".split()), vocab.encode(" ".join(WORDS * 2).split())
    explain, widths, _ = selection_model(model)
    ids, lengths = pad_batch([short, long])
    outputs = explain(ids, training=False)
    kept = [np.asarray(o)[0] for o in outputs[1:]]
    for (values, positions), width in zip(zip(kept[0::2], kept[1::2]), widths):
        real = positions[(positions >= 0) & (np.abs(values) > 0)]
        assert real.size and real.max() <= len(short) + width - 2  # window p-w+1..p ends in the sentence
    scores, ngrams = tv.kmax_word_scores(model, meta, "a great film".split(), short)
    assert scores.shape == (3,) and scores.sum() > 0 and ngrams
    assert all(set(g.split()) <= {"a", "great", "film"} for g, _ in ngrams)


def test_cli_standard_set_png_and_terminal(kim_file, tmp_path, capsys):
    out = tmp_path / "viz"
    assert run.main(["text", "visualize", "--model", str(kim_file), "--out", str(out), "--text",
                     "the plot was great", "--text", "a boring , awful film", "--color", "never"]) == 0
    sizes = png_sizes(out)
    assert set(sizes) == {"saliency_kmax.png", "activations_conv_w2_act.png"}
    assert sizes["saliency_kmax.png"][1] == round(2 * 1.9 * 80)  # one 1.9-inch panel per sentence at 80 dpi
    printed = capsys.readouterr().out
    assert printed.count("saliency: ") == 2 and printed.count("k-max:") == 2 and "[" in printed
    assert "\033[" not in printed


def test_cli_standard_set_on_a_dcnn_draws_its_row_wise_maps(tmp_path):
    model, meta, _ = _model("dcnn")
    path = save_model(model, tmp_path / "dcnn.keras", app="text", preprocessing=meta["preprocessing"])
    out = tmp_path / "viz"
    assert run.main(["text", "visualize", "--model", str(path), "--out", str(out), "--text", "the plot was great",
                     "--color", "never"]) == 0
    sizes = png_sizes(out)
    assert set(sizes) == {"saliency_kmax.png", "activations_conv1.png"}
    # one panel per map: 3 maps over 6 positions (4 words + 2 past the end: width-3 wide convolution)
    assert sizes["activations_conv1.png"][0] == round(3 * (0.3 * 6 + 1.2) * 80)


def test_cli_choices_and_errors(kim_file, tmp_path, capsys):
    base = ["text", "visualize", "--model", str(kim_file), "--out", str(tmp_path)]
    assert run.main(base + ["--activations", "--layer", "conv_w3_conv", "--text", "a film"]) == 0
    assert set(png_sizes(tmp_path)) == {"activations_conv_w3_conv.png"}
    assert run.main(base + ["--saliency", "--text", "   "]) == 2
    assert "no text with words" in capsys.readouterr().err
    assert run.main(base + ["--class", "2"]) == 2
