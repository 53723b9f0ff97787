"""`run.py go train`: the policy network on prepared KGS records.

Data: `GameRecords` replays the prepared games and featurizes positions on
the fly (random one-of-8 symmetry per example); `--input-workers` generators
over disjoint game shards run in parallel tf.data threads. `--input packed`
reads the bit-packed planes written by `go pack` instead, unpacked and
symmetrized in the graph (apps/go/packed.py): many times faster, for GPUs. Validation is a
fixed random sample of positions from the validation games.

Schedules:
* `modern` (default): AdamW, 2% linear warm-up then cosine decay to zero over
  the whole run, batch 64.
* `paper`: AlphaGo's plain SGD (no momentum), learning rate 0.003 halved every
  `--halve-every` steps (80M in the paper), batch 16.

An "epoch" is `--steps-per-epoch` steps of the endless shuffled stream: the
unit of checkpoints, validation and `--resume`.
"""
import time

import numpy as np

from apps.go import SCHEDULES, models
from apps.go.prepare import GameRecords
from shared import cli as common
from shared.errors import UserError

APP = "go"


def make_optimizer(schedule, learning_rate, total_steps, halve_every):
    import keras
    if schedule == "paper":
        rate = keras.optimizers.schedules.ExponentialDecay(learning_rate, halve_every, 0.5, staircase=True)
        return keras.optimizers.SGD(rate, momentum=0.0)
    warmup = max(1, total_steps // 50)
    rate = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=max(1, total_steps - warmup),
                                                  warmup_target=learning_rate, warmup_steps=warmup)
    return keras.optimizers.AdamW(rate, weight_decay=1e-4)


def compile_policy(model, optimizer):
    import keras
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5")])


def training_dataset(records, batch_size, seed, workers):
    import tensorflow as tf
    dataset = records.tf_dataset(workers=workers, seed=seed, random_symmetry=True, repeat=True)
    return (dataset.batch(batch_size, drop_remainder=True)
            .map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def input_rate(dataset, positions, batch_size):
    """Positions per second the input pipeline delivers (after a warm-up batch)."""
    iterator = iter(dataset)
    next(iterator)
    batches = max(1, positions // batch_size)
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - started)


class StepRate:
    """Keras callback: training positions per second, excluding validation and saving."""

    def __new__(cls, batch_size):
        import keras

        class _StepRate(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seconds, self.steps = 0.0, 0

            def on_train_batch_begin(self, batch, logs=None):
                self._started = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                if batch > 0:  # the first step of each epoch includes tracing / iterator start
                    self.seconds += time.perf_counter() - self._started
                    self.steps += 1

            def rate(self):
                return self.steps * batch_size / self.seconds if self.seconds else None
        return _StepRate()


def save_function(config):
    from shared.modelio import save_model

    def save(model, path):
        return save_model(model, path, app=APP, config=config,
                          preprocessing={"features": "alphago48", "board_size": int(model.input_shape[1])})
    return save


def _epochs_done(out):
    from pathlib import Path
    log = Path(out) / "log.csv"
    return max(0, len(log.read_text().splitlines()) - 1) if log.exists() else 0


def _training_sources(data, train_records):
    """What `go evaluate` needs to tell training games from others: the sources of the
    training games and the fraction the prepared folder split off for validation."""
    import json
    from pathlib import Path
    summary = json.loads((Path(data) / "summary.json").read_text())
    sources = sorted({name.split("/", 1)[0] for name in train_records.game_names()})
    return {"train_sources": sources, "val_fraction": summary["val_fraction"]}


def policy_head(model):
    """The head of a policy network (apps/go/models.py): its last convolution, to one plane, and
    the per-point biases; every layer before them extracts features."""
    names = [layer.name for layer in model.layers]  # a functional model lists its layers in graph order
    last_conv = next(layer.name for layer in reversed(model.layers[:names.index("point_bias")])
                     if layer.get_weights())
    return (last_conv, "point_bias")


def train(args):
    """Train the policy network; writes model.keras (best validation top-1), logs and metrics to --out."""
    from shared import training, transfer

    transfer.check_options(args.init_model, args.freeze)
    num_layers, filters = models.preset_shape(args.preset, args.layers, args.filters)
    batch_size = args.batch_size or SCHEDULES[args.schedule][0]
    learning_rate = args.learning_rate or SCHEDULES[args.schedule][1]
    for name in ("epochs", "steps_per_epoch", "val_positions", "input_workers"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    training.set_seed(args.seed)
    training.set_precision(args.mixed_bfloat16)
    train_records = GameRecords(args.data, "train", exclude_games=args.exclude_games)
    val_records = GameRecords(args.data, "validation", exclude_games=args.exclude_games)
    if args.limit:
        train_records._games = train_records._games[:args.limit]  # first N games: quick runs and tests
    if len(train_records) == 0 or len(val_records) == 0:
        raise UserError(f"{args.data}: needs training and validation games "
                        f"(has {len(train_records)} / {len(val_records)})")
    # A resumed run continues the data stream with a new seed instead of replaying the same positions.
    data_seed = args.seed + (_epochs_done(args.out) if args.resume else 0)
    packed_input = getattr(args, "input", "replay") == "packed"
    if packed_input:
        from apps.go import packed
        if args.limit:
            raise UserError("--limit selects games to replay: not with --input packed")
        files = packed.packed_files(args.data, "train", args.exclude_games)

        def worker_dataset(worker, workers):
            """This worker's part of every global batch, from its share of the packed files."""
            return packed.packed_dataset(files, batch_size // workers, seed=data_seed + worker, worker=worker,
                                         workers=workers)
    val_x, val_y = val_records.sample(args.val_positions, seed=args.seed)
    val_ds = (val_x.astype(np.float32), val_y)

    with training.distribution(args.distribute) as strategy:  # before any TensorFlow op: collectives need it
        train_ds = (worker_dataset(0, 1) if packed_input
                    else training_dataset(train_records, batch_size, data_seed, args.input_workers))
        model = models.build_policy(num_layers, filters, arch=args.arch)
        if args.init_model:
            from shared.modelio import copy_weights
            copy_weights(model, args.init_model, APP, "--arch, --preset, --layers, --filters")
            frozen = transfer.freeze(model, args.freeze, head=policy_head(model))
            print(transfer.describe(model, args.freeze, frozen), flush=True)
        total_steps = args.epochs * args.steps_per_epoch
        compile_policy(model, make_optimizer(args.schedule, learning_rate, total_steps, args.halve_every))

    pipeline_rate = input_rate(train_ds, args.measure_positions, batch_size)
    print(f"input pipeline: {pipeline_rate:.0f} positions/s ("
          + ("packed planes" if packed_input else f"{args.input_workers} worker(s)")
          + ")", flush=True)
    config = common.training_config(args, layers=num_layers, filters=filters, batch_size=batch_size,
                                    learning_rate=learning_rate, parameters=model.count_params(),
                                    train_games=len(train_records), validation_games=len(val_records),
                                    data_seed=data_seed, **_training_sources(args.data, train_records))
    rate = StepRate(batch_size)
    options = dict(out_dir=args.out, epochs=args.epochs, config=config, save=save_function(config),
                   resume=args.resume, patience=args.patience, time_budget_s=args.time_budget and args.time_budget * 60,
                   steps_per_epoch=args.steps_per_epoch)
    if training.needs_custom_loop(strategy):
        with strategy.scope():
            metrics = training.distributed_fit(model, worker_dataset if packed_input else train_ds, val_ds,
                                               strategy=strategy,
                                               batch_size=batch_size, seed=data_seed, **options)
    else:
        with strategy.scope():
            metrics = training.fit(model, train_ds, val_ds, callbacks=[rate], validation_batch_size=256,
                                   verbose=2 if args.quiet else "auto", **options)
    # Every epoch of this run and of the runs it resumed is a row of log.csv.
    from shared.distribute import is_chief
    steps_done = _epochs_done(args.out) * args.steps_per_epoch
    metrics.update(input_positions_per_s=round(pipeline_rate, 1),
                   train_positions_per_s=metrics.get("train_examples_per_s") or (rate.rate() and round(rate.rate(), 1)),
                   positions_seen_total=steps_done * batch_size)
    if is_chief(strategy):  # the other workers of a multi-worker run write nothing in the run folder
        training.write_json(f"{args.out}/metrics.json", metrics)
    best = metrics["best_val_accuracy"]
    print(f"input pipeline {pipeline_rate:.0f} positions/s; training {metrics['train_positions_per_s'] or '-'} "
          f"positions/s; positions seen {metrics['positions_seen_total']}; best val top-1 "
          f"{'-' if best is None else f'{best:.4f}'} at epoch {metrics['best_epoch']}; model: {metrics['model']}")
    if rate.rate() and pipeline_rate < rate.rate():
        print(f"warning: the input pipeline ({pipeline_rate:.0f}/s) is slower than training "
              f"({rate.rate():.0f}/s); raise --input-workers")
    return 0
