"""Tokenization as the original papers preprocess the data, vocabulary, padding.

`clean_str` and `clean_str_sst` are Kim's (2014) `process_data.py` rules: split
off clitics and punctuation, drop odd characters, lower-case (except TREC,
whose capitalisation Kim keeps). The SST trees keep the original case and
write brackets as -LRB-/-RRB-; `tree_tokens_to_text` undoes that before
cleaning, so tree leaves become the same tokens as Kim's `stsa.*` files.
Before any rule, text is folded to ASCII (`fold_to_ascii`): Kim's rules keep
ASCII letters only, and would cut "clichés" into "clich s".
"""
import re
import unicodedata

import numpy as np

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
_PTB_BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}


def clean_str(string, lower=True):
    """Kim's `clean_str` (MR, Subj, CR, MPQA; TREC with lower=False)."""
    string = re.sub(r"[^A-Za-z0-9(),!?\'\`]", " ", string)
    string = re.sub(r"\'s", " \'s", string)
    string = re.sub(r"\'ve", " \'ve", string)
    string = re.sub(r"n\'t", " n\'t", string)
    string = re.sub(r"\'re", " \'re", string)
    string = re.sub(r"\'d", " \'d", string)
    string = re.sub(r"\'ll", " \'ll", string)
    string = re.sub(r",", " , ", string)
    string = re.sub(r"!", " ! ", string)
    string = re.sub(r"\(", " ( ", string)
    string = re.sub(r"\)", " ) ", string)
    string = re.sub(r"\?", " ? ", string)
    string = re.sub(r"\s{2,}", " ", string)
    string = string.strip()
    return string.lower() if lower else string


def clean_str_sst(string):
    """Kim's `clean_str_sst`: the SST text is already tokenised; keep word characters, lower-case.
    PTB bracket tokens (-LRB-, or -lrb- as in the lower-cased stsa.* files) become brackets first."""
    string = re.sub(r"-[lr][rsc]b-", lambda m: _PTB_BRACKETS[m.group(0).upper()], string, flags=re.IGNORECASE)
    string = re.sub(r"[^A-Za-z0-9(),!?\'\`]", " ", string)
    string = re.sub(r"\s{2,}", " ", string)
    return string.strip().lower()


_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                              "\u2013": "-", "\u2014": "-", "\u00a0": " "})


def fold_to_ascii(text):
    """Accented letters to their base letter (NFKD, combining marks dropped: "clichés" ->
    "cliches", "naïve" -> "naive"), curly quotes and dashes to their ASCII forms."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TYPOGRAPHIC))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


CLEANERS = {"sst": clean_str_sst, "kim": clean_str, "kim_cased": lambda s: clean_str(s, lower=False)}


def tokenize(text, rule="kim"):
    """Tokens of `text` under the named cleaning rule ("sst", "kim", "kim_cased")."""
    return CLEANERS[rule](fold_to_ascii(text)).split()


def tree_tokens_to_text(leaves):
    return " ".join(_PTB_BRACKETS.get(leaf, leaf) for leaf in leaves)


class Vocabulary:
    """Word <-> id. Id 0 is padding, 1 the unknown word; the rest in the given order."""

    def __init__(self, words):
        self.words = [PAD, UNK] + [w for w in dict.fromkeys(words) if w not in (PAD, UNK)]
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self):
        return len(self.words)

    def encode(self, tokens):
        """Ids of `tokens`; a word not in the vocabulary falls back to its lower-case form
        (cased TREC: an unseen "Einstein" is the pretrained "einstein"), else UNK."""
        return [self.index.get(t, self.index.get(t.lower(), UNK_ID)) for t in tokens]

    @classmethod
    def from_texts(cls, token_lists, min_count=1, extra_words=()):
        """Training words by frequency (ties: first seen), then `extra_words` not yet in."""
        counts = {}
        for tokens in token_lists:
            for token in tokens:
                counts[token] = counts.get(token, 0) + 1
        words = [w for w, c in sorted(counts.items(), key=lambda wc: -wc[1]) if c >= min_count]
        return cls(words + list(extra_words))


def pad_batch(id_lists, min_length=1, max_length=None):
    """(ids int32 (batch, T), lengths int32 (batch,)): right-padded with PAD_ID;
    T = the longest sequence (at least `min_length`), sequences cut at `max_length`."""
    if max_length:
        id_lists = [ids[:max_length] for ids in id_lists]
    lengths = np.array([len(ids) for ids in id_lists], dtype=np.int32)
    width = max(min_length, int(lengths.max()) if len(lengths) else 0)
    batch = np.zeros((len(id_lists), width), dtype=np.int32)
    for row, ids in enumerate(id_lists):
        batch[row, :len(ids)] = ids
    return batch, lengths
