"""Common training: seeded, checkpointed every epoch, resumable, logged.

`fit` wraps `keras.Model.fit` with the callbacks every app wants:

- `BackupAndRestore` in `<out>/backup/` saves the full training state (weights,
  optimizer, epoch) after every epoch; `resume=True` continues from it after a
  crash, Ctrl-C or a `time_budget_s` stop, with the same epoch numbering;
- `BestModel` keeps `<out>/model.keras` at the best validation epoch so far,
  written atomically by the app's `save` function (so the preprocessing
  settings travel with it);
- `EarlyStopping` (optional; a resumed run keeps its patience count), `CSVLogger` (`log.csv`), `TensorBoard`
  (`tensorboard/`), and an optional wall-clock budget;
- the full config as `config.json` before training, the metrics as
  `metrics.json` after.
"""
import contextlib
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import keras

from shared.errors import UserError


def clock():
    """Seconds on a monotonic clock: what time budgets are measured with (tests replace it)."""
    return time.monotonic()


def set_seed(seed):
    """Seed Python, NumPy and the backend; ops stay deterministic where TF allows."""
    keras.utils.set_random_seed(int(seed))


def set_precision(mixed_bfloat16=False):
    """bfloat16 compute with float32 weights ("mixed_bfloat16"), or plain float32."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if mixed_bfloat16 else "float32")


def one_hot_labels(dataset, num_classes, mixup_alpha=0.0, seed=None):
    """A batched `(x, class index)` dataset with one-hot labels, as categorical losses with
    label smoothing want them. With `mixup_alpha` > 0 each example is also blended with another
    of its batch, inputs and labels alike, by a Beta(alpha, alpha) weight (mixup, Zhang et al.
    2018; `keras.layers.MixUp` draws the weights)."""
    import tensorflow as tf
    mix = keras.layers.MixUp(alpha=mixup_alpha, seed=seed, dtype="float32") if mixup_alpha else None

    def relabel(x, y):
        y = tf.one_hot(tf.cast(y, "int32"), num_classes)
        if mix is None:
            return x, y
        mixed = mix({"images": x, "labels": y}, training=True)
        return mixed["images"], mixed["labels"]
    return dataset.map(relabel, num_parallel_calls=tf.data.AUTOTUNE)


def write_json(path, obj):
    """Write JSON atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as out:
        json.dump(obj, out, indent=2, default=str)
        out.write("\n")
    os.replace(tmp, path)


def _log_rows(path):
    """The CSVLogger file's rows as (epoch, {metric: value}), none when there is no file.

    Empty cells and CSVLogger's "NA" (a metric missing from an epoch that stopped training) are left out.
    """
    if not path or not Path(path).exists():
        return []
    with open(path) as handle:
        return [(int(row.pop("epoch")),
                 {key: float(value) for key, value in row.items() if value not in ("", "NA", None)})
                for row in csv.DictReader(handle)]


def read_log(path):
    """The CSVLogger file as {metric: [value per epoch]} ({} when there is none)."""
    curves = {}
    for _, values in _log_rows(path):
        for key, value in values.items():
            curves.setdefault(key, []).append(value)
    return curves


class BestModel(keras.callbacks.Callback):
    """Save the model with `save(model, path)` whenever `monitor` improves.

    On resume the best value so far is read back from the CSV log, so a resumed
    run never overwrites a better model with a worse one.
    """

    def __init__(self, path, save, monitor="val_accuracy", mode="max", log_path=None):
        super().__init__()
        self.path, self.save, self.monitor = Path(path), save, monitor
        self.better = (lambda a, b: a > b) if mode == "max" else (lambda a, b: a < b)
        self.best, self.best_epoch, self.last_logged_epoch = None, None, None
        for epoch, values in _log_rows(log_path):
            self.last_logged_epoch = epoch
            if monitor in values:
                self._consider(values[monitor], epoch)

    def _consider(self, value, epoch):
        if self.best is None or self.better(value, self.best):
            self.best, self.best_epoch = value, epoch
            return True
        return False

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and self._consider(float(value), epoch):
            self.save(self.model, self.path)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping whose patience, on resume, counts from the best epoch in the log.

    Keras' own starts counting afresh at every `fit`, so a run resumed after
    an interruption would wait `patience` more epochs than an uninterrupted one.
    """

    def __init__(self, best_model, **kwargs):
        super().__init__(**kwargs)
        self.best_model = best_model

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.best_model.best is not None:
            self.best, self.best_epoch = self.best_model.best, self.best_model.best_epoch
            self.wait = self.best_model.last_logged_epoch - self.best_model.best_epoch


class TimeBudget(keras.callbacks.Callback):
    """Stop after the epoch during which `seconds` of wall time ran out.

    The run is unfinished, not done: `backup` (the BackupAndRestore callback)
    is told to keep its checkpoint, so `--resume` can continue it.
    """

    def __init__(self, seconds, backup):
        super().__init__()
        self.seconds, self.backup = seconds, backup

    def on_train_begin(self, logs=None):
        self.started = clock()

    def on_epoch_end(self, epoch, logs=None):
        last = epoch + 1 >= self.params.get("epochs", float("inf"))  # a run that is done needs no resume
        if not last and clock() - self.started > self.seconds:
            self.model.stop_training = True
            self.backup.delete_checkpoint = False


def fit(model, train_data, val_data, *, out_dir, epochs, config, save, resume=False,
        patience=None, monitor="val_accuracy", mode="max", time_budget_s=None,
        callbacks=(), verbose=None, **fit_kwargs):
    """Train a compiled model on `train_data`, an (x, y) tuple of arrays or a
    `tf.data.Dataset`; returns the metrics dict also written to `metrics.json`.

    `save(model, path)` writes a model file (the app's `save_model` with its
    preprocessing settings); it is called for `<out>/model.keras`.
    """
    out_dir = Path(out_dir)
    backup_dir, log_path = _start_run(out_dir, resume, config)

    best = BestModel(out_dir / "model.keras", save, monitor=monitor, mode=mode,
                     log_path=log_path if resume else None)
    backup = keras.callbacks.BackupAndRestore(str(backup_dir))
    all_callbacks = [
        backup,
        best,
        keras.callbacks.CSVLogger(str(log_path), append=resume),
        keras.callbacks.TensorBoard(str(out_dir / "tensorboard"), write_graph=False),
        *callbacks,
    ]
    if patience:
        all_callbacks.append(ResumableEarlyStopping(best, monitor=monitor, mode=mode, patience=patience))
    if time_budget_s:
        all_callbacks.append(TimeBudget(time_budget_s, backup))

    started = time.time()
    if verbose is None:  # a progress bar on a terminal, one line per epoch in logs
        verbose = 1 if sys.stdout.isatty() else 2
    x, y = train_data if isinstance(train_data, tuple) else (train_data, None)  # arrays or a tf.data.Dataset
    history = model.fit(x, y, validation_data=val_data, epochs=epochs,
                        callbacks=all_callbacks, verbose=verbose, shuffle=False, **fit_kwargs)
    curves = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    last_epoch = (history.epoch[-1] + 1) if history.epoch else None
    if resume:  # the whole run's curves, the epochs before the resume included
        logged = read_log(log_path)
        if logged:
            curves, last_epoch = logged, len(next(iter(logged.values())))
    metrics = {
        "train_seconds_this_run": round(time.time() - started, 1),
        "epochs_run_this_run": len(history.epoch),
        "last_epoch": last_epoch,
        f"best_{monitor}": best.best,
        "best_epoch": None if best.best_epoch is None else best.best_epoch + 1,
        "history": curves,
        "unfinished": backup_dir.exists(),  # stopped by the time budget: `resume=True` continues it
        "model": str(out_dir / "model.keras"),
    }
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def _start_run(out_dir, resume, config):
    """Check a resumed run has its checkpoint, or clear a new run's leftovers; write
    config.json. Returns (backup folder, log.csv path)."""
    backup_dir, log_path = out_dir / "backup", out_dir / "log.csv"
    if resume:
        if not backup_dir.exists():
            raise UserError(f"{out_dir}: no unfinished training run to resume "
                            f"(no {backup_dir.name}/ checkpoint); run without --resume")
    else:
        for stale in (backup_dir, log_path, out_dir / "tensorboard"):
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "config.json", config)
    return backup_dir, log_path


# ------------------------------------------------------------- several workers
@contextlib.contextmanager
def distribution(name="none"):
    """The tf.distribute strategy of `--distribute name` (shared/distribute.py), entered:
    build and compile the model inside, then train with `fit`, or with `distributed_fit`
    where `needs_custom_loop(strategy)`."""
    from shared.distribute import make_strategy
    strategy = make_strategy(name)
    with strategy.scope():
        yield strategy


def needs_custom_loop(strategy):
    """Keras 3's fit cannot run under MultiWorkerMirroredStrategy."""
    import tensorflow as tf
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def distributed_fit(model, train_data, val_data, *, strategy, out_dir, epochs, config, save, batch_size,
                    steps_per_epoch=None, resume=False, patience=None, monitor="val_accuracy", mode="max",
                    time_budget_s=None, seed=0, log=print):
    """`fit` for `MultiWorkerMirroredStrategy`, where Keras' fit cannot run: a custom loop
    with `strategy.run`. `model` was built and compiled under `strategy.scope()`;
    `batch_size` is the global batch. `train_data` is (x, y) arrays (shuffled each epoch
    by `seed`) or a tf.data.Dataset of the app's batches, regrouped into global batches
    whose rows each worker slices its part of; or a function `(worker, workers) ->
    tf.data.Dataset` of this worker's part of every global batch (batch_size / workers
    rows), for data that workers read separately. Validation runs on every worker (the
    weights are the same everywhere), so all take the same early-stopping decision.

    The chief (worker 0) writes what `fit` writes: model.keras at the best epoch,
    config.json, log.csv, tensorboard/, metrics.json, and the checkpoint in backup/
    after every epoch, which `resume=True` continues from on every worker; the
    others write their checkpoints to scratch folders and delete them."""
    import numpy as np
    import tensorflow as tf
    from shared.distribute import is_chief, peers_reached, worker_info

    out_dir = Path(out_dir)
    worker, workers = worker_info(strategy)
    chief = is_chief(strategy)
    if batch_size % strategy.num_replicas_in_sync or batch_size % workers:
        raise UserError(f"--batch-size {batch_size} must divide evenly among {strategy.num_replicas_in_sync} "
                        f"replicas on {workers} workers")
    per_worker = batch_size // workers
    backup_dir, log_path = out_dir / "backup", out_dir / "log.csv"
    if chief:
        _start_run(out_dir, resume, config)

    if callable(train_data):
        dataset_fn = train_data
    else:  # the app's batches, or arrays batched here: regrouped into full global batches
        if isinstance(train_data, tuple):
            x, y = train_data
            steps_per_epoch = steps_per_epoch or len(x) // batch_size
            train_data = (tf.data.Dataset.from_tensor_slices((x, y))
                          .shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size))
        elif steps_per_epoch is None:
            steps_per_epoch = sum(int(tf.shape(tf.nest.flatten(b)[0])[0]) for b in train_data) // batch_size
        if steps_per_epoch < 1:
            raise UserError(f"the training data make no global batch of {batch_size}")

        def dataset_fn(worker, workers):  # this worker's rows of every global batch
            lo, hi = worker * per_worker, (worker + 1) * per_worker
            return (train_data.repeat().unbatch().padded_batch(batch_size, drop_remainder=True)
                    .map(lambda a, b: (a[lo:hi], b[lo:hi])).prefetch(tf.data.AUTOTUNE))

    def replica_batches(context):
        replica_batch = context.get_per_replica_batch_size(batch_size)
        return dataset_fn(worker, workers).unbatch().batch(replica_batch, drop_remainder=True)
    iterator = iter(strategy.distribute_datasets_from_function(replica_batches))

    # Batch statistics over the global batch, as one process would compute them: otherwise each
    # replica normalises with its own half and the workers' moving averages drift apart.
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
    loss_object = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
    per_example_loss = getattr(loss_object, "call", loss_object)  # a Loss object's unreduced loss
    optimizer = model.optimizer

    def step(inputs, labels):
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            losses = per_example_loss(labels, tf.cast(outputs, tf.float32))
            loss = tf.nn.compute_average_loss(losses, global_batch_size=batch_size)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.cast(tf.add_n(model.losses), tf.float32))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        truth = labels if labels.shape.rank == 1 else tf.argmax(labels, axis=-1)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(outputs, -1, output_type=tf.int32),
                                                 tf.cast(truth, tf.int32)), tf.float32))
        return loss, correct

    @tf.function
    def train_step(iterator):
        loss, correct = strategy.run(step, args=next(iterator))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None))

    @tf.function
    def anyone(flag):  # whether any replica says so: one stop decision for all workers
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(flag)), axis=None) > 0

    epoch_done = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_done)
    scratch = backup_dir if chief else out_dir / f".backup-worker-{worker}"
    manager = tf.train.CheckpointManager(checkpoint, str(scratch), max_to_keep=1)
    if resume:
        latest = tf.train.latest_checkpoint(str(backup_dir))
        if latest is None:
            raise UserError(f"{backup_dir}: no checkpoint to resume from")
        checkpoint.restore(latest)
        log(f"resumed from epoch {int(epoch_done.numpy())} ({latest})")

    # Saving may create variables, which the strategy initialises collectively: every worker
    # saves, the others to a scratch file (as tf.distribute's own saving guide does).
    scratch_model = out_dir / f".model-worker-{worker}.keras"
    best = BestModel(out_dir / "model.keras", save if chief else (lambda model, path: save(model, scratch_model)),
                     monitor=monitor, mode=mode, log_path=log_path if resume else None)
    best.set_model(model)
    writer = tf.summary.create_file_writer(str(out_dir / "tensorboard" / "train")) if chief else None
    started, clock_started = time.time(), clock()
    first_epoch = int(epoch_done.numpy())
    epoch, stopped = first_epoch, False
    epoch_seconds = []  # the training steps' wall time per epoch (the first includes tracing)
    for epoch in range(first_epoch, epochs):
        loss_sum, correct_sum = 0.0, 0.0
        epoch_started = time.perf_counter()
        for _ in range(steps_per_epoch):
            loss, correct = train_step(iterator)
            loss_sum, correct_sum = loss_sum + float(loss), correct_sum + float(correct)
            peers_reached()
        epoch_seconds.append(time.perf_counter() - epoch_started)
        logs = {"accuracy": correct_sum / (steps_per_epoch * batch_size), "loss": loss_sum / steps_per_epoch}
        if val_data is not None:
            logs.update(_validation_logs(model, val_data, per_example_loss))
        epoch_done.assign(epoch + 1)
        manager.save()  # every worker saves (the save is collective); only the chief's is kept
        if chief:
            _append_log(log_path, epoch, logs)
            with writer.as_default():
                for key, value in logs.items():
                    tf.summary.scalar(key, value, step=epoch)
        best.on_epoch_end(epoch, logs)
        log(f"epoch {epoch + 1}/{epochs}: " + " ".join(f"{k} {v:.4f}" for k, v in logs.items()))
        patience_out = bool(patience) and best.best_epoch is not None and epoch - best.best_epoch >= patience
        budget_out = bool(time_budget_s) and clock() - clock_started > time_budget_s and epoch + 1 < epochs
        patience_out, budget_out = bool(anyone(int(patience_out))), bool(anyone(int(budget_out)))
        if patience_out or budget_out:
            stopped = budget_out and not patience_out  # a budget stop stays resumable
            break
    # the same on every worker when they trained in step: a check a user (and the tests) can read
    fingerprint = float(sum(np.sum(np.abs(np.asarray(w, np.float64))) for w in model.get_weights()))
    log(f"worker {worker} of {workers}: weights fingerprint {fingerprint:.10g}")
    if not chief:
        shutil.rmtree(scratch, ignore_errors=True)
        scratch_model.unlink(missing_ok=True)
    elif not stopped:  # finished or stopped early: nothing to resume
        shutil.rmtree(backup_dir, ignore_errors=True)
    curves = read_log(log_path) if chief else {}
    metrics = {
        "train_seconds_this_run": round(time.time() - started, 1),
        "epochs_run_this_run": int(epoch_done.numpy()) - first_epoch,
        "last_epoch": int(epoch_done.numpy()),
        f"best_{monitor}": best.best,
        "best_epoch": None if best.best_epoch is None else best.best_epoch + 1,
        "history": curves,
        "unfinished": backup_dir.exists(),
        "model": str(out_dir / "model.keras"),
        "distribute": {"workers": workers, "replicas": strategy.num_replicas_in_sync, "global_batch": batch_size,
                       "weights_fingerprint": fingerprint},
        # examples of all workers per second, past the first epoch's tracing when there are more
        "train_examples_per_s": round(steps_per_epoch * batch_size * len(epoch_seconds[1:] or epoch_seconds)
                                      / sum(epoch_seconds[1:] or epoch_seconds), 1) if epoch_seconds else None,
    }
    if chief:
        write_json(out_dir / "metrics.json", metrics)
    return metrics


def _validation_logs(model, val_data, per_example_loss):
    """val_accuracy and val_loss of `model` on (x, y) arrays or a dataset of batches, computed
    on this worker alone (every worker holds the same weights)."""
    import numpy as np
    import tensorflow as tf
    if isinstance(val_data, tuple):
        x, y = val_data
        batches = ((x[i:i + 256], y[i:i + 256]) for i in range(0, len(x), 256))
    else:
        batches = val_data.as_numpy_iterator()
    correct = losses = count = 0.0
    for x, y in batches:
        probabilities = tf.cast(model(x, training=False), tf.float32)
        truth = np.asarray(y) if np.ndim(y) == 1 else np.argmax(y, axis=-1)
        correct += float(np.sum(np.argmax(probabilities, axis=-1) == truth))
        losses += float(tf.reduce_sum(per_example_loss(tf.constant(y), probabilities)))
        count += len(truth)
    return {"val_accuracy": correct / count, "val_loss": losses / count}


def _append_log(path, epoch, logs):
    """One row of log.csv, in CSVLogger's layout (epoch, then the metrics sorted)."""
    new = not Path(path).exists()
    with open(path, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["epoch", *sorted(logs)])
        writer.writerow([epoch, *(logs[key] for key in sorted(logs))])
