"""Pretrained vectors in the vocabulary: TREC's capitalised words get the lower-case
GloVe vectors (GloVe 6B is lower-case), uncased tasks are unchanged, files load once."""
import numpy as np
import pytest

from apps.text import embeddings, train
from apps.text.cli import register
from apps.text.tokenize import UNK_ID, Vocabulary
from shared.cli import parse_command


@pytest.fixture
def kv():
    """A tiny lower-case, frequency-ordered vector set, like GloVe 6B."""
    from gensim.models import KeyedVectors
    words = ["what", "is", "the", "einstein", "capital", "paris"]
    vectors = KeyedVectors(4)
    vectors.add_vectors(words, np.arange(len(words) * 4, dtype=np.float32).reshape(-1, 4))
    return vectors


def _prepare(kv, monkeypatch, task, texts, lexicon="none"):
    monkeypatch.setattr(embeddings, "get_vectors", lambda *a, **k: kv)
    args = parse_command(register, ["train", "--task", task, "--embedding", "glove", "--extra-words", len(kv),
                                    "--seed", 1, "--lexicon", lexicon])
    return train.prepare(args, texts, task)


def test_a_capitalised_word_gets_the_lower_case_vector(kv):
    vocab = Vocabulary(["Einstein", "What", "Zorbl"])
    matrix, found = embeddings.embedding_matrix(vocab, kv, seed=1)
    assert np.array_equal(matrix[vocab.index["Einstein"]], kv["einstein"])
    assert np.array_equal(matrix[vocab.index["What"]], kv["what"])
    assert found == pytest.approx(2 / 3)  # Zorbl: random


def test_an_unseen_capitalised_word_encodes_as_its_lower_case_form():
    vocab = Vocabulary(["einstein", "What"])
    assert vocab.encode(["Einstein", "What", "what", "Zorbl"]) == [2, 3, UNK_ID, UNK_ID]


def test_cased_task_vocabulary_covers_unseen_capitalised_words(kv, monkeypatch):
    rule, vocab, matrix, _ = _prepare(kv, monkeypatch, "trec", ["What is the capital ?"])
    assert rule == "kim_cased" and vocab.words[2:7] == ["What", "is", "the", "capital", "?"]
    assert "einstein" in vocab.words and "paris" in vocab.words  # the pretrained extras
    (einstein,) = vocab.encode(["Einstein"])  # not in the training text
    assert np.array_equal(matrix[einstein], kv["einstein"])


def test_uncased_task_vocabulary_is_training_words_then_extras(kv, monkeypatch):
    rule, vocab, matrix, _ = _prepare(kv, monkeypatch, "mr", ["What a film , Paris !"])
    assert rule == "kim"
    assert vocab.words[2:] == ["what", "a", "film", ",", "paris", "!", "is", "the", "einstein", "capital"]
    assert np.array_equal(matrix[vocab.index["paris"]], kv["paris"])


def test_vector_files_load_once(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("good 0.1 0.2\nbad -0.1 -0.2\n")
    first = embeddings.load_vectors(path)
    assert first.vector_size == 2 and first.index_to_key == ["good", "bad"]
    assert embeddings.load_vectors(str(path)) is first


def test_the_vader_lexicon_adds_each_words_polarity(kv, monkeypatch):
    """--lexicon vader: two more columns, [positive, negative] valence / 4; zeros for unrated
    words and padding; the pretrained part is unchanged."""
    texts = ["what a wonderful film", "the capital is awful", "Great Paris"]
    _, vocab, plain, _ = _prepare(kv, monkeypatch, "sst2", texts)
    _, vocab_lex, matrix, _ = _prepare(kv, monkeypatch, "sst2", texts, lexicon="vader")
    assert vocab_lex.words == vocab.words and matrix.shape == (plain.shape[0], plain.shape[1] + 2)
    np.testing.assert_array_equal(matrix[:, :-2], plain)
    polarity = {word: matrix[vocab.index[word], -2:] for word in vocab.words[2:]}
    assert polarity["wonderful"][0] == pytest.approx(2.7 / 4) and polarity["wonderful"][1] == 0  # VADER: +2.7
    assert polarity["awful"][1] == pytest.approx(2.0 / 4) and polarity["awful"][0] == 0  # VADER: -2.0
    assert not polarity["film"].any() and not polarity["capital"].any() and not matrix[0, -2:].any()
    assert polarity["great"][0] == pytest.approx(3.1 / 4)  # "Great": SST's rule lower-cases it
