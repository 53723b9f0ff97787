"""Model files: `.keras` archives that carry the app's preprocessing settings.

`save_model` writes the ordinary Keras archive, adds one member,
`beyond_pixels.json` (the app, its preprocessing settings, class names, the
training config), and moves it into place atomically, so a crash never
leaves a half-written model under the real name. `load_model` reads the
member first, so it can refuse a model of another app with a clear message
before Keras parses anything.

A model trained with `--mixed-bfloat16` stores that policy in every layer;
`load_model` runs it in the process's global precision instead (float32 unless
`training.set_precision(True)`), because bfloat16 is only fast on CPUs with
native support and rounds the output probabilities to about 3 digits.
"""
import json
import os
import tempfile
import zipfile
from pathlib import Path

import keras

from shared import apps
from shared.errors import UserError

META_MEMBER = "beyond_pixels.json"


def save_model(model, path, *, app, preprocessing=None, config=None):
    path = Path(path)
    if path.suffix != ".keras":
        raise UserError(f"{path}: model files must end in .keras")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"app": app, "preprocessing": preprocessing or {}, "config": config or {},
            "keras_version": keras.__version__}
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".keras")
    os.close(handle)
    try:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(META_MEMBER, json.dumps(meta, indent=2, default=str))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a model file is an ordinary file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_metadata(path):
    """The Beyond Pixels metadata of a model file; UserError if it is not one."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path}: not a .keras model file (not a zip archive)")
    with zipfile.ZipFile(path) as archive:
        if META_MEMBER not in archive.namelist():
            raise UserError(f"{path}: a Keras model, but not one saved by Beyond Pixels (no {META_MEMBER})")
        return json.loads(archive.read(META_MEMBER))


def load_model(path, app=None):
    """(model, metadata). With `app`, a model saved by another app is refused."""
    meta = read_metadata(path)
    if app is not None and meta.get("app") != app:
        raise UserError(f"{path}: this is a model of the {meta.get('app')!r} app, not of {app!r}; "
                        f"use `run.py {meta.get('app')} ...`")
    _register_custom_objects(meta.get("app"))
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for damaged archives
        raise UserError(f"{path}: could not load the model ({type(error).__name__}: {error})") from None
    _use_global_precision(model)
    return model, meta


def _use_global_precision(model):
    policy = keras.mixed_precision.global_policy()
    for layer in model._flatten_layers():
        if layer.dtype_policy.name != policy.name:
            layer.dtype_policy = policy


def copy_weights(model, path, app, options_hint="the model options", check=None):
    """Warm start: copy the weights of model file `path` (of `app`) into `model`.

    `check(metadata)` may raise UserError first (the app's own conditions: task,
    vocabulary...); then every weight shape must match, else UserError naming
    `options_hint`.
    """
    source, meta = load_model(path, app=app)
    if check:
        check(meta)
    if [w.shape for w in source.get_weights()] != [w.shape for w in model.get_weights()]:
        raise UserError(f"{path}: its layers differ from this run's ({options_hint} must match)")
    model.set_weights(source.get_weights())


def copy_matching_layers(model, path, app, check=None, prefixes=None):
    """Transfer: copy into `model` the weights of every layer of model file `path` (of
    `app`) that has the same name and weight shapes; the rest (a classifier of another
    class count, say) keep their fresh initialisation. Normalization layers are never
    copied: they hold statistics of this run's data (adapted before). Returns (copied,
    fresh) layer names; UserError when nothing matches, or from `check(metadata)`. With
    `prefixes`, only layers whose names start with one of them are copied."""
    source, meta = load_model(path, app=app)
    if check:
        check(meta)
    return copy_layers(model, source, prefixes, where=path)


def copy_layers(model, source, prefixes=None, where="the source model"):
    """`copy_matching_layers` from a model already loaded (`source`); `where` names it in errors."""
    source_layers = {layer.name: layer for layer in source.layers}
    copied, fresh = [], []
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights or isinstance(layer, keras.layers.Normalization):
            continue
        match = source_layers.get(layer.name)
        if prefixes and not layer.name.startswith(tuple(prefixes)):
            match = None
        if match is not None and [w.shape for w in match.get_weights()] == [w.shape for w in weights]:
            layer.set_weights(match.get_weights())
            copied.append(layer.name)
        else:
            fresh.append(layer.name)
    if not copied:
        raise UserError(f"{where}: no layer has the name and shape of one of this model's")
    return copied, fresh


def _register_custom_objects(app):
    """The shared custom layers, and those of the app that saved the model (registered in
    `shared.apps`), must be known to Keras before it reads the file."""
    import shared.layers  # noqa: F401  (importing registers them)
    registered = apps.get(app)
    if registered is not None:
        registered.load_custom_objects()
