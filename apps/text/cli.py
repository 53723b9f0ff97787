"""`python run.py text ...`: DCNN and Kim's CNN on SST, TREC, MR, Subj, CR, MPQA.

    python run.py text train --task sst2 --arch kim --embedding glove --mode multichannel --out runs/sst2
    python run.py text evaluate --model models/text_sst2.keras --data stsa.binary.dev --json
    python run.py text predict --model models/text_sst2.keras "a gorgeous , witty film"
    python run.py text crossval --task mr --arch kim --json
    python run.py text ensemble runs/sst5_kim/model.keras runs/sst5_dcnn/model.keras --out runs/sst5_ensemble.keras
    python run.py text visualize --model models/text_sst2.keras --out viz/ --text "a gorgeous , witty film"
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from apps.text import APP
from shared import cli as common
from shared.errors import UserError


def register(subparsers):
    from apps.text import ARCHITECTURES, EMBEDDINGS
    from apps.text.data import TASKS

    def model_args(parser):
        parser.add_argument("--task", choices=list(TASKS), default="sst2")
        parser.add_argument("--arch", choices=ARCHITECTURES, default="kim")
        parser.add_argument("--embedding", default="glove",
                            help="glove (GloVe 6B 50d, installed with the requirements), word2vec (trained "
                                 "on the training text), rand, a vectors file (word2vec/GloVe format), or a "
                                 "name fetched through the data registry: glove-6b-50d|100d|200d|300d, "
                                 "glove-840b-300d, word2vec-google-news-300 (Kim's) (default: %(default)s)")
        parser.add_argument("--lexicon", choices=["none", "vader"], default="none",
                            help="vader: append each word's VADER sentiment valence to its embedding "
                                 "(two columns, positive and negative; default: %(default)s)")
        parser.add_argument("--mode", choices=EMBEDDINGS, default="multichannel",
                            help="rand/static/nonstatic/multichannel (default: %(default)s)")
        parser.add_argument("--extra-words", type=int, default=20000,
                            help="also give the model the N most frequent pretrained words not in the training "
                                 "data (frozen where static), for unseen words (default: %(default)s)")
        parser.add_argument("--optimizer", choices=["adam", "adadelta", "adagrad"], default="adam",
                            help="adadelta is Kim's (rho 0.95; give --learning-rate 1.0) (default: %(default)s)")
        parser.add_argument("--lr-decay", choices=["constant", "cosine"], default="constant",
                            help="cosine: decay the learning rate to 0 over --epochs (default: %(default)s, as Kim)")
        parser.add_argument("--dropout", type=float, default=0.5, help="before the softmax (default: %(default)s)")
        parser.add_argument("--word-dropout", type=float, default=0.0,
                            help="training: drop whole words' embeddings with this probability (default: off)")
        parser.add_argument("--maps", type=int, default=100, help="kim: feature maps per filter width "
                            "(default: %(default)s, Kim's)")
        parser.add_argument("--widths", type=int, nargs="+", default=[3, 4, 5],
                            help="kim: filter widths (default: 3 4 5, Kim's)")
        parser.add_argument("--no-phrases", action="store_true",
                            help="SST: train on the training sentences only, not on all phrases")
        common.add_transfer_args(parser, "start from this model's weights: of the same task (same options and "
                                 "vocabulary), e.g. to train a finished run further with a fresh optimizer; or "
                                 "of another task (transfer, e.g. from --task reviews): its word vectors for "
                                 "the words both vocabularies hold and its layers of the same name and shapes")

    train = subparsers.add_parser("train", help="train a sentence classifier", description=common.doc("apps.text.train:train_model"))
    model_args(train)
    common.add_data_dir(train)
    common.add_training_args(train, epochs=10, batch_size=50, learning_rate=1e-3, out="runs/text")
    common.add_distribute_arg(train)
    train.set_defaults(func=common.lazy("apps.text.train:train_model"))

    evaluate = subparsers.add_parser("evaluate", help="accuracy on a labelled file",
                                     description=evaluate_model.__doc__)
    common.add_evaluate_args(evaluate, "a file of `LABEL text` lines (stsa.*, *.all) or SST PTB trees; or 'dev', "
                             "'train' or 'test' for that split of the model's task, read from the dataset "
                             "(SST and TREC test: the published release, `data fetch text-sst`)")
    common.add_data_dir(evaluate)
    evaluate.set_defaults(func=evaluate_model)

    predict = subparsers.add_parser("predict", help="classify texts; show the words the pooling kept",
                                    description=common.doc("apps.text.predict:predict_texts"))
    predict.add_argument("--model", required=True)
    predict.add_argument("texts", nargs="+", help="texts to classify; '-' reads one text per line from stdin")
    predict.add_argument("--json", action="store_true", help="one JSON object per text")
    predict.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    predict.set_defaults(func=common.lazy("apps.text.predict:predict_texts"))

    common.add_ensemble_parser(subparsers, ensemble_models, "of the same task, cleaning rule and vocabulary")

    collapse = subparsers.add_parser("collapse", help="an SST-5 model (or ensemble) as an SST-2 model",
                                     description=collapse_model.__doc__)
    collapse.add_argument("--model", required=True, help="a model of --task sst5 (or an ensemble of them)")
    collapse.add_argument("--out", required=True, help="the SST-2 .keras file to write")
    collapse.set_defaults(func=collapse_model)

    crossval = subparsers.add_parser("crossval", help="10-fold CV (MR, Subj, CR, MPQA) or TREC's test split",
                                     description=common.doc("apps.text.crossval:crossval_task"))
    model_args(crossval)
    crossval.add_argument("--folds", type=int, default=10)
    crossval.add_argument("--run-folds", type=int, default=None,
                          help="run only the first N of the folds (quick estimates; reported as such)")
    crossval.add_argument("--json", action="store_true")
    common.add_data_dir(crossval)
    common.add_training_args(crossval, epochs=6, batch_size=50, learning_rate=1e-3, out="runs/text_cv")
    crossval.set_defaults(func=common.lazy("apps.text.crossval:crossval_task"))

    show = common.add_lazy_command(subparsers, "visualize", "apps.text.visualize:run",
                                   help="word-level saliency and k-max selections (PNG + terminal)")
    _add_visualize_arguments(show)


def _add_visualize_arguments(parser):
    """The options of `run.py text visualize`."""
    parser.add_argument("--model", required=True, help="a text model (.keras)")
    parser.add_argument("--out", required=True, help="folder for the PNGs")
    parser.add_argument("--text", action="append", help="a sentence to explain (repeatable; default: a few examples)")
    parser.add_argument("--saliency", action="store_true", help="word-level saliency and k-max selections (PNG + terminal)")
    parser.add_argument("--activations", action="store_true", help="feature maps of --layer for the first text")
    parser.add_argument("--layer", help="layer for --activations (default: the first convolution's ReLU; "
                             "of an ensemble, its first member's layers)")
    parser.add_argument("--class", dest="class_index", type=int, help="class to explain (default: predicted)")
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto")


def ensemble_models(args):
    """One model file whose prediction is the mean of the given models' class probabilities
    (e.g. Kim's CNN and the DCNN, or several seeds). The models must share the task, the
    cleaning rule and the vocabulary (train them with the same --task, --embedding and
    --extra-words). `evaluate`, `predict` and `visualize` take the result like any model."""
    from shared.ensemble import ensemble_files

    def preprocessing(metas):
        first = {k: v for k, v in metas[0]["preprocessing"].items() if k != "class_groups"}  # members merge
        return {**first, "arch": "ensemble", "member_archs": [meta["preprocessing"]["arch"] for meta in metas]}
    archs = ensemble_files(args.models, args.out, app=APP, same=("task", "rule", "class_names", "vocabulary"),
                           preprocessing=preprocessing)["member_archs"]
    print(f"wrote {args.out}: the mean of {len(archs)} models ({', '.join(archs)})")
    return 0


def collapse_model(args):
    """Write an SST-5 model as an SST-2 one: P(positive) is the probability of "positive" and
    "very positive" over the four non-neutral classes (`shared.layers.MergeClasses`). Why: a
    model trained on the five labels of all phrases, neutral ones included, learns from twice
    the phrases and from intensity; on SST-2 dev such models beat the ones trained on the
    binary labels (models/text_sst2.md). `evaluate`, `predict` and `visualize` take the result
    like any SST-2 model."""
    import keras

    from apps.text.data import SST2_CLASSES, sst2_groups
    from shared.layers import MergeClasses
    from shared.modelio import load_model, save_model

    model, meta = load_model(args.model, app=APP)
    pre = meta["preprocessing"]
    if pre.get("task") != "sst5":
        raise UserError(f"{args.model}: a model of task {pre.get('task')!r}; collapse takes an sst5 model")
    groups = sst2_groups()
    # the same input structure as the source model's (one tensor, not a list of one), so that
    # callers pass the ids alone as they do to any text model
    merged = keras.Model(model.input, MergeClasses(groups, name="sst2_from_sst5")(model.outputs[0]),
                         name=f"{model.name}_sst2")
    save_model(merged, args.out, app=APP, config={"command": "collapse", "source": str(args.model),
                                                  "source_config": meta.get("config", {})},
               preprocessing={**pre, "task": "sst2", "class_names": SST2_CLASSES, "class_groups": groups})
    print(f"wrote {args.out}: {args.model} answering SST-2 (negative = classes {groups[0]}, positive = {groups[1]})")
    return 0


def _warn_if_only_binary_labels(path, labels, pre):
    """0/1 labels are valid for a 5-class model too, so a binary file would be scored without an error."""
    classes = len(pre["class_names"])
    if classes > 2 and len(labels) >= 20 and set(labels.tolist()) <= {0, 1}:
        print(f"warning: every label in {path} is 0 or 1, but this model has {classes} classes: "
              f"is it a binary file (e.g. stsa.binary.*) given to a {pre['task']} model?", file=sys.stderr)


def evaluate_model(args):
    """Accuracy of a model on a file in its dataset's format: `LABEL text` lines
    (Kim's stsa.* / *.all) or SST PTB trees (sentence labels; SST-2 drops neutral),
    or on the dev, train or test split of its task. Warns when the sentences scored were
    among the model's training texts."""
    from apps.text.predict import encode_texts, predict_probabilities
    from apps.text.data import read_eval_file
    from apps.text.tokenize import tokenize
    from apps.text.train import training_texts
    from shared import overlap
    from shared.evaluation import classification_metrics, report_evaluation
    from shared.modelio import load_model

    model, meta = load_model(args.model, app=APP)
    pre = meta["preprocessing"]
    if args.data in ("dev", "train", "test"):  # the split of the task's data, found as training finds it
        from apps.text.data import TASKS, load_task
        splits = load_task(pre["task"], args.data_dir)
        if args.data == "test" and "test" not in splits:
            raise UserError(f"no {pre['task']} test split here: the staged copy holds none; the published "
                            f"release has it (`python run.py data fetch {TASKS[pre['task']]['dataset']}` "
                            f"with no local copy in --data-dir / $BEYOND_PIXELS_DATA)")
        texts, labels = splits.get("train_sentences", splits["train"]) if args.data == "train" else splits[args.data]
    else:
        texts, labels = read_eval_file(args.data, pre["task"], len(pre["class_names"]))
    _warn_if_only_binary_labels(args.data, labels, pre)
    _, ids = encode_texts(texts, meta)
    probs = predict_probabilities(model, ids, args.batch_size)
    metrics = classification_metrics(labels, probs, pre["class_names"])
    unknown = sum(i == 1 for seq in ids for i in seq) / max(1, sum(len(seq) for seq in ids))
    metrics.update(model=str(args.model), data=str(args.data), task=pre["task"], unknown_word_rate=round(unknown, 4))
    rule = pre["rule"]
    trained = training_texts(meta.get("config", {}), args.data_dir)
    metrics["overlap"] = overlap.warn(overlap.check("sentences", [tuple(tokenize(t, rule)) for t in texts], trained,
                                                    "the model's training data is not here to compare with"),
                                      args.model)
    return report_evaluation(args, metrics, labels, probs, pre["class_names"],
                             title=f"{Path(args.model).name} on {Path(args.data).name}")


# ------------------------------------------------------------------ demo
DEMO_SENTENCES = ["a gorgeous , witty , seductive movie .",
                  "the plot is nothing but boilerplate clichés from start to finish .",
                  "it is not a bad film , just a forgettable one ."]


def demo(out_dir, minutes, data_dir):
    """Train a Kim CNN (GloVe 50d, two channels) on SST-2 training sentences for
    `minutes`, evaluate on the SST-2 dev sentences, show which n-grams decided
    a few example sentences, and return the report section; where SST is not here, the
    shipped model on the example sentences instead."""
    from apps.text.predict import encode_texts, kmax_explainer, predict_probabilities
    from apps.text.train import train_once

    from shared.plots import pyplot, save_figure
    plt = pyplot()

    from apps.text.data import load_task
    from shared.evaluation import classification_metrics, confusion_matrix_png
    from shared.modelio import load_model

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        splits = load_task("sst2", data_dir)
    except UserError as missing:
        return _demo_without_data(out_dir, missing)
    args = common.parse_command(register, [
        "train", "--task", "sst2", "--arch", "kim", "--embedding", "glove", "--mode", "multichannel",
        "--no-phrases", "--out", out_dir / "run", "--epochs", 20, "--time-budget", minutes]
        + (["--data-dir", data_dir] if data_dir else []))
    started = time.time()
    train_once(args, "sst2", splits["train_sentences"], splits["dev"], args.out, verbose=0)
    model, meta = load_model(out_dir / "run" / "model.keras", app=APP)
    classes = meta["preprocessing"]["class_names"]
    texts, labels = splits["dev"]
    _, ids = encode_texts(texts, meta)
    probs = predict_probabilities(model, ids)
    metrics = classification_metrics(labels, probs, classes)
    confusion_matrix_png(labels, probs.argmax(1), classes, out_dir / "confusion.png",
                         title="SST-2 dev sentences (872)")
    explain = kmax_explainer(model, meta["preprocessing"])
    fig, axes = plt.subplots(len(DEMO_SENTENCES), 1, figsize=(10, 2.2 * len(DEMO_SENTENCES)))
    rows = []
    for ax, sentence in zip(np.atleast_1d(axes), DEMO_SENTENCES):
        tokens, (sentence_ids,) = encode_texts([sentence], meta)
        p, scores, ngrams = explain(tokens[0], sentence_ids)
        ax.bar(range(len(scores)), scores, color="tab:orange")
        ax.set_xticks(range(len(scores)), tokens[0], rotation=30, ha="right")
        ax.set_title(f"{classes[int(p.argmax())]} ({p.max():.2f})", fontsize=10)
        ax.set_ylabel("kept activation")
        rows.append(f"| {sentence} | {classes[int(p.argmax())]} {p.max():.2f} | "
                    f"{'; '.join(g for g, _ in ngrams)} |")
    save_figure(fig, out_dir / "selections.png")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    gallery = _demo_gallery(out_dir / "run" / "model.keras", DEMO_SENTENCES, out_dir / "viz")
    return (f"## text: SST-2\n\nKim's CNN (filters 3, 4, 5 x 100, GloVe 50d in a static and a fine-tuned "
            f"channel) trained for {(time.time() - started) / 60:.1f} min on the 6,920 SST-2 training "
            f"sentences (the shipped model also uses all phrases). Dev accuracy: **{metrics['accuracy']:.4f}** "
            f"(n={metrics['n']}).\n\n| sentence | prediction | n-grams the max pooling kept most |\n|---|---|---|\n"
            + "\n".join(rows) +
            "\n\n![confusion](text/confusion.png)\n\n![selections](text/selections.png)\n\n" + gallery + "\n")


def _demo_without_data(out_dir, missing):
    """The demo section where SST is not here: the shipped SST-2 model on the example sentences
    (label, probability, the n-grams its max pooling kept) and its standard pictures."""
    from apps.text.predict import encode_texts, kmax_explainer
    from shared import examples
    from shared.modelio import load_model
    model_path = examples.shipped_model("text_sst2.keras")
    model, meta = load_model(model_path, app=APP)
    classes = meta["preprocessing"]["class_names"]
    sentences = examples.path("sentences.txt").read_text().splitlines()
    explain = kmax_explainer(model, meta["preprocessing"])
    rows = []
    for sentence in sentences:
        tokens, (ids,) = encode_texts([sentence], meta)
        p, _, ngrams = explain(tokens[0], ids)
        rows.append(f"| {sentence} | {classes[int(p.argmax())]} {p.max():.2f} | {'; '.join(g for g, _ in ngrams)} |")
    gallery = _demo_gallery(model_path, sentences[:3], out_dir / "viz")
    return ("## text: SST-2\n\n" + examples.missing_data_note("text", missing, "text-sst")
            + "| sentence (`examples/sentences.txt`) | `models/text_sst2.keras` | n-grams the max pooling kept most |"
            "\n|---|---|---|\n" + "\n".join(rows) + "\n\n" + gallery + "\n")


def _demo_gallery(model_path, texts, viz_dir, link_prefix="text/viz/"):
    """The `visualize` standard set of the demo model on `texts`, as a Markdown gallery."""
    from apps.text import visualize
    from shared.visualize import gallery_markdown
    args = common.parse_command(register, ["visualize", "--model", model_path, "--out", viz_dir, "--color", "never"]
                                + [option for text in texts for option in ("--text", text)])
    visualize.run(args)
    return gallery_markdown(viz_dir, link_prefix, title="Which words decide")
