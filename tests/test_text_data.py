"""Tokenization, tree parsing, file reading and splits of the text app."""
import numpy as np
import pytest

from apps.text import data
from apps.text.tokenize import PAD_ID, UNK_ID, Vocabulary, clean_str, clean_str_sst, pad_batch, tokenize
from conftest import needs_data
from shared.errors import UserError


def test_kim_cleaning_rules():
    assert clean_str("It's a Bad, bad movie!") == "it 's a bad , bad movie !"
    assert clean_str("Don't") == "do n't"
    assert clean_str("What is AIDS ?", lower=False) == "What is AIDS ?"
    assert clean_str_sst("A  gorgeous , witty ; film") == "a gorgeous , witty film"


def test_parse_tree_every_node_with_label_and_multiword_leaves():
    nodes = data.parse_tree(r"(3 (2 (2 A) (2 film)) (4 (2 like) (2 8 1\/2)))")
    assert nodes[0] == (["A", "film", "like", "8", "1/2"], 3)
    assert (["A", "film"], 2) in nodes and (["8", "1/2"], 2) in nodes and (["like", "8", "1/2"], 4) in nodes
    assert len(nodes) == 7
    with pytest.raises(UserError):
        data.parse_tree("(3 (2 A) (2 film)")
    with pytest.raises(UserError):
        data.parse_tree("a film")


def test_sst_labels():
    assert [data.sst_label(l, "sst5") for l in range(5)] == [0, 1, 2, 3, 4]
    assert [data.sst_label(l, "sst2") for l in range(5)] == [0, 0, None, 1, 1]


def test_a_tree_file_with_no_sentence_left_is_an_error(tmp_path):
    path = tmp_path / "neutral.txt"
    path.write_text("(2 (2 A) (2 film))\n")
    assert data.read_trees(path, "sst5")[0] == ["A film"]
    with pytest.raises(UserError, match="neutral.txt: no sentences left .SST-2 leaves out the neutral"):
        data.read_trees(path, "sst2")


def test_read_trees_phrases_and_sentences(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("(3 (2 (2 A) (2 film)) (4 good))\n(1 (2 (2 A) (2 film)) (0 bad))\n")
    texts, labels = data.read_trees(path, "sst2")
    assert texts == ["A film good", "A film bad"] and list(labels) == [1, 0]
    texts, labels = data.read_trees(path, "sst5", phrases=True)
    # 10 nodes; "A film", "A", "film" repeat in the second tree and are kept once
    assert texts.count("A film") == 1 and "bad" in texts and len(texts) == 7 and len(set(texts)) == 7


def test_labelled_lines_decode_latin1_and_skip_bad_labels(tmp_path, capsys):
    path = tmp_path / "x.all"
    path.write_bytes(b"1 caf\xe9 is nice \x85 really\nX no label\n0 bad\n\n1\n1\tgreat fun\n\xb2 superscript\n"
                     + "\u00b2 superscript in UTF-8\n".encode())
    texts, labels = data.read_labelled_lines(path, num_classes=2)
    assert texts == ["caf\u00e9 is nice   really", "bad", "great fun"] and list(labels) == [1, 0, 1]
    # every skipped line is named: a bad label, a label without text, a non-ASCII digit
    assert "skipped 4 line(s) without a valid label and text: line(s) 2, 5, 7, 8" in capsys.readouterr().err
    empty = tmp_path / "empty.all"
    empty.write_bytes(b"")
    with pytest.raises(UserError):
        data.read_labelled_lines(empty)


def test_vocabulary_and_padding():
    vocab = Vocabulary.from_texts([["b", "a", "b"], ["c"]], extra_words=["z", "a"])
    assert vocab.words[:2] == ["<pad>", "<unk>"] and vocab.words[2] == "b" and vocab.words[-1] == "z"
    assert vocab.encode(["b", "nope"]) == [2, UNK_ID]
    ids, lengths = pad_batch([[2, 3, 4], [5], []])
    assert ids.shape == (3, 3) and list(lengths) == [3, 1, 0] and ids[1, 1] == PAD_ID


@needs_data("text", "sentence_benchmarks.tar.gz")
def test_sst_splits_match_the_manifest():
    splits = data.load_task("sst2")
    assert len(splits["dev"][0]) == 872 and np.bincount(splits["dev"][1]).tolist() == [428, 444]
    assert len(splits["train_sentences"][0]) == 6920
    assert len(splits["train"][0]) > 60000  # all phrases, neutral dropped
    sst5 = data.load_task("sst5")
    assert len(sst5["dev"][0]) == 1101 and np.bincount(sst5["dev"][1]).tolist() == [139, 289, 229, 279, 165]
    # the trees, cleaned, give the same sentences and labels as Kim's stsa.binary.dev, cleaned the same way
    kim_texts, kim_labels = data.read_labelled_lines(data.task_dir("sst2") / "sst" / "stsa.binary.dev")
    kim = set(zip((" ".join(tokenize(t, "sst")) for t in kim_texts), kim_labels.tolist()))
    ours = set(zip((" ".join(tokenize(t, "sst")) for t in splits["dev"][0]), splits["dev"][1].tolist()))
    assert len(kim & ours) >= 0.97 * 872
    trec = data.load_task("trec")
    assert len(trec["train"][0]) + len(trec["dev"][0]) == 5452 and len(trec["test"][0]) == 500


@needs_data("text", "nltk_sentiment_corpora.tar")
def test_review_sentences_carry_their_reviews_label_and_split_by_review():
    splits = data.load_task("reviews")
    (train, train_labels), (dev, dev_labels) = splits["train"], splits["dev"]
    assert len(train) + len(dev) > 60000  # 2,000 reviews, about 32 sentences each
    assert 0.07 < len(dev) / (len(train) + len(dev)) < 0.13  # a tenth of the reviews
    assert set(train_labels.tolist()) == set(dev_labels.tolist()) == {0, 1}
    # whole reviews on each side: only a critic's boilerplate ("* * * pretty good , bring a friend .") is on both
    long_shared = {s for s in set(train) & set(dev) if len(s.split()) >= 8}
    assert len(long_shared) < 0.001 * len(dev)
    again = data.load_task("reviews")
    assert again["dev"][0] == dev  # the same seed, the same split


def test_batches_group_similar_lengths_and_keep_every_sentence_once():
    import warnings

    import keras

    from apps.text.data import batches
    rng = np.random.default_rng(0)
    id_lists = [list(range(2, 2 + n)) for n in rng.integers(1, 40, 500)]
    labels = np.arange(500) % 2
    data = batches(id_lists, labels, 32, shuffle=True, seed=3, min_length=5)
    epochs = [list(data), list(data)]
    for epoch in epochs:
        assert len(epoch) == int(data.cardinality())
        seen = sorted(tuple(int(i) for i in row if i) for ids, _ in epoch for row in ids.numpy())
        assert seen == sorted(map(tuple, id_lists))
        for ids, _ in epoch:
            filled = (ids.numpy() != 0).sum(axis=1)
            assert ids.shape[1] == max(5, filled.max()) and filled.max() - filled.min() < 20
    assert [ids.shape for ids, _ in epochs[0]] != [ids.shape for ids, _ in epochs[1]]  # reshuffled
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(50, 4),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(data, epochs=2, verbose=0)
    assert not [w for w in caught if "ran out of data" in str(w.message)]


def test_accented_letters_fold_to_their_base_letter_before_cleaning():
    from apps.text.tokenize import fold_to_ascii, tokenize
    assert tokenize("boilerplate clichés from start to finish .", "sst") == \
        ["boilerplate", "cliches", "from", "start", "to", "finish"]
    assert tokenize("A naïve, Café-society film", "kim") == ["a", "naive", ",", "cafe", "society", "film"]
    assert fold_to_ascii("it\u2019s \u201cgood\u201d \u2014 really") == 'it\'s "good" - really'
    assert tokenize("it\u2019s good", "kim") == ["it", "'s", "good"]
