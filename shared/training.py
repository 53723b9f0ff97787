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
