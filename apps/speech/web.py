"""The Speech tab of `run.py serve`: record or upload a word, get the model's label and where
in the spectrogram it listened.

A clip is classified as `speech predict` does (`apps.speech.predict.framed_probabilities`: the
model's framings and ensemble members averaged). A recording longer than 1.5 clip lengths (a
microphone take with silence around the word) is cut to the clip-length window centred on its
loudest part, which is inside the word. The picture is `apps.speech.visualize.saliency_png` on that
clip: the log-mel, then saliency, SmoothGrad, integrated gradients and Grad-CAM over it, for the
ensemble's first network. An unreadable, empty or silent file gives a message.
"""
from pathlib import Path

import numpy as np

from apps.speech import APP
from shared.errors import UserError

TITLE = "Speech"
MODELS = {"FSDD: spoken digits 0-9": "speech_fsdd.keras",
          "Speech Commands: 12 keywords": "speech_commands.keras"}
_LOUDEST_SECONDS = 0.1  # the energy envelope's span when looking for the loudest part of a recording


def available_models(models_dir):
    """{choice: path} of the MODELS present in `models_dir`."""
    return {choice: Path(models_dir) / name for choice, name in MODELS.items() if (Path(models_dir) / name).is_file()}


def loudest_window(y, length, smoothing):
    """(start sample, the `length` samples of `y` from there) centred on the loudest part of `y`
    (its energy summed over `smoothing` samples): inside a word, so the window holds that word
    (a window of the most energy in all would rather straddle two words of a longer take)."""
    if len(y) <= length:
        return 0, y
    smoothing = max(1, min(smoothing, len(y)))
    energy = np.concatenate([[0.0], np.cumsum(np.square(y, dtype=np.float64))])
    loudest = int(np.argmax(energy[smoothing:] - energy[:-smoothing])) + smoothing // 2
    start = int(np.clip(loudest - length // 2, 0, len(y) - length))
    return start, y[start:start + length]


def classify(model, meta, path):
    """A dict for one audio file: `probabilities` {label: p}, `label`, `clip` (the samples
    classified, at the model's rate), `note` (what was classified); UserError naming the file
    when it cannot be read or holds nothing to classify."""
    from apps.speech import audio
    from apps.speech.predict import framed_probabilities, input_configs
    pre = meta["preprocessing"]
    if pre.get("task") != "clips":
        raise UserError(f"{Path(path).name}: this tab is for clip models (FSDD, Speech Commands)")
    config = input_configs(pre)[0]
    y = audio.load_audio(path, config.sample_rate, max_seconds=60)
    seconds = len(y) / config.sample_rate
    note = f"{seconds:.2f} s"
    if len(y) > 1.5 * config.clip_samples:
        start, y = loudest_window(y, config.clip_samples, int(_LOUDEST_SECONDS * config.sample_rate))
        audio.check_signal(y, path, config.sample_rate)
        note = (f"{seconds:.2f} s recording: classified the {config.clip_seconds:g} s around its loudest part, "
                f"{start / config.sample_rate:.2f}-{(start + len(y)) / config.sample_rate:.2f} s "
                f"(`run.py speech predict` labels every window of a longer take)")
    probabilities = framed_probabilities(model, pre, [y])[0]
    names = pre["class_names"]
    best = int(np.argmax(probabilities))
    return {"probabilities": {name: float(p) for name, p in zip(names, probabilities)}, "label": names[best],
            "clip": y, "note": note}


def saliency_picture(model, meta, clip, title=""):
    """`apps.speech.visualize.saliency_png` of a clip (samples at the model's rate) as an RGB array."""
    from apps.speech import features
    from apps.speech.predict import input_configs
    from apps.speech.visualize import saliency_png
    from shared.ensemble import first_member
    from shared.serve import figure_picture
    pre = meta["preprocessing"]
    x = features.normalise_for_model(features.clip_features(clip, input_configs(pre)[0])[None], pre)[0]
    return figure_picture(lambda path: saliency_png(first_member(model), x, path, pre["class_names"], title))


def panel(models_dir):
    """The Speech tab: microphone or file, model choice, label, saliency over the log-mel."""
    import gradio as gr

    from shared import serve

    choices = available_models(models_dir)
    if not choices:
        gr.Markdown(serve.missing_models_note(models_dir, list(MODELS.values()), "python run.py speech train"),
                    elem_id="speech-message")
        return
    with gr.Row():
        with gr.Column():
            recording = gr.Audio(sources=["microphone", "upload"], type="filepath", label="Record or upload a word",
                                 elem_id="speech-audio")
            model_choice = gr.Radio(list(choices), value=next(iter(choices)), label="Model",
                                    elem_id="speech-model")
            button = gr.Button("Classify", variant="primary", elem_id="speech-classify")
            message = gr.Markdown(elem_id="speech-message")
        with gr.Column():
            label = gr.Label(num_top_classes=5, label="Label", elem_id="speech-label")
    picture = gr.Image(label="Where it listened: log-mel, saliency, SmoothGrad, integrated gradients, Grad-CAM "
                             "(the ensemble's first network)", interactive=False, elem_id="speech-saliency")

    def run(file, choice):
        if not file:
            raise UserError("no recording: record a word or upload a WAV, FLAC or OGG file")
        if choice not in choices:
            raise UserError(f"model {choice!r}: not among {', '.join(choices)}")
        model, meta = serve.cached_model(choices[choice], APP)
        result = classify(model, meta, file)
        return (result["probabilities"], saliency_picture(model, meta, result["clip"], Path(file).name),
                f"{result['note']}: **{result['label']}**")

    handler = serve.report_errors(run, 3)
    button.click(handler, [recording, model_choice], [label, picture, message])
    recording.stop_recording(handler, [recording, model_choice], [label, picture, message])
    recording.upload(handler, [recording, model_choice], [label, picture, message])
