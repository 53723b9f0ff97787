"""Inference for text models: encoding texts with a model's vocabulary, batched probabilities,
and the words the k-max pooling kept (`text predict`).

`encode_texts`, `predict_probabilities` and `kmax_explainer` are shared by `evaluate`,
`crossval`, `visualize` and `demo()`; `predict_texts` is `python run.py text predict`.
"""
import json
import os
import sys

import numpy as np

from apps.text import APP

MAX_WORDS = 1000  # longer documents are cut (with a note); sentence models see ~50 words


def encode_texts(texts, meta):
    """Token lists and id lists for raw texts, with the model's cleaning rule and vocabulary."""
    from apps.text.tokenize import Vocabulary, tokenize
    pre = meta["preprocessing"]
    vocab = Vocabulary(pre["vocabulary"][2:])
    tokens = [tokenize(t, pre["rule"])[:pre.get("max_words", MAX_WORDS)] for t in texts]
    return tokens, [vocab.encode(t) for t in tokens]


def predict_probabilities(model, id_lists, batch_size=256):
    """Class probabilities in input order; batches grouped by length to save padding."""
    from apps.text.tokenize import pad_batch
    order = np.argsort([len(ids) for ids in id_lists], kind="stable")
    outputs = [None] * len(id_lists)
    for start in range(0, len(order), batch_size):
        group = order[start:start + batch_size]
        ids, _ = pad_batch([id_lists[i] for i in group])
        probs = model(ids, training=False)
        probs = np.asarray(probs[0] if isinstance(probs, (list, tuple)) else probs)
        for i, p in zip(group, probs):
            outputs[i] = p
    return np.stack(outputs) if outputs else np.zeros((0, 0))


def word_scores(tokens, selections, widths):
    """Each word's share of what the k-max layers kept, and the top n-grams.
    `selections[j]` is (kept values, their positions in the wide-conv output of
    width `widths[j]`); position p covers words p - width + 1 .. p, -1 is an
    empty slot. Every kept value adds its magnitude to the words of its window,
    so maps that kept nothing (ReLU zeros, ties at the edge) count for nothing."""
    n = len(tokens)
    scores = np.zeros(n)
    ngrams = {}
    for (values, positions), width in zip(selections, widths):
        values, positions = np.abs(np.asarray(values)).ravel(), np.asarray(positions).ravel()
        for value, p in zip(values, positions):
            lo, hi = max(0, p - width + 1), min(n - 1, p)
            if p < 0 or lo > hi or value <= 0:
                continue
            scores[lo:hi + 1] += value
            ngrams[(lo, hi)] = ngrams.get((lo, hi), 0.0) + float(value)
    top = sorted(ngrams.items(), key=lambda kv: -kv[1])[:3]
    return scores, [(" ".join(tokens[lo:hi + 1]), round(weight, 2)) for (lo, hi), weight in top]


def kmax_explainer(model, preprocessing):
    """A function (tokens, ids) -> (probabilities, each word's share of the kept
    activations, top n-grams) read from the k-max layers: Kim's CNN, every
    filter's max n-gram; the DCNN, its first dynamic k-max layer (whose
    positions index words directly). For an ensemble, the members' word scores
    and top n-gram weights, each member's scaled to a maximum of 1, are averaged."""
    from shared.ensemble import members
    from shared.layers import merge_class_probabilities
    if preprocessing.get("arch") != "ensemble":
        return _member_explainer(model, preprocessing.get("arch"))
    parts = [_member_explainer(m, arch) for m, arch in zip(members(model), preprocessing["member_archs"])]
    groups = preprocessing.get("class_groups")  # a collapsed ensemble: its members answer the fine classes

    def run(tokens, ids):
        # the ensemble's output is the members' mean, so their probabilities give it without another pass
        probabilities, scores, ngrams = 0.0, np.zeros(len(tokens)), {}
        for part in parts:
            part_probabilities, part_scores, part_ngrams = part(tokens, ids)
            probabilities = probabilities + part_probabilities / len(parts)
            if part_scores.max() > 0:
                scores += part_scores / part_scores.max() / len(parts)
            for gram, weight in part_ngrams:
                ngrams[gram] = ngrams.get(gram, 0.0) + weight / part_ngrams[0][1] / len(parts)
        top = sorted(ngrams.items(), key=lambda kv: -kv[1])[:3]
        if groups:
            probabilities = np.asarray(merge_class_probabilities(probabilities[None], groups))[0]
        return probabilities, scores, [(gram, round(weight, 2)) for gram, weight in top]
    return run


def _member_explainer(model, arch):
    from apps.text.models import selection_model
    explain, widths, _ = selection_model(model)
    use = slice(0, 1) if arch == "dcnn" else slice(None)

    def run(tokens, ids):
        outputs = explain(np.array([ids], dtype=np.int32), training=False)
        kept = [np.asarray(o)[0] for o in outputs[1:]]
        scores, ngrams = word_scores(tokens, list(zip(kept[0::2], kept[1::2]))[use], widths[use])
        return np.asarray(outputs[0])[0], scores, ngrams
    return run


def highlight(tokens, scores, color):
    """Tokens with the top quarter by score marked: ANSI bold yellow, or [brackets]."""
    if not len(tokens):
        return ""
    cut = np.quantile(scores, 0.75) if scores.max() > 0 else np.inf
    marked = []
    for token, score in zip(tokens, scores):
        if score >= cut and score > 0:
            marked.append(f"\033[1;33m{token}\033[0m" if color else f"[{token}]")
        else:
            marked.append(token)
    return " ".join(marked)


def _argv_text(text):
    """argv strings carry undecodable bytes as surrogates: recover the bytes, decode UTF-8 or Latin-1."""
    from apps.text.data import decode
    return decode(os.fsencode(text))


def predict_texts(args):
    """Label and probabilities of each text, with the words the first k-max layer(s)
    kept highlighted (Kim: the n-gram each filter's max came from; DCNN: the
    7-word windows the first dynamic k-max layer kept). Empty texts are reported
    and skipped (exit status 1); texts of only unknown words get a warning."""
    from apps.text.data import decode
    from shared.modelio import load_model

    model, meta = load_model(args.model, app=APP)
    pre = meta["preprocessing"]
    texts = []
    for text in args.texts:
        if text == "-":
            texts += [decode(line) for line in sys.stdin.buffer.read().splitlines() if line.strip()]
        else:
            texts.append(_argv_text(text))
    explain = kmax_explainer(model, pre)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    failures = 0
    for text in texts:
        tokens, (ids,) = encode_texts([text], meta)
        if not tokens[0]:
            print(f"skipped: empty text (no words after cleaning): {text[:60]!r}", file=sys.stderr)
            if args.json:  # one JSON line per input text, so results stay in step with the inputs
                print(json.dumps({"text": text[:1000], "skipped": "empty text (no words after cleaning)"}))
            failures += 1
            continue
        words = len(text.split())
        if words > pre.get("max_words", MAX_WORDS):
            print(f"note: {words:,} words; the first {len(tokens[0]):,} tokens were classified", file=sys.stderr)
        unknown = sum(i == 1 for i in ids)
        if unknown == len(ids):
            print(f"warning: none of the words is in the model's vocabulary: {text[:60]!r}", file=sys.stderr)
        probs, scores, ngrams = explain(tokens[0], ids)
        label = pre["class_names"][int(probs.argmax())]
        if args.json:
            print(json.dumps({"text": text[:1000], "label": label,
                              "probabilities": {c: round(float(p), 4) for c, p in zip(pre["class_names"], probs)},
                              "unknown_words": unknown, "tokens": len(ids),
                              "word_scores": [[t, round(float(s), 3)] for t, s in zip(tokens[0], scores)][:200],
                              "top_ngrams": ngrams}))
        else:
            probabilities = "  ".join(f"{c} {p:.3f}" for c, p in zip(pre["class_names"], probs))
            print(f"{label}  ({probabilities})")
            print(f"  {highlight(tokens[0][:200], scores[:200], color)}")
            print("  kept n-grams (weight): " + "; ".join(f"{g!r} {c:.1f}" for g, c in ngrams))
    return 1 if failures else 0
