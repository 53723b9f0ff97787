"""The text benchmarks: reading the staged files, splits and batching.

- SST-5 / SST-2 (Socher et al. 2013): trained, as Kim and Kalchbrenner et al.
  did, on every phrase of the training trees (each node's words with its
  label; SST-2 drops the neutral ones), validated on the dev sentences.
  The test splits are held out from this project.
- MR, Subj, CR, MPQA: one labelled pool each, scored by 10-fold CV.
- TREC: the standard 5,452 / 500 split, with a dev set carved from train.

Files come from the registry (`text-sst`, `text-mr`, ...: the published files, or
the staged archive that holds them all when it is in a data folder). Bytes are
decoded as UTF-8, falling back to Latin-1 (the MR and Subj files are
cp1252/Latin-1 with NEL bytes), never failing.
"""
import re
from pathlib import Path

import numpy as np

import datasets
from apps.text.tokenize import tokenize, tree_tokens_to_text
from shared.errors import UserError

SST5_CLASSES = ["very negative", "negative", "neutral", "positive", "very positive"]
SST2_CLASSES = ["negative", "positive"]
TASKS = {
    # name: classes, cleaning rule, protocol, files inside the archive
    "sst5": dict(classes=SST5_CLASSES, rule="sst", protocol="dev", dataset="text-sst",
                 train="sst/trees/train.txt", dev="sst/trees/dev.txt", test="sst/trees/test.txt"),
    "sst2": dict(classes=SST2_CLASSES, rule="sst", protocol="dev", dataset="text-sst",
                 train="sst/trees/train.txt", dev="sst/trees/dev.txt", test="sst/trees/test.txt"),
    "mr": dict(classes=["negative", "positive"], rule="kim", protocol="cv", dataset="text-mr",
               pool="mr/rt-polarity.all"),
    "subj": dict(classes=["subjective", "objective"], rule="kim", protocol="cv", dataset="text-subj",
                 pool="subj/subj.all"),
    "cr": dict(classes=["negative", "positive"], rule="kim", protocol="cv", dataset="text-cr", pool="cr/custrev.all"),
    "mpqa": dict(classes=["negative", "positive"], rule="kim", protocol="cv", dataset="text-mpqa",
                 pool="mpqa/mpqa.all"),
    "trec": dict(classes=["DESC", "ENTY", "ABBR", "HUM", "LOC", "NUM"], rule="kim_cased", protocol="test",
                 dataset="text-trec", train="trec/TREC.train.all", test="trec/TREC.test.all"),
    # distant supervision for pretraining (`--init-model`): each sentence of a review gets the review's label
    "reviews": dict(classes=["negative", "positive"], rule="kim", protocol="dev", dataset="text-nltk",
                    archive="packages/corpora/movie_reviews.zip"),
}


def decode(raw, where="input"):
    """Text from bytes: UTF-8, else Latin-1 (which maps every byte), with NEL as a space."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.replace("\x85", " ").replace("\u0085", " ")


def task_dir(task, data_dir=None):
    """The folder of `task`'s registry dataset (verified; the staged archive when it is in a
    data folder, else the published files)."""
    return datasets.dataset_dir(TASKS[task]["dataset"], data_dir)


# ---------------------------------------------------------------- PTB trees
_TREE_TOKEN = re.compile(r"\(\s*(-?\d+)\s*|\)|([^()]+)")


def parse_tree(line, where="tree"):
    """All nodes of one PTB sentiment tree as (leaf words, label), root first.
    A leaf may hold several words (`(2 8 1\\/2)`); `\\/` is unescaped."""
    items = []
    for match in _TREE_TOKEN.finditer(line):
        if match.group(2) is not None:
            if match.group(2).strip():
                items.append(("leaf", match.group(2).replace("\\/", "/").split()))
        elif match.group(1) is not None:
            items.append(("open", int(match.group(1))))
        else:
            items.append(("close", None))
    if not items or items[0][0] != "open":
        raise UserError(f"{where}: not a PTB tree (must start with '(LABEL')")
    position = 0

    def node():
        nonlocal position
        kind, label = items[position]
        if kind != "open":
            raise UserError(f"{where}: expected '(LABEL' at item {position}")
        position += 1
        if items[position][0] == "leaf":
            leaves = items[position][1]
            position += 1
            nodes = [(leaves, label)]
        else:
            children = []
            while items[position][0] == "open":
                children.append(node())
            leaves = [w for child in children for w in child[0][0]]
            nodes = [(leaves, label)] + [n for child in children for n in child]
        if items[position][0] != "close":
            raise UserError(f"{where}: expected ')' at item {position}")
        position += 1
        return nodes

    try:
        nodes = node()
    except IndexError:
        raise UserError(f"{where}: unbalanced brackets") from None
    if position != len(items):
        raise UserError(f"{where}: text after the end of the tree")
    return nodes


def sst_label(label, task):
    """SST-5 label as is; SST-2 maps 0,1 -> 0 and 3,4 -> 1, neutral (2) -> None (dropped)."""
    if task == "sst5":
        return label
    return None if label == 2 else int(label > 2)


def sst2_groups():
    """The SST-5 labels of each SST-2 class, as `sst_label` maps them: [[0, 1], [3, 4]]."""
    return [[label for label in range(5) if sst_label(label, "sst2") == binary] for binary in (0, 1)]


def read_trees(path, task, phrases=False):
    """(texts, labels) of a PTB tree file: the sentences, or with `phrases` every
    distinct phrase of every tree (first label seen; SST labels each phrase once)."""
    texts, labels, seen = [], [], set()
    for number, line in enumerate(Path(path).read_bytes().splitlines(), 1):
        line = decode(line).strip()
        if not line:
            continue
        nodes = parse_tree(line, f"{path}:{number}")
        for leaves, label in (nodes if phrases else nodes[:1]):
            if not 0 <= label <= 4:
                raise UserError(f"{path}:{number}: SST label {label} not in 0-4")
            mapped = sst_label(label, task)
            text = tree_tokens_to_text(leaves)
            if mapped is None or (phrases and text in seen):
                continue
            seen.add(text)
            texts.append(text)
            labels.append(mapped)
    if not texts:
        raise UserError(f"{path}: no sentences left" + (" (SST-2 leaves out the neutral ones, label 2)"
                                                          if task == "sst2" else ""))
    return texts, np.array(labels, dtype=np.int32)


# ------------------------------------------------------- Kim's `LABEL text` lines
def read_labelled_lines(path, num_classes=None):
    """(texts, labels) of a `LABEL<space>text` file (Kim's `.all` / `stsa.*` format).
    Lines with a bad label are skipped and reported on stderr."""
    import sys
    texts, labels, bad = [], [], []
    for number, raw in enumerate(Path(path).read_bytes().splitlines(), 1):
        line = decode(raw).strip()
        if not line:
            continue
        head, text = (line.split(None, 1) + [""])[:2]
        if not (head.isascii() and head.isdigit()) or (num_classes and int(head) >= num_classes) or not text:
            bad.append(number)
            continue
        texts.append(text)
        labels.append(int(head))
    if bad:
        listed = ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else "")
        print(f"{path}: skipped {len(bad)} line(s) without a valid label and text: line(s) {listed}",
              file=sys.stderr)
    if not texts:
        raise UserError(f"{path}: no labelled lines (expected `LABEL text` lines or PTB trees)")
    return texts, np.array(labels, dtype=np.int32)


def read_eval_file(path, task, num_classes):
    """(texts, labels) of a file in the dataset's original format: PTB trees
    (sentence labels; SST-2 drops neutral) or `LABEL text` lines."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    first = next((decode(l).strip() for l in path.read_bytes().splitlines() if l.strip()), "")
    if first.startswith("("):
        if task not in ("sst2", "sst5"):
            raise UserError(f"{path}: PTB trees are SST data, but this model is for {task}")
        return read_trees(path, task)
    return read_labelled_lines(path, num_classes)


# ------------------------------------------------------------------ splits
def load_task(task, data_dir=None, seed=1234, dev_fraction=0.1):
    """Train/dev texts and labels of a task with a fixed dev set (SST, TREC).
    Returns dict(train=(texts, labels), dev=(...), [test=(...)])."""
    spec = TASKS[task]
    root = task_dir(task, data_dir)
    if task in ("sst2", "sst5"):
        splits = {"train": read_trees(root / spec["train"], task, phrases=True),
                  "train_sentences": read_trees(root / spec["train"], task),
                  "dev": read_trees(root / spec["dev"], task)}
        if (root / spec["test"]).is_file():  # in the published release, not in the staged copy
            splits["test"] = read_trees(root / spec["test"], task)
        return splits
    if task == "trec":
        texts, labels = read_labelled_lines(root / spec["train"])
        order = np.random.default_rng(seed).permutation(len(texts))
        n_dev = int(round(dev_fraction * len(texts)))
        dev, train = order[:n_dev], order[n_dev:]
        pick = lambda idx: ([texts[i] for i in idx], labels[idx])  # noqa: E731
        return {"train": pick(train), "dev": pick(dev), "test": read_labelled_lines(root / spec["test"])}
    if task == "reviews":
        return review_sentences(data_dir, seed, dev_fraction)
    raise UserError(f"{task} is scored by 10-fold cross-validation: use `run.py text crossval --task {task}`")


def review_sentences(data_dir=None, seed=1234, dev_fraction=0.1):
    """Pang & Lee's polarity dataset v2.0 (NLTK's `movie_reviews`: 1,000 positive and 1,000
    negative full reviews, one sentence per line) as sentences labelled with their review's
    polarity: noisy labels (a plot summary inside a rave is no praise) for pretraining a
    sentence CNN on 65k sentences of movie-review English before SST. Its reviews come from
    the rec.arts.movies.reviews archive, not from Rotten Tomatoes as MR and SST do. The dev
    sentences are those of a `dev_fraction` of the reviews (split by review)."""
    import io
    import zipfile
    archive = task_dir("reviews", data_dir) / TASKS["reviews"]["archive"]
    if not archive.is_file():
        raise UserError(f"{archive}: not found in the text-nltk dataset")
    raw = archive.read_bytes()
    reviews = []  # (label, [sentences]) per review
    with zipfile.ZipFile(io.BytesIO(raw)) as zipped:
        for name in sorted(zipped.namelist()):
            parts = name.split("/")
            if len(parts) == 3 and parts[1] in ("neg", "pos") and parts[2].endswith(".txt"):
                lines = [decode(line).strip() for line in zipped.read(name).splitlines()]
                reviews.append((int(parts[1] == "pos"), [line for line in lines if line]))
    if not reviews:
        raise UserError(f"{archive} holds no reviews (movie_reviews/neg|pos/*.txt)")
    order = np.random.default_rng(seed).permutation(len(reviews))
    dev = set(order[:int(round(dev_fraction * len(reviews)))].tolist())

    def sentences(keep):
        pairs = [(text, label) for i, (label, lines) in enumerate(reviews) if keep(i) for text in lines]
        return [text for text, _ in pairs], np.array([label for _, label in pairs], dtype=np.int32)
    return {"train": sentences(lambda i: i not in dev), "dev": sentences(lambda i: i in dev)}


def load_pool(task, data_dir=None):
    spec = TASKS[task]
    return read_labelled_lines(task_dir(task, data_dir) / spec["pool"])


def cv_folds(labels, folds=10, seed=1234):
    """Stratified k-fold (train_idx, test_idx) pairs, seeded."""
    from sklearn.model_selection import StratifiedKFold
    return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels))


def tokenize_all(texts, rule):
    return [tokenize(t, rule) for t in texts]


# ------------------------------------------------------------------ batching
def batches(id_lists, labels, batch_size, shuffle=False, seed=0, min_length=1):
    """A tf.data.Dataset of (ids (batch, T), labels) batches, each padded with PAD_ID to its
    longest sentence (at least `min_length`). tf.data's `bucket_by_sequence_length` batches
    sentences of similar length together (ten buckets split at the length deciles), so
    little time is spent on padding; with `shuffle` the batches and their order change every
    epoch. The number of batches is known ahead (every bucket ends in one partial batch), so
    Keras knows when an epoch ends."""
    import tensorflow as tf

    from apps.text.tokenize import PAD_ID
    lengths = np.array([len(ids) for ids in id_lists], dtype=np.int64)
    if not len(lengths):
        raise UserError("no sentences to batch")
    boundaries = [int(b) for b in np.unique(np.quantile(lengths, np.linspace(0, 1, 11)[1:-1]).astype(int) + 1)]
    per_bucket = np.bincount(np.searchsorted(boundaries, lengths, side="right"), minlength=len(boundaries) + 1)
    count = int(sum(-(-n // batch_size) for n in per_bucket))
    flat = tf.constant(np.concatenate([np.asarray(ids, dtype=np.int32) for ids in id_lists]))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    data = tf.data.Dataset.from_tensor_slices((starts, lengths, np.asarray(labels, dtype=np.int32)))
    if shuffle:
        data = data.shuffle(len(lengths), seed=seed, reshuffle_each_iteration=True)
    data = data.map(lambda start, length, y: (flat[start:start + length], y))
    data = data.bucket_by_sequence_length(
        lambda ids, _: tf.shape(ids)[0], boundaries, [batch_size] * (len(boundaries) + 1),
        padding_values=(PAD_ID, 0))

    def at_least_min_length(ids, y):
        return tf.pad(ids, [[0, 0], [0, tf.maximum(0, min_length - tf.shape(ids)[1])]],
                      constant_values=PAD_ID), y

    data = data.map(at_least_min_length).apply(tf.data.experimental.assert_cardinality(count))
    return data.prefetch(2)
