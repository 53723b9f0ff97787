"""`python run.py text ...`: DCNN and Kim's CNN on SST, TREC, MR, Subj, CR, MPQA.

    python run.py text train --task sst2 --arch kim --embedding glove --mode multichannel --out runs/sst2
    python run.py text evaluate --model models/text_sst2.keras --data stsa.binary.dev --json
    python run.py text predict --model models/text_sst2.keras "a gorgeous , witty film"
    python run.py text crossval --task mr --arch kim --json
    python run.py text ensemble runs/sst5_kim/model.keras runs/sst5_dcnn/model.keras --out runs/sst5_ensemble.keras
    python run.py text visualize --model models/text_sst2.keras --out viz/ --text "a gorgeous , witty film"
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from shared import cli as common
from shared.errors import UserError

APP = "text"
MAX_WORDS = 1000  # longer documents are cut (with a note); sentence models see ~50 words


def register(subparsers):
    from apps.text.data import TASKS
    from apps.text.models import ARCHITECTURES, EMBEDDINGS

    def model_args(parser):
        parser.add_argument("--task", choices=list(TASKS), default="sst2")
        parser.add_argument("--arch", choices=ARCHITECTURES, default="kim")
        parser.add_argument("--embedding", default="glove",
                            help="glove (GloVe 6B 50d), word2vec (trained on the training text), rand, "
                                 "or a word2vec/GloVe vectors file (default: %(default)s)")
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
        parser.add_argument("--init-model", metavar="MODEL",
                            help="start from this model's weights: of the same task (same options and "
                                 "vocabulary), e.g. to train a finished run further with a fresh optimizer; or "
                                 "of another task (transfer, e.g. from --task reviews): its word vectors for "
                                 "the words both vocabularies hold and its layers of the same name and shapes")

    train = subparsers.add_parser("train", help="train a sentence classifier", description=train_model.__doc__)
    model_args(train)
    common.add_data_dir(train)
    common.add_training_args(train, epochs=10, batch_size=50, learning_rate=1e-3, out="runs/text")
    train.set_defaults(func=train_model)

    evaluate = subparsers.add_parser("evaluate", help="accuracy on a labelled file",
                                     description=evaluate_model.__doc__)
    common.add_evaluate_args(evaluate, "`LABEL text` lines (stsa.*, *.all) or SST PTB trees")
    evaluate.set_defaults(func=evaluate_model)

    predict = subparsers.add_parser("predict", help="classify texts; show the words the pooling kept",
                                    description=predict_texts.__doc__)
    predict.add_argument("--model", required=True)
    predict.add_argument("texts", nargs="+", help="texts to classify; '-' reads one text per line from stdin")
    predict.add_argument("--json", action="store_true", help="one JSON object per text")
    predict.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    predict.set_defaults(func=predict_texts)

    common.add_ensemble_parser(subparsers, ensemble_models, "of the same task, cleaning rule and vocabulary")

    collapse = subparsers.add_parser("collapse", help="an SST-5 model (or ensemble) as an SST-2 model",
                                     description=collapse_model.__doc__)
    collapse.add_argument("--model", required=True, help="a model of --task sst5 (or an ensemble of them)")
    collapse.add_argument("--out", required=True, help="the SST-2 .keras file to write")
    collapse.set_defaults(func=collapse_model)

    crossval = subparsers.add_parser("crossval", help="10-fold CV (MR, Subj, CR, MPQA) or TREC's test split",
                                     description=crossval_task.__doc__)
    model_args(crossval)
    crossval.add_argument("--folds", type=int, default=10)
    crossval.add_argument("--run-folds", type=int, default=None,
                          help="run only the first N of the folds (quick estimates; reported as such)")
    crossval.add_argument("--json", action="store_true")
    common.add_data_dir(crossval)
    common.add_training_args(crossval, epochs=6, batch_size=50, learning_rate=1e-3, out="runs/text_cv")
    crossval.set_defaults(func=crossval_task)

    from apps.text import visualize
    show = subparsers.add_parser("visualize", help="word-level saliency and k-max selections (PNG + terminal)",
                                 description=visualize.run.__doc__)
    visualize.add_arguments(show)
    show.set_defaults(func=visualize.run)


# ------------------------------------------------------------------ training
def _optimizer(name, learning_rate, decay_steps=None):
    """Adam (default), Kim's Adadelta or Kalchbrenner's Adagrad; with `decay_steps`, the
    learning rate follows a cosine from `learning_rate` to 0 over that many steps."""
    import keras
    if decay_steps:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    if name == "adadelta":  # Kim 2014: Adadelta, rho 0.95
        return keras.optimizers.Adadelta(learning_rate, rho=0.95, epsilon=1e-6)
    if name == "adagrad":  # Kalchbrenner et al. 2014
        return keras.optimizers.Adagrad(learning_rate)
    return keras.optimizers.Adam(learning_rate)


def prepare(args, train_texts, task):
    """Tokens, vocabulary (training words + frequent pretrained words) and embedding matrix."""
    from apps.text import embeddings
    from apps.text.data import TASKS, tokenize_all
    from apps.text.tokenize import Vocabulary
    rule = TASKS[task]["rule"]
    tokens = tokenize_all(train_texts, rule)
    kv = embeddings.get_vectors(args.embedding, tokens, seed=args.seed)
    # Cased rules (TREC) get the lower-case pretrained words too: an unseen capitalised
    # word is encoded as its lower-case form (Vocabulary.encode), so it needs to be there.
    extra = embeddings.frequent_pretrained_words(kv, args.extra_words)
    vocab = Vocabulary.from_texts(tokens, extra_words=extra)
    matrix, found = embeddings.embedding_matrix(vocab, kv, seed=args.seed)
    if args.lexicon == "vader":
        matrix = np.concatenate([matrix, embeddings.lexicon_columns(vocab)], axis=1)
    return rule, vocab, matrix, found


def build(args, vocab_size, num_classes, matrix):
    from apps.text.models import build_model
    mode = "rand" if args.embedding == "rand" else args.mode
    options = dict(dropout=args.dropout, word_dropout=getattr(args, "word_dropout", 0.0))
    if args.arch == "kim":
        options.update(maps=getattr(args, "maps", 100), widths=tuple(getattr(args, "widths", (3, 4, 5))))
    return build_model(args.arch, vocab_size, num_classes, dim=matrix.shape[1], mode=mode,
                       weights=None if mode == "rand" else matrix, **options)


def _saver(task, classes, rule, vocab, arch):
    from shared.modelio import save_model

    def save(model, path, config=None):
        return save_model(model, path, app=APP, config=config,
                          preprocessing={"task": task, "class_names": classes, "rule": rule, "arch": arch,
                                         "max_words": MAX_WORDS, "vocabulary": vocab.words})
    return save


def init_weights(model, path, task, vocab):
    """Warm start from a model of this app. Same task: every weight is copied; the vocabulary
    and every weight shape must match, else UserError. Another task (transfer, e.g. from a
    `--task reviews` pretraining run): each word embedding of a word both vocabularies hold, and
    every other layer of the same name and shapes (the convolutions; the classifier too when the
    class counts agree); the rest keeps its fresh initialisation."""
    from apps.text.models import EMBEDDING_LAYERS
    from shared.modelio import copy_layers, copy_weights, load_model, read_metadata

    theirs = read_metadata(path)["preprocessing"]  # the metadata alone: the model file is loaded once below
    if theirs.get("task") == task:
        if theirs.get("vocabulary") != vocab.words:
            raise UserError(f"{path}: its vocabulary differs from this run's ({len(theirs.get('vocabulary', []))} "
                            f"vs {len(vocab)} words): use the options and data it was trained with")
        copy_weights(model, path, APP, "--arch, --mode, --maps, --widths")
        return
    source, _ = load_model(path, app=APP)
    ours = {layer.name for layer in model.layers}
    copied, fresh = copy_layers(model, source, prefixes=sorted(ours - set(EMBEDDING_LAYERS)), where=path)
    index = {word: i for i, word in enumerate(theirs["vocabulary"])}
    rows = np.array([(i, index[w]) for i, w in enumerate(vocab.words) if w in index], dtype=int).reshape(-1, 2).T
    source_layers = {layer.name: layer for layer in source.layers}
    for name in EMBEDDING_LAYERS:
        if name not in source_layers or name not in ours:
            continue
        table, source_table = model.get_layer(name).get_weights()[0], source_layers[name].get_weights()[0]
        if table.shape[1] != source_table.shape[1]:
            raise UserError(f"{path}: its {name} vectors have {source_table.shape[1]} dimensions, this run's "
                            f"{table.shape[1]} (same --embedding and --lexicon)")
        table[rows[0]] = source_table[rows[1]]
        model.get_layer(name).set_weights([table])
        copied.append(f"{name} ({rows.shape[1]} of {len(vocab)} words)")
    print(f"init from {path} (a {theirs.get('task')} model): {', '.join(copied)}; "
          f"fresh: {', '.join(n for n in fresh if n not in EMBEDDING_LAYERS) or 'none'}", flush=True)


def train_once(args, task, train, dev, out_dir, verbose="auto"):
    """Train one model on (texts, labels) `train`, choosing the epoch on `dev`; returns (metrics, vocab, rule)."""
    from apps.text.data import TASKS, batches, tokenize_all
    from shared import training

    training.set_seed(args.seed)
    training.set_precision(getattr(args, "mixed_bfloat16", False))
    texts, labels = train
    if args.limit:
        texts, labels = texts[:args.limit], labels[:args.limit]
    classes = TASKS[task]["classes"]
    rule, vocab, matrix, found = prepare(args, texts, task)
    model = build(args, len(vocab), len(classes), matrix)
    if getattr(args, "init_model", None):
        init_weights(model, args.init_model, task, vocab)
    cosine = getattr(args, "lr_decay", "constant") == "cosine"
    decay_steps = args.epochs * -(-len(texts) // args.batch_size) if cosine else None
    model.compile(optimizer=_optimizer(args.optimizer, args.learning_rate, decay_steps),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train_ids = [vocab.encode(t) for t in tokenize_all(texts, rule)]
    dev_ids = [vocab.encode(t) for t in tokenize_all(dev[0], rule)]
    config = common.training_config(args, task=task, train_examples=len(texts), dev_examples=len(dev[0]),
                                    vocabulary=len(vocab), pretrained_coverage=round(found, 4),
                                    parameters=model.count_params())
    save = _saver(task, classes, rule, vocab, args.arch)
    metrics = training.fit(
        model, batches(train_ids, labels, args.batch_size, shuffle=True, seed=args.seed),
        batches(dev_ids, dev[1], 256), out_dir=out_dir, epochs=args.epochs, config=config,
        save=lambda m, p: save(m, p, config), resume=getattr(args, "resume", False), patience=args.patience,
        time_budget_s=args.time_budget and args.time_budget * 60, verbose=verbose)
    return metrics, vocab, rule


def train_model(args):
    """Train DCNN or Kim's CNN. SST: all phrases of the training trees, epoch chosen on
    the dev sentences. TREC: dev carved from train. (MR, Subj, CR, MPQA: use crossval.)
    Writes model.keras (best dev epoch), config.json, metrics.json, log.csv to --out."""
    from apps.text.data import load_task
    splits = load_task(args.task, args.data_dir, seed=args.seed)
    train = splits["train_sentences"] if args.no_phrases and "train_sentences" in splits else splits["train"]
    metrics, _, _ = train_once(args, args.task, train, splits["dev"], args.out)
    print(f"best val_accuracy {metrics['best_val_accuracy']:.4f} at epoch {metrics['best_epoch']}; "
          f"model: {metrics['model']}")
    return 0


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
    merged = keras.Model(model.inputs, MergeClasses(groups, name="sst2_from_sst5")(model.outputs[0]),
                         name=f"{model.name}_sst2")
    save_model(merged, args.out, app=APP, config={"command": "collapse", "source": str(args.model),
                                                  "source_config": meta.get("config", {})},
               preprocessing={**pre, "task": "sst2", "class_names": SST2_CLASSES, "class_groups": groups})
    print(f"wrote {args.out}: {args.model} answering SST-2 (negative = classes {groups[0]}, positive = {groups[1]})")
    return 0


# ------------------------------------------------------------------ inference
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


def _warn_if_only_binary_labels(path, labels, pre):
    """0/1 labels are valid for a 5-class model too, so a binary file would be scored without an error."""
    classes = len(pre["class_names"])
    if classes > 2 and len(labels) >= 20 and set(labels.tolist()) <= {0, 1}:
        print(f"warning: every label in {path} is 0 or 1, but this model has {classes} classes: "
              f"is it a binary file (e.g. stsa.binary.*) given to a {pre['task']} model?", file=sys.stderr)


def evaluate_model(args):
    """Accuracy of a model on a file in its dataset's format: `LABEL text` lines
    (Kim's stsa.* / *.all) or SST PTB trees (sentence labels; SST-2 drops neutral)."""
    from apps.text.data import read_eval_file
    from shared.evaluation import classification_metrics, report_evaluation
    from shared.modelio import load_model

    model, meta = load_model(args.model, app=APP)
    pre = meta["preprocessing"]
    texts, labels = read_eval_file(args.data, pre["task"], len(pre["class_names"]))
    _warn_if_only_binary_labels(args.data, labels, pre)
    _, ids = encode_texts(texts, meta)
    probs = predict_probabilities(model, ids, args.batch_size)
    metrics = classification_metrics(labels, probs, pre["class_names"])
    unknown = sum(i == 1 for seq in ids for i in seq) / max(1, sum(len(seq) for seq in ids))
    metrics.update(model=str(args.model), data=str(args.data), task=pre["task"], unknown_word_rate=round(unknown, 4))
    return report_evaluation(args, metrics, labels, probs, pre["class_names"],
                             title=f"{Path(args.model).name} on {Path(args.data).name}")


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


# ------------------------------------------------------------------ benchmarks
def crossval_task(args):
    """Score a configuration by the paper's protocol: 10-fold CV for MR, Subj, CR,
    MPQA (a tenth of each fold's training part is the dev set that picks the
    epoch); the standard test split for TREC (dev carved from train). Prints the
    mean accuracy (JSON with --json)."""
    import tensorflow as tf

    from apps.text.data import TASKS, cv_folds, load_pool, load_task
    from shared.evaluation import print_json_line
    from shared.modelio import load_model
    from shared.training import write_json

    spec = TASKS[args.task]
    started = time.time()
    results = []
    if spec["protocol"] == "test":
        splits = load_task(args.task, args.data_dir, seed=args.seed)
        runs = [(splits["train"], splits["dev"], splits["test"])]
    elif spec["protocol"] == "cv":
        texts, labels = load_pool(args.task, args.data_dir)
        runs = []
        folds = cv_folds(labels, args.folds, args.seed)[:args.run_folds or args.folds]
        for train_idx, test_idx in folds:
            rng = np.random.default_rng(args.seed)
            train_idx = rng.permutation(train_idx)
            n_dev = len(train_idx) // 10
            pick = lambda idx: ([texts[i] for i in idx], labels[idx])  # noqa: E731
            runs.append((pick(train_idx[n_dev:]), pick(train_idx[:n_dev]), pick(test_idx)))
    else:
        raise UserError(f"{args.task} has a fixed dev set: use `run.py text train` and `evaluate`")
    if args.resume:
        results, seconds_before = _finished_folds(args)
        started -= seconds_before
    for number, (train, dev, test) in enumerate(runs, 1):
        if number <= len(results):
            continue
        out = Path(args.out) / f"fold{number}"
        # --resume also continues the fold that was stopped mid-training (it has a checkpoint).
        fold_args = argparse.Namespace(**{**vars(args), "resume": args.resume and (out / "backup").is_dir()})
        metrics, vocab, rule = train_once(fold_args, args.task, train, dev, out, verbose=0)
        model, meta = load_model(out / "model.keras", app=APP)
        _, ids = encode_texts(test[0], meta)
        accuracy = float((predict_probabilities(model, ids).argmax(1) == test[1]).mean())
        results.append({"fold": number, "test_accuracy": accuracy, "dev_accuracy": metrics["best_val_accuracy"],
                        "best_epoch": metrics["best_epoch"], "n_test": len(test[1])})
        print(f"{args.task} {args.arch} fold {number}/{len(runs)}: test accuracy {accuracy:.4f}", file=sys.stderr)
        # Written after every fold, so a run stopped early still reports the folds it finished.
        write_json(Path(args.out) / "crossval.json", crossval_summary(args, results, spec, started))
        tf.keras.backend.clear_session()
    summary = crossval_summary(args, results, spec, started)
    print(f"{args.task} {args.arch}: accuracy {summary['accuracy']:.4f} ({summary['protocol']})")
    if args.json:
        print_json_line(summary)
    return 0


def _finished_folds(args):
    """(folds, seconds) a stopped `crossval` in --out finished, checked to be of the same configuration:
    every option in the first fold's config.json (else the ones crossval.json records) must be unchanged."""
    path = Path(args.out) / "crossval.json"
    if not path.exists():
        return [], 0.0
    previous = json.loads(path.read_text())
    fold_config = Path(args.out) / "fold1" / "config.json"
    source, used = (fold_config, json.loads(fold_config.read_text())) if fold_config.exists() else (path, previous)
    common.check_same_options(args, used, source, ignore={"run_folds"})
    folds = previous["folds"]
    print(f"resuming: {len(folds)} fold(s) already finished in {path}", file=sys.stderr)
    return folds, previous.get("seconds", 0.0)


def crossval_summary(args, results, spec, started):
    """The crossval.json record: mean and standard deviation of the finished folds' test accuracies."""
    protocol = "test split" if spec["protocol"] == "test" else f"{len(results)} of {args.folds} CV folds"
    accuracies = [r["test_accuracy"] for r in results]
    return {"task": args.task, "arch": args.arch, "embedding": args.embedding, "mode": args.mode,
            "protocol": protocol, "accuracy": float(np.mean(accuracies)), "std": float(np.std(accuracies)),
            "n": int(sum(r["n_test"] for r in results)), "folds": results, "epochs": args.epochs,
            "patience": args.patience, "seconds": round(time.time() - started, 1)}


# ------------------------------------------------------------------ demo
DEMO_SENTENCES = ["a gorgeous , witty , seductive movie .",
                  "the plot is nothing but boilerplate clichés from start to finish .",
                  "it is not a bad film , just a forgettable one ."]


def demo(out_dir, minutes, data_dir):
    """Train a Kim CNN (GloVe 50d, two channels) on SST-2 training sentences for
    `minutes`, evaluate on the SST-2 dev sentences, show which n-grams decided
    a few example sentences, and return the report section."""

    from shared.plots import pyplot, save_figure
    plt = pyplot()

    from apps.text.data import load_task
    from shared.evaluation import classification_metrics, confusion_matrix_png
    from shared.modelio import load_model

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    args = argparse.Namespace(task="sst2", arch="kim", embedding="glove", mode="multichannel", lexicon="none",
                              extra_words=20000, optimizer="adam", dropout=0.5, data_dir=data_dir,
                              out=str(out_dir / "run"), epochs=20,
                              batch_size=50, learning_rate=1e-3, seed=1234, patience=None, resume=False,
                              time_budget=minutes, mixed_bfloat16=False, limit=None, no_phrases=True)
    started = time.time()
    splits = load_task("sst2", data_dir)
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
    from apps.text.visualize import demo_gallery
    gallery = demo_gallery(out_dir / "run" / "model.keras", DEMO_SENTENCES, out_dir / "viz")
    return (f"## text: SST-2\n\nKim's CNN (filters 3, 4, 5 x 100, GloVe 50d in a static and a fine-tuned "
            f"channel) trained for {(time.time() - started) / 60:.1f} min on the 6,920 SST-2 training "
            f"sentences (the shipped model also uses all phrases). Dev accuracy: **{metrics['accuracy']:.4f}** "
            f"(n={metrics['n']}).\n\n| sentence | prediction | n-grams the max pooling kept most |\n|---|---|---|\n"
            + "\n".join(rows) +
            "\n\n![confusion](text/confusion.png)\n\n![selections](text/selections.png)\n\n" + gallery + "\n")
