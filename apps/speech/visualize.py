"""What a speech CNN listens to: saliency over the spectrogram, first-layer filters and the
tone frequencies they respond to, activation maps along frequency, and maximizing spectrograms.

Works on the clip models of the app (input (frames, mel bands, channels): static
log-mel, delta, delta-delta; output one probability per class). Pictures put
frequency up and time across, like a spectrogram; only the static channel is drawn.
The generic parts (gradients, Grad-CAM, maximization, grids) are `shared.visualize`.

- `saliency_png`: the clip's log-mel, |d logit / d input| (max over channels) and
  Grad-CAM at the last conv layer, side by side (Simonyan et al. 2013; Selvaraju et al. 2017).
- `filters_png`: each first-layer kernel's static-channel weights (mel bands x frames).
- `tone_response` / `tone_response_png`: the degree of activation of every first-layer
  filter (after its ReLU) for pure tones swept over the mel range: the frequencies each
  filter is tuned to, measured through the real feature pipeline.
- `maximize_png`: spectrograms that maximize a class, filter or unit, with L1 /
  total-variation / jitter / blur regularizers (`shared.visualize.maximize`); the
  input range is the example clip's, so the results are in the same log-energy units.
- `run`: `run.py speech visualize`.
"""
from pathlib import Path

import numpy as np

from shared import examples as shared_examples, visualize as viz
from shared.ensemble import first_member
from shared.errors import UserError
from shared.plots import pyplot, save_figure


def _spectrogram(ax, picture, title, cmap="magma", **kwargs):
    ax.imshow(picture, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest", **kwargs)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("frame", fontsize=8)


def explain(model, x, class_index=None, layer=None):
    """{name: map (frames, bands)} and the class, for one clip's features x: saliency
    |d logit / d input|, SmoothGrad (the same averaged over noisy copies of the clip),
    integrated gradients (|input x mean gradient| on the path from the clip's quietest value
    everywhere, a silence) and Grad-CAM at `layer` (default: the last conv)."""
    grad, class_index = viz.saliency(model, x, class_index)
    spread = float(np.max(x) - np.min(x)) or 1.0
    smooth, _ = viz.smoothgrad(model, x, class_index, value_range=spread)
    integrated, _ = viz.integrated_gradients(model, x, class_index, baseline=np.full_like(x, np.min(x)))
    cam, _ = viz.grad_cam(model, x, layer, class_index)
    maps = {"saliency": viz.saliency_map(grad, 2), "SmoothGrad": viz.saliency_map(smooth, 2),
            "integrated gradients": viz.saliency_map(integrated, 2),
            f"Grad-CAM ({layer or viz.conv_layers(model)[-1]})": cam}
    return maps, class_index


def saliency_png(model, x, path, class_names, title="", class_index=None, layer=None):
    """Log-mel (static channel), then saliency, SmoothGrad, integrated gradients and Grad-CAM
    over it, frequency up."""
    maps, class_index = explain(model, x, class_index, layer)
    probability = float(np.asarray(model(x[None], training=False))[0, class_index])
    plt = pyplot()
    fig, axes = plt.subplots(1, 1 + len(maps), figsize=(3.4 * (1 + len(maps)), 3.6), sharey=True)
    _spectrogram(axes[0], x[..., 0].T, "log-mel (static)")
    axes[0].set_ylabel("mel band", fontsize=8)
    for ax, (name, heat) in zip(axes[1:], maps.items()):
        _spectrogram(ax, x[..., 0].T, name, cmap="gray")
        ax.imshow(heat.T, origin="lower", aspect="auto", cmap="jet", alpha=0.55)
    fig.suptitle(f"{title}{': ' if title else ''}class {class_names[class_index]} (p {probability:.2f})", fontsize=10)
    return save_figure(fig, path, dpi=80)


def first_conv(model):
    names = viz.conv_layers(model)
    if not names:
        raise UserError("the model has no convolution layer")
    return names[0]


def filters_png(model, path, layer=None, max_filters=32):
    """Static-channel weights of each filter of the first conv layer: mel bands up, frames across."""
    layer = viz.get_layer(model, layer or first_conv(model))
    kernel = np.asarray(layer.kernel)
    if kernel.ndim != 4:
        raise UserError(f"{layer.name}: expected a 2D (frames x mel bands) convolution")
    n = min(kernel.shape[-1], max_filters)
    limit = float(np.abs(kernel[..., 0, :n]).max())  # one symmetric scale: white = 0 in every filter
    return viz.grid_png([kernel[:, :, 0, k].T for k in range(n)], path, titles=[str(k) for k in range(n)],
                        cmap="RdBu_r", origin="lower", scale=1.2, shared_range=(-limit, limit),
                        suptitle=f"{layer.name}: static-channel weights of {n} of {kernel.shape[-1]} filters "
                                 f"({kernel.shape[1]} mel bands x {kernel.shape[0]} frames)")


def tone_frequencies(config, count=48):
    """`count` tone frequencies (Hz) spaced evenly on the mel scale over the features' range."""
    import librosa
    fmax = config.fmax or config.sample_rate / 2
    return librosa.mel_frequencies(count + 2, fmin=config.fmin, fmax=fmax)[1:-1]


def tone_response(model, config, layer=None, count=48, preprocessing=None):
    """(frequencies (count,), responses (count, filters)): the mean activation of each filter
    of `layer` (default: the first conv's ReLU) for a one-clip pure tone at each frequency
    (normalised as the model's `preprocessing` asks, when given)."""
    from apps.speech import features
    layer = layer or viz.activation_after(model, first_conv(model))
    frequencies = tone_frequencies(config, count)
    t = np.arange(config.clip_samples) / config.sample_rate
    ramp = np.minimum(1, np.minimum(t, t[-1] - t) / 0.02)  # 20 ms fades: no clicks at the ends
    x = np.stack([features.clip_features((0.5 * ramp * np.sin(2 * np.pi * f * t)).astype(np.float32), config)
                  for f in frequencies])
    if preprocessing is not None:
        x = features.normalise_for_model(x, preprocessing)
    maps = viz.feature_model(model, [layer])(x, training=False)
    maps = np.asarray(maps[0] if isinstance(maps, (list, tuple)) else maps)
    return frequencies, maps.reshape(len(frequencies), -1, maps.shape[-1]).mean(1)


def tone_response_png(model, config, path, layer=None, count=48, preprocessing=None):
    """Filters (sorted by best frequency) x tone frequency, each filter scaled to its maximum."""
    layer = layer or viz.activation_after(model, first_conv(model))
    frequencies, response = tone_response(model, config, layer, count, preprocessing)
    scaled = response / (response.max(0, keepdims=True) + 1e-12)
    order = np.argsort(frequencies[np.argmax(response, 0)])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    image = ax.imshow(scaled[:, order].T, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest")
    ticks = np.linspace(0, len(frequencies) - 1, 7).round().astype(int)
    ax.set_xticks(ticks, [f"{frequencies[i]:.0f}" for i in ticks])
    ax.set_xlabel("tone frequency (Hz, mel-spaced)")
    ax.set_ylabel("filter (sorted by best frequency)")
    ax.set_yticks(range(len(order))[::4], [str(k) for k in order[::4]], fontsize=7)
    ax.set_title(f"{layer}: mean activation for pure tones (each filter scaled to its maximum)", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)
    return save_figure(fig, path, dpi=80)


def maximize_png(model, targets, x, path, class_names, steps=150, regularizers=viz.Regularizers(), seed=0,
                 step_size=0.02):
    """Spectrograms (static channel) that maximize each target, in the example clip's value range."""
    preprocessing = {"input_range": [float(x.min()), float(x.max())]}
    pictures, titles = [], []
    for target in targets:
        best, history = viz.maximize(model, target, steps=steps, step_size=step_size, regularizers=regularizers,
                                     preprocessing=preprocessing, seed=seed)
        pictures.append(best[0, ..., 0].T)
        label = f"class {class_names[target.index]}" if target.kind == "class" else target.describe()
        titles.append(f"{label}\n{history[0]:.3g}->{history[-1]:.3g}")
    return viz.grid_png(pictures, path, titles=titles, cmap="magma", origin="lower", ncols=min(len(pictures), 5),
                        shared_range=tuple(preprocessing["input_range"]), scale=1.8,
                        suptitle=f"log-mel inputs that maximize each target (L1 {regularizers.l1}, TV "
                                 f"{regularizers.tv}, jitter {regularizers.jitter}, blur {regularizers.blur})")


# ---------------------------------------------------------------- inputs

EXAMPLE_CLIPS = {"fsdd": "seven.wav", "commands": "yes.wav"}  # in examples/, for when no dataset is here


def default_clip(pre, data_dir=None):
    """A clip of the model's dataset: the first recording of the first class (FSDD: a '0';
    Speech Commands: a 'yes'); where the dataset is not here, the example clip kept in the
    repository for it (examples/seven.wav, examples/yes.wav)."""
    from apps.speech import data, examples
    try:
        items = examples.items(pre["dataset"], data.default_root(pre["dataset"], data_dir))
    except UserError as missing:
        if pre["dataset"] not in EXAMPLE_CLIPS:
            raise
        clip = shared_examples.path(EXAMPLE_CLIPS[pre["dataset"]])
        print(f"no {pre['dataset']} data here ({missing}); using the example clip {clip}")
        return clip
    if not items:
        raise UserError(f"no {pre['dataset']} recordings found in the data; pass --audio FILE")
    return sorted((i for i in items if i[1] == 0), key=lambda i: str(i[0]))[0][0]


# ---------------------------------------------------------------- `run.py speech visualize`

def run(args):
    """Pictures of what a speech clip model learned, written as PNGs into --out:
    saliency and Grad-CAM over the spectrogram, first-layer filters and their pure-tone
    frequency responses, activation maps (frequency up), and spectrograms that maximize
    a class, filter or unit (L1 / total-variation / jitter / blur). With no choice, the standard set."""
    from apps.speech import features
    from apps.speech.predict import load_speech_model
    model, pre, config = load_speech_model(args.model)
    model = first_member(model)
    if pre.get("task") != "clips":
        raise UserError(f"{args.model}: visualize is for clip models (FSDD, Speech Commands), not frame models")
    names = pre["class_names"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    audio = Path(args.audio) if args.audio else default_clip(pre, args.data_dir)
    x = features.normalise_for_model(features.file_features(audio, config)[None], pre)[0]
    if args.class_index is not None and not 0 <= args.class_index < len(names):
        raise UserError(f"--class {args.class_index}: must be in 0..{len(names) - 1}")
    regularizers = viz.Regularizers(l1=args.l1, tv=args.tv, jitter=args.jitter, blur=args.blur)
    chosen = any([args.saliency, args.filters, args.tones, args.activations, args.maximize])
    written = []
    if args.saliency or not chosen:
        layer = args.layer if args.layer in viz.conv_layers(model) else None
        written.append(saliency_png(model, x, out / f"saliency_{audio.stem}.png", names, audio.name,
                                    args.class_index, layer))
    if args.filters or not chosen:
        written.append(filters_png(model, out / "filters.png"))
    if args.tones or not chosen:
        written.append(tone_response_png(model, config, out / "tone_response.png", preprocessing=pre))
    if args.activations or not chosen:
        layer = args.layer or viz.activation_after(model, first_conv(model))
        written.append(viz.activation_maps_png(model, layer, x, out / f"activations_{layer}.png", max_maps=16,
                                               origin="lower", transpose=True))
    targets = [viz.parse_target(model, text) for text in args.maximize or []]
    if not chosen:
        targets = [viz.Target("class", c) for c in range(min(len(names), 10))]
    if targets:
        written.append(maximize_png(model, targets, x, out / ("maximize.png" if args.maximize else
                                                              "maximize_classes.png"), names, args.steps,
                                    regularizers, args.seed, args.step_size))
    for path in written:
        print(f"wrote {path}")
    return 0
