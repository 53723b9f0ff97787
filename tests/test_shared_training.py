"""Common training: a short run must learn; an interrupted run resumes where it stopped."""
import csv

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from shared import training
from shared.builders import ConvSpec, build_classifier
from shared.errors import UserError
from shared.modelio import copy_matching_layers, copy_weights, load_model, read_metadata, save_model


def _digits():
    digits = load_digits()  # 1,797 real 8x8 handwritten digits shipped inside scikit-learn
    x = digits.images[..., None].astype("float32") / 16.0
    return x[:1400], digits.target[:1400], x[1400:], digits.target[1400:]


def _model():
    model = build_classifier((8, 8, 1), [ConvSpec(8, 3, pool="max")], 10, hidden=(32,))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _save(model, path):
    save_model(model, path, app="test", preprocessing={"scale": 16})


class Crash(keras.callbacks.Callback):
    """Simulate a crash (Ctrl-C) at the end of an epoch, after the checkpoint was written."""

    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch, self.weights = at_epoch, None

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            self.weights = [w.copy() for w in self.model.get_weights()]
            raise KeyboardInterrupt


class Recorder(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.start_weights = [w.copy() for w in self.model.get_weights()]
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_short_run_beats_chance_by_far(tmp_path):
    training.set_seed(0)
    x, y, xv, yv = _digits()
    metrics = training.fit(_model(), (x, y), (xv, yv), out_dir=tmp_path, epochs=6, config={"test": 1},
                           save=_save, verbose=0, batch_size=64)
    assert metrics["best_val_accuracy"] > 0.8  # chance is 0.1
    for name in ("model.keras", "config.json", "metrics.json", "log.csv"):
        assert (tmp_path / name).exists()
    assert (tmp_path / "tensorboard").is_dir()
    assert read_metadata(tmp_path / "model.keras")["preprocessing"] == {"scale": 16}
    model, _ = load_model(tmp_path / "model.keras", app="test")
    accuracy = (model.predict(xv, verbose=0).argmax(1) == yv).mean()
    assert accuracy == pytest.approx(metrics["best_val_accuracy"], abs=1e-6)  # the best epoch was kept


def test_resume_continues_from_the_checkpoint(tmp_path):
    training.set_seed(0)
    x, y, xv, yv = _digits()
    crash = Crash(at_epoch=1)
    with pytest.raises(KeyboardInterrupt):
        training.fit(_model(), (x, y), (xv, yv), out_dir=tmp_path, epochs=4, config={}, save=_save,
                     verbose=0, batch_size=64, callbacks=[crash])
    recorder = Recorder()
    training.fit(_model(), (x, y), (xv, yv), out_dir=tmp_path, epochs=4, config={}, save=_save,
                 resume=True, verbose=0, batch_size=64, callbacks=[recorder])
    assert recorder.epochs == [2, 3]  # epochs 0 and 1 are not trained again
    for restored, saved in zip(recorder.start_weights, crash.weights):
        np.testing.assert_array_equal(restored, saved)
    with open(tmp_path / "log.csv") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2, 3]
    assert not (tmp_path / "backup").exists()  # a finished run leaves no checkpoint behind


def test_a_time_budget_stop_stays_resumable(tmp_path, monkeypatch):
    training.set_seed(0)
    x, y, xv, yv = _digits()
    monkeypatch.setattr(training, "clock", lambda: 0.0)  # time stands still: a budget never runs out
    metrics = training.fit(_model(), (x, y), (xv, yv), out_dir=tmp_path / "still", epochs=3, config={}, save=_save,
                           time_budget_s=60, verbose=0, batch_size=64)
    assert metrics["epochs_run_this_run"] == 3 and not metrics["unfinished"]
    ticks = iter(range(0, 10 ** 9, 100))  # every reading 100 s after the last: a 60 s budget runs out in epoch 1
    monkeypatch.setattr(training, "clock", lambda: next(ticks))
    training.fit(_model(), (x, y), (xv, yv), out_dir=tmp_path, epochs=4, config={}, save=_save,
                 time_budget_s=60, verbose=0, batch_size=64)  # stops after the first epoch
    assert (tmp_path / "backup").is_dir()  # unfinished: the checkpoint is kept for --resume
    recorder = Recorder()
    training.fit(_model(), (x, y), (xv, yv), out_dir=tmp_path, epochs=4, config={}, save=_save,
                 resume=True, verbose=0, batch_size=64, callbacks=[recorder])
    assert recorder.epochs == [1, 2, 3]
    assert not (tmp_path / "backup").exists()


def test_resumed_early_stopping_counts_patience_from_the_logged_best_epoch(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("epoch,val_accuracy\n0,0.5\n1,0.7\n2,0.6\n3,0.65\n")  # best at epoch 1, then 2 worse
    best = training.BestModel(tmp_path / "m.keras", save=None, log_path=log)

    class Model:
        stop_training = False

    def stops_after(callback, value):
        callback.set_model(Model())
        callback.on_train_begin()
        callback.on_epoch_end(4, {"val_accuracy": value})
        return callback.model.stop_training

    # With patience 3, a third epoch without a better 0.7 ends the run, as it would have without the stop;
    # Keras' own callback would start counting again.
    assert stops_after(training.ResumableEarlyStopping(best, monitor="val_accuracy", mode="max", patience=3), 0.69)
    assert not stops_after(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=3), 0.69)
    assert not stops_after(training.ResumableEarlyStopping(best, monitor="val_accuracy", mode="max", patience=3), 0.71)
    fresh = training.BestModel(tmp_path / "m.keras", save=None)  # a run that is not resumed: Keras' behaviour
    assert not stops_after(training.ResumableEarlyStopping(fresh, monitor="val_accuracy", mode="max", patience=3), 0.69)


def test_copy_weights_warm_starts_and_refuses_mismatches(tmp_path):
    source = _model()
    _save(source, tmp_path / "m.keras")
    target = _model()
    copy_weights(target, tmp_path / "m.keras", "test")
    for copied, original in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(copied, original)
    wider = build_classifier((8, 8, 1), [ConvSpec(16, 3, pool="max")], 10, hidden=(32,))
    with pytest.raises(UserError, match="layers differ from this run's .--filters must match"):
        copy_weights(wider, tmp_path / "m.keras", "test", "--filters")
    with pytest.raises(UserError, match="not of 'image'"):
        copy_weights(_model(), tmp_path / "m.keras", "image")

    def refuse(meta):
        raise UserError(f"scale {meta['preprocessing']['scale']} is not wanted")
    with pytest.raises(UserError, match="scale 16 is not wanted"):
        copy_weights(_model(), tmp_path / "m.keras", "test", check=refuse)


def test_copy_matching_layers_transfers_the_shared_layers_only(tmp_path):
    source = _model()
    _save(source, tmp_path / "m.keras")
    five_classes = build_classifier((8, 8, 1), [ConvSpec(8, 3, pool="max")], 5, hidden=(32,))
    fresh_head = five_classes.layers[-1].get_weights()
    copied, fresh = copy_matching_layers(five_classes, tmp_path / "m.keras", "test")
    assert fresh == [five_classes.layers[-1].name] and len(copied) >= 2
    for name in copied:
        for mine, theirs in zip(five_classes.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    for mine, before in zip(five_classes.layers[-1].get_weights(), fresh_head):
        np.testing.assert_array_equal(mine, before)
    other = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, name="other")])
    with pytest.raises(UserError, match="no layer has the name and shape"):
        copy_matching_layers(other, tmp_path / "m.keras", "test")


def test_a_bfloat16_trained_model_loads_in_the_global_precision(tmp_path):
    x = _digits()[2][:8]
    training.set_precision(True)
    try:
        model = _model()
        _save(model, tmp_path / "m.keras")
        in_bfloat16 = np.asarray(model(x))
    finally:
        training.set_precision(False)
    loaded, _ = load_model(tmp_path / "m.keras")
    assert {layer.dtype_policy.name for layer in loaded._flatten_layers()} == {"float32"}
    in_float32 = np.asarray(loaded(x))
    assert in_float32.dtype == np.float32
    np.testing.assert_allclose(in_float32, in_bfloat16, atol=0.05)
    assert not np.array_equal(in_float32, in_bfloat16)  # bfloat16 rounding is really gone


def test_resume_without_a_checkpoint_is_a_user_error(tmp_path):
    x, y, xv, yv = _digits()
    with pytest.raises(UserError, match="no unfinished training run"):
        training.fit(_model(), (x, y), (xv, yv), out_dir=tmp_path, epochs=1, config={}, save=_save,
                     resume=True, verbose=0)


def test_model_of_another_app_is_refused(tmp_path):
    _save(_model(), tmp_path / "m.keras")
    with pytest.raises(UserError, match="model of the 'test' app, not of 'image'"):
        load_model(tmp_path / "m.keras", app="image")


def test_missing_and_foreign_model_files(tmp_path):
    with pytest.raises(UserError, match="model file not found"):
        load_model(tmp_path / "nope.keras")
    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(UserError, match="not a .keras model file"):
        load_model(tmp_path / "text.keras")
    plain = tmp_path / "plain.keras"
    _model().save(plain)
    with pytest.raises(UserError, match="not one saved by Beyond Pixels"):
        load_model(plain)


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "m.keras"
    _save(_model(), target)
    before = target.read_bytes()

    def broken_save(self, path, *args, **kwargs):
        open(path, "wb").write(b"half")
        raise OSError("disk full")
    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(OSError):
        _save(_model(), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_the_csv_log_reads_back_without_its_missing_cells(tmp_path):
    log = tmp_path / "log.csv"  # CSVLogger writes "NA" for a metric an epoch did not report
    log.write_text("epoch,accuracy,val_accuracy\n0,0.5,0.6\n1,0.7,NA\n2,0.8,\n")
    assert training.read_log(log) == {"accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.6]}
    best = training.BestModel(tmp_path / "m.keras", save=None, log_path=log)
    assert (best.best, best.best_epoch, best.last_logged_epoch) == (0.6, 0, 2)
    assert training.read_log(tmp_path / "none.csv") == {}



def test_one_hot_labels_and_mixup_blend_inputs_and_labels_alike():
    import tensorflow as tf
    y = np.arange(8)
    x = np.eye(8, dtype="float32")[y].reshape(8, 1, 8, 1)  # example i is the indicator of its class i
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    (plain_x, plain_y), = training.one_hot_labels(batches, 8).as_numpy_iterator()
    np.testing.assert_array_equal(plain_x, x)
    np.testing.assert_array_equal(plain_y, np.eye(8))
    (mixed_x, mixed_y), = training.one_hot_labels(batches, 8, mixup_alpha=0.4, seed=3).as_numpy_iterator()
    assert not np.allclose(mixed_x, x)  # blended with other examples
    # a*x_i + (1-a)*x_j with labels a*y_i + (1-a)*y_j: here the blended input is its own label
    np.testing.assert_allclose(mixed_x.reshape(8, 8), mixed_y, atol=1e-6)
    np.testing.assert_allclose(mixed_y.sum(1), 1.0, rtol=1e-6)
