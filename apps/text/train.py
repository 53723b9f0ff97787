"""Training a sentence CNN: the vocabulary and embedding matrix of the training text, the model, the fit.

`train_model` is `python run.py text train`; `train_once` is also each fold of `text crossval`
(apps/text/crossval.py) and the run of `demo()`. The saved model carries its preprocessing
(task, cleaning rule, vocabulary) for `apps.text.predict`.
"""
import numpy as np

from apps.text import APP
from apps.text.predict import MAX_WORDS
from shared import cli as common
from shared.errors import UserError


def optimizer(name, learning_rate, decay_steps=None):
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
    kv = embeddings.get_vectors(args.embedding, tokens, seed=args.seed, data_dir=getattr(args, "data_dir", None))
    # Cased rules (TREC) get the lower-case pretrained words too: an unseen capitalised
    # word is encoded as its lower-case form (Vocabulary.encode), so it needs to be there.
    extra = embeddings.frequent_pretrained_words(kv, args.extra_words)
    vocab = Vocabulary.from_texts(tokens, extra_words=extra)
    matrix, found = embeddings.embedding_matrix(vocab, kv, seed=args.seed)
    if args.lexicon == "vader":
        matrix = np.concatenate([matrix, embeddings.lexicon_columns(vocab)], axis=1)
    return rule, vocab, matrix, found


def build(args, vocab_size, num_classes, matrix):
    """The model of the command line's --arch and options, its embeddings initialised from `matrix`."""
    from apps.text.models import build_model
    mode = "rand" if args.embedding == "rand" else args.mode
    options = dict(dropout=args.dropout, word_dropout=args.word_dropout)
    if args.arch == "kim":
        options.update(maps=args.maps, widths=tuple(args.widths))
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
    from shared import training, transfer

    transfer.check_options(args.init_model, args.freeze)
    training.set_seed(args.seed)
    training.set_precision(args.mixed_bfloat16)
    texts, labels = train
    if args.limit:
        texts, labels = texts[:args.limit], labels[:args.limit]
    classes = TASKS[task]["classes"]
    rule, vocab, matrix, found = prepare(args, texts, task)
    # `train` has --distribute, `crossval` does not; the model is built and trained under the strategy
    with training.distribution(getattr(args, "distribute", "none")) as strategy:
        model = build(args, len(vocab), len(classes), matrix)
        if args.init_model:
            init_weights(model, args.init_model, task, vocab)
            frozen = transfer.freeze(model, args.freeze)  # before compile: Keras reads `trainable` then
            print(transfer.describe(model, args.freeze, frozen), flush=True)
        cosine = args.lr_decay == "cosine"
        decay_steps = args.epochs * -(-len(texts) // args.batch_size) if cosine else None
        model.compile(optimizer=optimizer(args.optimizer, args.learning_rate, decay_steps),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        train_ids = [vocab.encode(t) for t in tokenize_all(texts, rule)]
        dev_ids = [vocab.encode(t) for t in tokenize_all(dev[0], rule)]
        config = common.training_config(args, task=task, train_examples=len(texts), dev_examples=len(dev[0]),
                                        vocabulary=len(vocab), pretrained_coverage=round(found, 4),
                                        parameters=model.count_params())
        save = _saver(task, classes, rule, vocab, args.arch)
        options = dict(out_dir=out_dir, epochs=args.epochs, config=config, save=lambda m, p: save(m, p, config),
                       resume=args.resume, patience=args.patience,
                       time_budget_s=args.time_budget and args.time_budget * 60)
        train_batches = batches(train_ids, labels, args.batch_size, shuffle=True, seed=args.seed)
        dev_batches = batches(dev_ids, dev[1], 256)
        if training.needs_custom_loop(strategy):  # sentences of any length, padded per global batch
            metrics = training.distributed_fit(model, train_batches, dev_batches, strategy=strategy,
                                               batch_size=args.batch_size, seed=args.seed, **options)
        else:
            metrics = training.fit(model, train_batches, dev_batches, verbose=verbose, **options)
    return metrics, vocab, rule


def train_model(args):
    """Train DCNN or Kim's CNN. SST: all phrases of the training trees, epoch chosen on
    the dev sentences. TREC: dev carved from train. (MR, Subj, CR, MPQA: use crossval.)
    Writes model.keras (best dev epoch), config.json, metrics.json, log.csv to --out."""
    from apps.text.data import load_task
    from shared.transfer import check_options
    check_options(args.init_model, args.freeze)  # before the data are read
    splits = load_task(args.task, args.data_dir, seed=args.seed)
    train = splits["train_sentences"] if args.no_phrases and "train_sentences" in splits else splits["train"]
    metrics, _, _ = train_once(args, args.task, train, splits["dev"], args.out)
    print(f"best val_accuracy {metrics['best_val_accuracy']:.4f} at epoch {metrics['best_epoch']}; "
          f"model: {metrics['model']}")
    return 0


def training_texts(config, data_dir=None):
    """The token sequences a text model was trained on (its task's training texts, phrases
    included unless --no-phrases; through `collapse` and --init-model, those of its sources
    too), as a set of tuples; None when its config does not say or the data is not here."""
    from apps.text.data import TASKS, load_task
    from apps.text.tokenize import tokenize
    from shared.modelio import read_metadata
    if config.get("command") == "collapse":
        return training_texts(config.get("source_config", {}), data_dir)
    task = config.get("task")
    if not task or config.get("command") != "train":
        return None
    try:
        splits = load_task(task, data_dir or config.get("data_dir"), seed=config.get("seed", 1234))
        texts = (splits["train_sentences"] if config.get("no_phrases") and "train_sentences" in splits
                 else splits["train"])[0]
        seen = {tuple(tokenize(text, TASKS[task]["rule"])) for text in texts}
        if config.get("init_model"):
            seen |= training_texts(read_metadata(config["init_model"])["config"], data_dir) or set()
    except (UserError, OSError):
        return None
    return seen
