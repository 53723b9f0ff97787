"""Transfer learning: which layers of a network keep the weights another network gave them.

After `--init-model` copied the layers of a trained model into a new one (the same
architecture; the classifier of another class count starts fresh), `--freeze` chooses
what training may still change:

- `none`: every layer trains (fine-tuning): the copied weights are only a starting point.
- `conv`: the convolutional feature extractor keeps its weights: every convolution-type
  layer (`CONV_TYPES`: Keras' and the suite's own, shared/layers.py) and the normalization
  layers among them (batch, layer, group norm); dense layers and the classifier train.
- `all-but-head`: only the classifier head trains: a linear probe when the head is one
  softmax layer. The head is the layers named `head_*` (shared.builders.classifier_head);
  a network without them names its head itself (the Go policy: its final 1x1 convolution
  and per-point bias), else it is the last layer with weights.

The frozen layers of `conv` never include the head's (a Go policy's head is a convolution).
Keras `Normalization` layers (input statistics, adapted to this run's data) are never trained,
so they are neither frozen nor counted here; nor is a layer its model built untrainable (the
static word vectors of a text model), which no mode makes trainable again.

Keras reads `layer.trainable` when a model is compiled: `freeze` must run before
`model.compile`, and again on the rebuilt model when a run resumes (the checkpoint holds
weights and optimizer state, not these flags). In Keras 3 a frozen BatchNormalization also
runs in inference mode, normalising with the source network's moving statistics instead of
the batch's: what fine-tuning on little data wants.

This module imports no TensorFlow when imported (the command lines use `FREEZE_CHOICES`).
"""
import math

from shared.errors import UserError

FREEZE_CHOICES = ("none", "conv", "all-but-head")
HEAD_PREFIX = "head_"

FREEZE_HELP = {
    "none": "train every layer (fine-tuning)",
    "conv": "keep the convolutions and their normalization layers as copied; dense layers and the classifier train",
    "all-but-head": "train only the classifier head (layers named head_*, or the network's output layer)",
}


def check_options(init_model, freeze):
    """The command-line rule, checked before any data is read: freezing needs copied weights."""
    if freeze not in FREEZE_CHOICES:
        raise UserError(f"--freeze {freeze}: choose one of {', '.join(FREEZE_CHOICES)}")
    if freeze != "none" and not init_model:
        raise UserError(f"--freeze {freeze}: give the model whose weights to keep with --init-model "
                        "(freezing freshly initialised layers would train on random features)")


def conv_types():
    """The layer classes `--freeze conv` keeps: Keras' convolutions and the suite's own."""
    import keras

    from shared.layers import LimitedWeightSharingConv2D, WideConv1D
    names = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
             "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
    return tuple(getattr(keras.layers, n) for n in names if hasattr(keras.layers, n)) + (
        WideConv1D, LimitedWeightSharingConv2D)


def norm_types():
    import keras
    return (keras.layers.BatchNormalization, keras.layers.LayerNormalization, keras.layers.GroupNormalization)


def head_layers(model, head=None):
    """Names of the layers of `model` that make its classifier head. `head` (layer names) says
    so explicitly; else the layers named `head_*`; else the last layer that has weights."""
    names = [layer.name for layer in model.layers]
    if head is not None:
        missing = [name for name in head if name not in names]
        if missing:
            raise ValueError(f"{model.name} has no layer {', '.join(missing)} (its head, as given)")
        return list(head)
    prefixed = [name for name in names if name.startswith(HEAD_PREFIX)]
    if prefixed:
        return prefixed
    weighted = [layer.name for layer in model.layers if layer.weights]
    return weighted[-1:]


def _trainable(layer):
    """A layer whose weights training would change (before freezing)."""
    import keras
    return layer.trainable and bool(layer.trainable_weights) and not isinstance(layer, keras.layers.Normalization)


def _fed_by(layer):
    """The layers whose outputs `layer` takes as input, in a functional model."""
    found = []
    for node in getattr(layer, "_inbound_nodes", []):
        for tensor in node.input_tensors:
            history = getattr(tensor, "_keras_history", None)
            if history is not None:
                found.append(history[0])
    return found


def _to_freeze(model, mode, head):
    conv, norm = conv_types(), norm_types()
    layers = [layer for layer in model.layers if layer.name not in head]
    if mode == "all-but-head":
        return [layer for layer in layers if _trainable(layer)]
    convs = [i for i, layer in enumerate(layers) if isinstance(layer, conv)]
    if not convs:
        return []
    # "among them": a normalization layer before the last convolution, or fed by one (the
    # batch norm right after it); a layer norm in a dense part after the convolutions trains.
    last = convs[-1]
    return [layer for i, layer in enumerate(layers) if _trainable(layer) and (
        isinstance(layer, conv) or isinstance(layer, norm) and (
            i < last or any(isinstance(source, conv) for source in _fed_by(layer))))]


def freeze(model, mode, head=None, copied=None):
    """Make the layers of `mode` (FREEZE_CHOICES) untrainable; returns their names.

    `head`: the names of the classifier head's layers, for a network whose head is not
    named `head_*` (see `head_layers`). `copied`: the names of the layers that hold
    transferred weights; freezing any other (a layer that would keep its random
    initialisation) is a UserError, as is a mode that freezes nothing or leaves nothing
    to train. Compile the model after this (Keras reads the flags at compile time).
    """
    if mode not in FREEZE_CHOICES:
        raise UserError(f"--freeze {mode}: choose one of {', '.join(FREEZE_CHOICES)}")
    if mode == "none":
        return []
    head = head_layers(model, head)
    frozen = _to_freeze(model, mode, head)
    if not frozen:
        what = "convolution layers" if mode == "conv" else "layers with weights"
        raise UserError(f"--freeze {mode}: {model.name} has no trainable {what} outside its head "
                        f"({', '.join(head)}); nothing to freeze")
    if copied is not None:
        fresh = [layer.name for layer in frozen if layer.name not in set(copied)]
        if fresh:
            raise UserError(f"--freeze {mode} would freeze layers that --init-model did not provide (the "
                            f"same name and shape): {', '.join(fresh[:6])}{'...' if len(fresh) > 6 else ''}; "
                            "build the same architecture and width as the model given")
    for layer in frozen:
        layer.trainable = False
    if not model.trainable_weights:
        for layer in frozen:
            layer.trainable = True
        raise UserError(f"--freeze {mode}: would leave nothing of {model.name} to train")
    return [layer.name for layer in frozen]


def counts(model):
    """Layers and parameters that train and that do not, as `describe` reports them."""
    def size(weights):
        return sum(math.prod(int(n) for n in w.shape) for w in weights)
    weighted = [layer for layer in model.layers if layer.weights]
    training = [layer for layer in weighted if layer.trainable_weights]
    return {"trainable_layers": len(training), "frozen_layers": len(weighted) - len(training),
            "trainable_parameters": size(model.trainable_weights),
            "frozen_parameters": size(model.non_trainable_weights)}


def describe(model, mode, frozen):
    """One line for the training log: what `--freeze mode` froze and what trains."""
    c = counts(model)
    kept = f" ({', '.join(frozen[:8])}{'...' if len(frozen) > 8 else ''})" if frozen else ""
    return (f"freeze {mode}: {len(frozen)} layers frozen{kept}; {c['trainable_layers']} layers with "
            f"{c['trainable_parameters']:,} parameters train, {c['frozen_parameters']:,} parameters do not "
            "(frozen, and statistics such as batch-norm averages)")
