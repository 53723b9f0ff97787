"""The Text tab of `run.py serve`: a sentence in, its sentiment and the words that decided it.

The label and probabilities are the model's; the words are explained as `run.py text visualize`
does (`apps.text.visualize.explain_sentences`): gradient x embedding per word, signed (for or
against the predicted class), and the share of what the k-max pooling kept per word with the top
kept n-grams. Both shipped models are Kim's CNN, whose k-max pooling keeps each filter's single
strongest n-gram (k = 1, max-over-time pooling); for a DCNN the words are those of the windows
its first dynamic k-max layer kept. A model without a k-max layer shows no kept n-grams and says so.
"""
from pathlib import Path

import numpy as np

from apps.text import APP
from shared.errors import UserError

TITLE = "Text"
MODELS = {"SST-2: negative / positive": "text_sst2.keras",
          "SST-5: very negative ... very positive": "text_sst5.keras"}
ARCHITECTURES = {
    "kim": "Kim's CNN: the k-max pooling keeps each filter's strongest n-gram (k = 1, max over time)",
    "dcnn": "Kalchbrenner's DCNN: the windows its first dynamic k-max layer kept",
}


def available_models(models_dir):
    """{choice: path} of the MODELS present in `models_dir`."""
    return {choice: Path(models_dir) / name for choice, name in MODELS.items() if (Path(models_dir) / name).is_file()}


def has_kmax(model):
    """Whether any layer of the model (or of its ensemble members) is a k-max pooling."""
    from shared.ensemble import all_layers
    from shared.layers import KMaxPooling
    return any(isinstance(layer, KMaxPooling) for layer in all_layers(model))


def describe_pooling(model, meta):
    """One line on what the kept n-grams are for this model's architecture."""
    pre = meta["preprocessing"]
    if not has_kmax(model):
        return "This model has no k-max pooling layer: there are no kept n-grams to show."
    archs = pre.get("member_archs") if pre.get("arch") == "ensemble" else [pre.get("arch")]
    return "; ".join(dict.fromkeys(ARCHITECTURES.get(arch, f"{arch}: its k-max layers") for arch in archs or ["?"]))


def explain(model, meta, text):
    """A dict for one sentence: `probabilities` {class: p}, `label`, `for_against` [(word, score in
    -1..1)] (gradient x embedding, scaled by its largest magnitude: + for the label, - against),
    `kept` [(word, share 0..1)] and `ngrams` [(n-gram, weight)] from the k-max pooling (empty
    without a k-max layer); UserError for a sentence with no words."""
    from apps.text.predict import encode_texts
    from apps.text.visualize import word_saliency
    names = meta["preprocessing"]["class_names"]
    if not text or not text.strip():
        raise UserError("empty sentence: type a few words")
    (tokens,), (ids,) = encode_texts([text], meta)
    if not tokens:
        raise UserError(f"no words left in {text[:60]!r} after cleaning: type a sentence with words")
    probabilities = np.asarray(model(np.array([ids], np.int32), training=False))[0]
    _, evidence, class_index = word_saliency(model, ids)
    scale = float(np.abs(evidence).max()) or 1.0
    result = {"probabilities": {name: float(p) for name, p in zip(names, probabilities)},
              "label": names[class_index], "tokens": tokens,
              "for_against": [(token, round(float(v) / scale, 3)) for token, v in zip(tokens, evidence)],
              "unknown": int(sum(i == 1 for i in ids)), "kept": [], "ngrams": []}
    if has_kmax(model):
        from apps.text.visualize import kmax_word_scores
        kept, ngrams = kmax_word_scores(model, meta, tokens, ids)
        top = float(kept.max()) or 1.0
        result["kept"] = [(token, round(float(v) / top, 3)) for token, v in zip(tokens, kept)]
        result["ngrams"] = ngrams
    return result


def spaced(pairs):
    """[(word, score)] with a space between the words, as gr.HighlightedText shows them."""
    out = []
    for index, (token, score) in enumerate(pairs):
        if index:
            out.append((" ", None))
        out.append((token, score))
    return out


def summary(result, pooling):
    """Markdown under the label: unknown words, the kept n-grams, what they are for this model."""
    lines = []
    if result["unknown"] == len(result["tokens"]):
        lines.append("**None of the words is in the model's vocabulary**: the label says nothing about them.")
    elif result["unknown"]:
        lines.append(f"{result['unknown']} of {len(result['tokens'])} words are not in the model's vocabulary "
                     f"(read as unknown).")
    if result["ngrams"]:
        lines.append("**Kept n-grams** (weight): " + "; ".join(f"\"{g}\" {w:.1f}" for g, w in result["ngrams"]))
    lines.append(f"_{pooling}._")
    return "\n\n".join(lines)


def panel(models_dir):
    """The Text tab: a sentence, model choice, label, words for and against, k-max selections."""
    import gradio as gr

    from shared import serve

    choices = available_models(models_dir)
    if not choices:
        gr.Markdown(serve.missing_models_note(models_dir, list(MODELS.values()), "python run.py text train"),
                    elem_id="text-message")
        return
    with gr.Row():
        with gr.Column():
            sentence = gr.Textbox(label="A sentence (a movie-review snippet works best)", lines=2,
                                  placeholder="a gorgeous, witty, seductive movie", elem_id="text-sentence")
            model_choice = gr.Radio(list(choices), value=next(iter(choices)), label="Model", elem_id="text-model")
            button = gr.Button("Classify", variant="primary", elem_id="text-classify")
            message = gr.Markdown(elem_id="text-message")
        with gr.Column():
            label = gr.Label(label="Sentiment", elem_id="text-label")
    for_against = gr.HighlightedText(label="Words for (red) and against (purple) the label: gradient x embedding",
                                     elem_id="text-words")
    kept = gr.HighlightedText(label="What the k-max pooling kept: each word's share", elem_id="text-kept")

    def run(text, choice):
        if choice not in choices:
            raise UserError(f"model {choice!r}: not among {', '.join(choices)}")
        model, meta = serve.cached_model(choices[choice], APP)
        result = explain(model, meta, text)
        return (result["probabilities"], spaced(result["for_against"]), spaced(result["kept"]),
                summary(result, describe_pooling(model, meta)))

    handler = serve.report_errors(run, 4)
    outputs = [label, for_against, kept, message]
    button.click(handler, [sentence, model_choice], outputs)
    sentence.submit(handler, [sentence, model_choice], outputs)
