"""Ensembles: one Keras model that averages the class probabilities of trained models.

Averaging the predictions of networks trained with different seeds or
architectures on the same inputs often gains a point or two once a single
model has stopped improving, as far as their errors are independent (where
the errors are systematic it gains nothing: measure it on validation data;
the cards record both cases). The members stay whole inside the ensemble (nested
Keras models), so they can still be inspected one by one (`members`), and the
file loads, evaluates and predicts like any single model.
"""
import hashlib
import re
from pathlib import Path

import keras

from shared.errors import UserError


def average_models(models, name="ensemble", reads=None):
    """A model whose output is the mean of its members' outputs.

    `reads[i]` is the index of the ensemble input that member i reads (default: one
    input that every member reads). Members trained on differently prepared inputs
    of the same examples (e.g. other feature settings) so average in one model, whose
    inputs are then a list, one per index 0, 1, ... Members reading one input must
    take the same shape and dtype; every member must give the same output shape.
    Members are renamed `member<i>_<name>` so their names are unique."""
    if len(models) < 2:
        raise UserError(f"an ensemble needs at least 2 models, got {len(models)}")
    reads = [0] * len(models) if reads is None else list(reads)
    if len(reads) != len(models) or sorted(set(reads)) != list(range(max(reads) + 1)):
        raise ValueError(f"reads={reads}: one input index per model, using every index from 0 up")
    first_reader = {}  # input index -> the first model that reads it (defines its shape)
    for i, (model, index) in enumerate(zip(models, reads), 1):
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise UserError(f"model {i} ({model.name}) has {len(model.inputs)} inputs and {len(model.outputs)} "
                            "outputs; an ensemble averages single-input, single-output models")
        j, first = first_reader.setdefault(index, (i, model))
        if (tuple(model.inputs[0].shape[1:]) != tuple(first.inputs[0].shape[1:])
                or model.inputs[0].dtype != first.inputs[0].dtype):
            raise UserError(f"model {i} ({model.name}) takes {model.inputs[0].dtype} {model.inputs[0].shape}, "
                            f"model {j} {first.inputs[0].dtype} {first.inputs[0].shape}")
        if tuple(model.outputs[0].shape[1:]) != tuple(models[0].outputs[0].shape[1:]):
            raise UserError(f"model {i} ({model.name}) gives {model.outputs[0].shape}, "
                            f"model 1 {models[0].outputs[0].shape}")
    inputs = []
    for index in range(len(first_reader)):
        first = first_reader[index][1].inputs[0]
        input_name = first.name.split(":")[0] + (f"_{index}" if index else "")
        inputs.append(keras.Input(shape=first.shape[1:], dtype=first.dtype, name=input_name))
    outputs = []
    for i, (model, index) in enumerate(zip(models, reads), 1):
        model.name = f"member{i}_{re.sub(r'^member[0-9]+_', '', model.name)}"  # a member of an ensemble given
        outputs.append(model(inputs[index]))
    average = keras.layers.Average(name="average", dtype="float32")(outputs)
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], average, name=name)


def ensemble_files(paths, out, *, app, same, preprocessing=None, input_of=None):
    """Average the models in `paths` (files of `app`) into one file at `out`; returns its preprocessing.
    An ensemble among them contributes its members (each network weighs the same).

    Their preprocessing must agree on every key in `same` (inputs mean the same thing);
    `preprocessing(metas)` gives the ensemble's (default: the first member's). With
    `input_of(meta)`, models with different values read different inputs of the ensemble
    (in the order the values first appear; see `average_models`; the preprocessing then
    lists the input index of each network as `member_inputs`). The members' paths,
    sha256 and training configs are kept in the file's config."""
    from shared.modelio import load_model, save_model
    loaded = [load_model(path, app=app) for path in paths]
    metas = [meta for _, meta in loaded]
    first = metas[0]["preprocessing"]
    for path, meta in zip(paths[1:], metas[1:]):
        for key in same:
            theirs, mine = meta["preprocessing"].get(key), first.get(key)
            if theirs != mine:
                raise UserError(f"{path}: its {key} differs from {paths[0]}'s ({_shown(theirs)} vs {_shown(mine)}); "
                                f"an ensemble's models must share {', '.join(same)}")
    sources = [{"path": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                "config": meta.get("config", {})} for path, meta in zip(paths, metas)]
    # an ensemble given as a member adds its members, so that every network has the same weight
    nets, reads, values = [], [], []
    for path, (model, meta) in zip(paths, loaded):
        if len(model.inputs) > 1:
            raise UserError(f"{path}: an ensemble with {len(model.inputs)} inputs; give its members' files instead")
        value = input_of(meta) if input_of else None
        if value not in values:
            values.append(value)
        for member in members(model) if meta.get("config", {}).get("command") == "ensemble" else [model]:
            nets.append(member)
            reads.append(values.index(value))
    model = average_models(nets, reads=reads)
    merged = preprocessing(metas) if preprocessing else dict(first)
    if len(values) > 1:  # which input each network reads: a caller can run each network on its own input
        merged["member_inputs"] = reads
    save_model(model, out, app=app, config={"command": "ensemble", "members": sources}, preprocessing=merged)
    return merged


def _shown(value):
    return f"{len(value)} entries" if isinstance(value, (list, dict)) and len(value) > 12 else repr(value)


def members(model):
    """The member models of an ensemble (its nested models); [] for a single model."""
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def first_member(model):
    """An ensemble's first member (pictures explain one network); a single model itself."""
    return (members(model) or [model])[0]


def all_layers(model):
    """Every layer of a model, the members' layers included (depth first)."""
    found = []
    for layer in model.layers:
        found += all_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return found
