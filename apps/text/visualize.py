"""Which words a sentence CNN decides by: word-level saliency and the k-max selections,
as PNGs and in the terminal.

Works on the app's models (DCNN and Kim's CNN: word ids in, class probabilities out).

- `word_saliency`: the gradient of the class logit (`shared.visualize.logits_model`)
  with respect to each word's embedding(s) (Simonyan et al. 2013; Li et al. 2016 for
  text): its L2 norm says how much the word matters, gradient x embedding (summed)
  whether it speaks for (+) or against (-) the class. Word ids are discrete, so the
  gradient is taken at the embedding tables: TensorFlow returns it as one row per
  position (IndexedSlices), which keeps repeated words apart.
- `kmax_word_scores`: what the k-max pooling kept, per word (`apps.text.predict.word_scores`
  on `apps.text.models.selection_model`): Kim's CNN, every filter's max n-gram; DCNN,
  the windows the first dynamic k-max layer kept.
- `sentences_png`: per sentence, saliency, gradient x input and k-max share as a heat
  strip under the words; `terminal_lines`: the same as marked text.
- `run`: `run.py text visualize`.
"""
import sys
from pathlib import Path

import numpy as np

from shared import visualize as viz
from shared.errors import UserError
from shared.plots import pyplot, save_figure

DEFAULT_SENTENCES = ["a gorgeous , witty , seductive movie .",
                     "the plot is nothing but boilerplate cliches from start to finish .",
                     "it is not a bad film , just a forgettable one .",
                     "an intelligent , moving and beautifully acted drama that never condescends ."]


def _embedding_layers(model):
    import keras

    from shared.ensemble import all_layers
    layers = [layer for layer in all_layers(model) if isinstance(layer, keras.layers.Embedding)]
    if not layers:
        raise UserError("the model has no Embedding layer: word saliency needs word ids -> embeddings")
    return layers


def word_saliency(model, ids, class_index=None):
    """(saliency (n,), gradient x embedding (n,), class) for one sentence's word ids.

    saliency = || d logit / d e_i || over all embedding channels of word i;
    gradient x embedding = sum of d logit / d e_i * e_i (signed evidence for the class)."""
    import tensorflow as tf
    ids = np.asarray(ids, np.int32)
    batch = ids[None]
    if class_index is None:
        class_index = int(np.argmax(np.asarray(model(batch, training=False))[0]))
    tables = [layer.embeddings.value for layer in _embedding_layers(model)]
    logits = viz.logits_model(model)
    with tf.GradientTape() as tape:
        for table in tables:
            tape.watch(table)
        score = logits(batch, training=False)[0, class_index]
    squares, products = np.zeros(len(ids)), np.zeros(len(ids))
    for table, grad in zip(tables, tape.gradient(score, tables)):
        if grad is None:
            continue
        if not isinstance(grad, tf.IndexedSlices) or grad.values.shape[0] != len(ids):
            raise UserError("word saliency needs per-position embedding gradients (an Embedding lookup)")
        values = grad.values.numpy()
        squares += (values ** 2).sum(1)
        products += (values * tf.gather(table, ids).numpy()).sum(1)
    return np.sqrt(squares), products, class_index


def kmax_word_scores(model, meta, tokens, ids):
    """(each word's share of the kept activations (n,), top n-grams) from the k-max layers."""
    from apps.text.predict import kmax_explainer
    _, scores, ngrams = kmax_explainer(model, meta["preprocessing"])(tokens, ids)
    return scores, ngrams


def explain_sentences(model, meta, texts, class_index=None):
    """A dict per text: tokens, ids, probabilities, class, saliency, grad x input, k-max scores, n-grams.
    Texts with no words left after cleaning are reported on stderr and skipped."""
    from apps.text.predict import encode_texts
    results = []
    for text in texts:
        (tokens,), (ids,) = encode_texts([text], meta)
        if not tokens:
            print(f"skipped: empty text (no words after cleaning): {text[:60]!r}", file=sys.stderr)
            continue
        probabilities = np.asarray(model(np.array([ids], np.int32), training=False))[0]
        saliency, evidence, cls = word_saliency(model, ids, class_index)
        kept, ngrams = kmax_word_scores(model, meta, tokens, ids)
        results.append(dict(text=text, tokens=tokens, ids=ids, probabilities=probabilities, class_index=cls,
                            saliency=saliency, evidence=evidence, kmax=kept, ngrams=ngrams))
    return results


def sentences_png(results, class_names, path, max_words=40):
    """One panel per sentence: rows saliency, gradient x embedding and k-max share under the words."""
    plt = pyplot()
    width = min(max_words, max(len(r["tokens"]) for r in results))
    fig, axes = plt.subplots(len(results), 1, figsize=(max(6.0, 0.55 * width + 1.5), 1.9 * len(results)),
                             squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        n = min(len(r["tokens"]), max_words)
        rows = [r["saliency"][:n] / (r["saliency"].max() + 1e-12),
                r["evidence"][:n] / (np.abs(r["evidence"]).max() + 1e-12),
                r["kmax"][:n] / (r["kmax"].max() + 1e-12)]
        for row, (values, cmap, low) in enumerate(zip(rows, ("Reds", "RdYlGn", "Oranges"), (0, -1, 0))):
            ax.imshow(values[None], extent=(-0.5, n - 0.5, row + 0.5, row - 0.5), cmap=cmap, vmin=low, vmax=1,
                      aspect="auto", interpolation="nearest")
        ax.set_ylim(2.5, -0.5)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_yticks([0, 1, 2], ["saliency", "grad x input", "k-max kept"], fontsize=8)
        ax.set_xticks(range(n), r["tokens"][:n], rotation=35, ha="right", fontsize=8)
        p = r["probabilities"][r["class_index"]]
        ax.set_title(f"class {class_names[r['class_index']]} (p {p:.2f}); kept most: "
                     + "; ".join(g for g, _ in r["ngrams"][:2]), fontsize=9)
    fig.suptitle("which words decide: saliency |d logit / d embedding|, gradient x embedding\n"
                 "(green: for, red: against the class) and the words the k-max pooling kept", fontsize=9)
    return save_figure(fig, path, dpi=80)


def terminal_lines(results, class_names, color=False):
    """The same as text: the top quarter of words by saliency and by k-max share marked
    (ANSI bold yellow, or [brackets]), with the kept n-grams."""
    from apps.text.predict import highlight
    lines = []
    for r in results:
        probabilities = "  ".join(f"{c} {p:.3f}" for c, p in zip(class_names, r["probabilities"]))
        lines += [f"{class_names[r['class_index']]}  ({probabilities})",
                  f"  saliency: {highlight(r['tokens'], r['saliency'], color)}",
                  f"  k-max:    {highlight(r['tokens'], r['kmax'], color)}",
                  "  for / against (grad x input): " + ", ".join(
                      f"{t} {v:+.2f}" for t, v in sorted(zip(r["tokens"], r["evidence"]),
                                                         key=lambda tv: -abs(tv[1]))[:4]),
                  "  kept n-grams (weight): " + "; ".join(f"{g!r} {c:.1f}" for g, c in r["ngrams"])]
    return lines


def activations_png(model, layer, tokens, ids, path, max_maps=24):
    """The strongest `max_maps` feature maps of a convolution over one sentence: maps x
    positions, each position labelled with the last word of its window (wide convolutions
    run width - 1 positions past the last word). A DCNN layer convolves each embedding row
    on its own, so its maps are (positions, rows): one panel of rows x positions per map."""
    maps = viz.activations(model, layer, np.array(ids, np.int32))
    if maps.ndim not in (2, 3):
        raise UserError(f"{layer}: expected a (positions, maps) or (positions, rows, maps) layer for text")
    labels = [tokens[p] if p < len(tokens) else f"(+{p - len(tokens) + 1})" for p in range(maps.shape[0])]
    if maps.ndim == 3:
        return _row_wise_activations_png(maps, layer, labels, path, max_maps)
    order = np.argsort(maps.max(0))[::-1][:max_maps]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(labels) + 1.5), 0.22 * len(order) + 1.6))
    image = ax.imshow(maps[:, order].T, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(order)), [str(k) for k in order], fontsize=6)
    ax.set_ylabel("map (strongest first)", fontsize=8)
    ax.set_title(f"{layer}: {len(order)} of {maps.shape[1]} maps, position = last word of the window", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.03)
    return save_figure(fig, path, dpi=80)


def _row_wise_activations_png(maps, layer, labels, path, max_maps):
    order = np.argsort(maps.max(axis=(0, 1)))[::-1][:max_maps]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(order), figsize=(max(5.0, len(order) * (0.3 * len(labels) + 1.2)), 3.6),
                             squeeze=False)
    for ax, k in zip(axes[0], order):
        image = ax.imshow(maps[:, :, k].T, aspect="auto", cmap="viridis", interpolation="nearest")
        ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=7)
        ax.set_title(f"map {k}", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.05)
    axes[0][0].set_ylabel("embedding row", fontsize=8)
    fig.suptitle(f"{layer}: {len(order)} of {maps.shape[2]} maps, each embedding row convolved on its own; "
                 f"position = last word of the window", fontsize=9)
    return save_figure(fig, path, dpi=80)


# ---------------------------------------------------------------- `run.py text visualize`

def _first_conv_layer(model):
    from shared.layers import WideConv1D
    convs = [layer.name for layer in model.layers if isinstance(layer, viz.CONV_TYPES + (WideConv1D,))]
    if not convs:
        raise UserError("the model has no convolution layer")
    return convs[0]


def run(args):
    """Which words a text model decides by, written as PNGs into --out and printed:
    word-level saliency (gradient at the embeddings; gradient x embedding for the sign)
    and the words the k-max pooling kept, plus the first convolution's activation map.
    With no choice, the standard set on the given texts (default: a few examples)."""
    from apps.text.predict import encode_texts
    from shared.modelio import load_model
    model, meta = load_model(args.model, app="text")
    names = meta["preprocessing"]["class_names"]
    if args.class_index is not None and not 0 <= args.class_index < len(names):
        raise UserError(f"--class {args.class_index}: must be in 0..{len(names) - 1}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    texts = args.text or DEFAULT_SENTENCES
    chosen = args.saliency or args.activations
    written = []
    if args.saliency or not chosen:
        results = explain_sentences(model, meta, texts, args.class_index)
        if not results:
            raise UserError("no text with words to explain")
        color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
        print("\n".join(terminal_lines(results, names, color)))
        written.append(sentences_png(results, names, out / "saliency_kmax.png"))
    if args.activations or not chosen:
        from shared.ensemble import first_member  # an ensemble: its first member's maps
        single = first_member(model)
        layer = args.layer or viz.activation_after(single, _first_conv_layer(single))
        (tokens,), (ids,) = encode_texts(texts[:1], meta)
        if not tokens:
            raise UserError(f"no words left in {texts[0][:60]!r} after cleaning")
        written.append(activations_png(single, layer, tokens, ids, out / f"activations_{layer}.png"))
    for path in written:
        print(f"wrote {path}")
    return 0
