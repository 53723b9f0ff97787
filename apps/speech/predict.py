"""Prediction for audio files (`speech predict`): a label per clip, per window of a long
recording (streamed, bounded memory), or a phone sequence for a TIMIT model.
"""
import json
import sys

import numpy as np

from apps.speech import APP
from shared.errors import UserError


SILENCE_LABEL = "(silence)"


def input_configs(pre):
    """The FeatureConfig of each input of a model: one, or several for an ensemble whose
    members read the clip prepared differently (`speech ensemble` of placements fit and centre)."""
    from apps.speech.features import FeatureConfig
    return [FeatureConfig.from_dict(d) for d in pre.get("input_features", [pre["features"]])]


def model_framings(pre):
    """The framings a model reads every clip in, each a list of FeatureConfigs (one per model
    input): its own, then one per `tta_vad_db` threshold, which re-frames the inputs of
    placement "fit" (an input of placement "centre" reads the clip the same way in each)."""
    from apps.speech import features
    per_input = [features.vote_configs(c, pre.get("tta_vad_db", ()) if c.placement == "fit" else ())
                 for c in input_configs(pre)]
    count = max(len(framings) for framings in per_input)
    return [[framings[min(i, len(framings) - 1)] for framings in per_input] for i in range(count)]


def model_inputs(arrays):
    """What `model.predict` takes for one array per model input: the array, or the list."""
    return arrays[0] if len(arrays) == 1 else list(arrays)


def mean_over_framings(model, pre, prepared, batch_size=None):
    """A model's class probabilities, the mean over its framings (`model_framings`).
    `prepared(config, index)` gives the features of model input `index` computed with
    FeatureConfig `config`. An ensemble whose networks read different inputs runs each network
    on its own input, once per distinct framing of it (an input of placement centre reads the
    same in every framing): the same mean with fewer forward passes."""
    from shared.ensemble import members
    framings = model_framings(pre)
    reads = pre.get("member_inputs")
    # (network, the model inputs it reads): the whole model reads them all when the file does not say which
    # network reads which (one input, or a file written before member_inputs was recorded)
    networks = ([(model, range(len(framings[0])))] if reads is None
                else [(net, [j]) for net, j in zip(members(model), reads, strict=True)])
    per_network = []
    for net, inputs in networks:
        outputs = {}  # the FeatureConfigs of its inputs -> this network's probabilities
        for framing in framings:
            key = tuple(framing[j] for j in inputs)
            if key not in outputs:
                outputs[key] = _forward(net, [prepared(framing[j], j) for j in inputs], batch_size)
        per_network.append(np.mean([outputs[tuple(framing[j] for j in inputs)] for framing in framings], axis=0))
    return np.mean(per_network, axis=0)


def _forward(model, arrays, batch_size=None):
    """`model`'s output for one array per input, called directly in batches: `predict`'s
    set-up for each call costs more than a network's pass over one clip."""
    step = batch_size or 256
    return np.concatenate([np.asarray(model(model_inputs([a[i:i + step] for a in arrays]), training=False))
                           for i in range(0, len(arrays[0]), step)])


def load_speech_model(path):
    """(model, preprocessing, FeatureConfig of its first input) of a speech model file."""
    from shared.modelio import load_model
    model, meta = load_model(path, app=APP)
    pre = meta["preprocessing"]
    return model, pre, input_configs(pre)[0]


def _top(probs, names, k):
    order = np.argsort(probs)[::-1][:k]
    return [{"label": names[i], "probability": round(float(probs[i]), 4)} for i in order]


def predict_clip_file(model, pre, config, path, top=3, hop=0.5, chunk=64, normalise=None):
    """A dict for one file: a single clip (up to 1.5 clip lengths) or, for longer
    recordings, one prediction per window, streamed in chunks (bounded memory).
    `normalise(x, config, index)` prepares a batch of features of model input `index`
    computed with FeatureConfig `config` (default: `features.normalise_for_model`)."""
    from apps.speech import audio
    names = pre["class_names"]
    duration = audio.duration_seconds(path)
    if duration <= 1.5 * config.clip_seconds:
        probs = framed_probabilities(model, pre, [audio.load_audio(path, config.sample_rate)], normalise)[0]
        return {"file": str(path), "duration_s": round(duration, 3), "top": _top(probs, names, top)}
    windows, batch, starts = [], [], []

    def flush():
        if batch:
            for start, probs in zip(starts, framed_probabilities(model, pre, batch, normalise)):
                windows.append({"start_s": round(start, 3), "top": _top(probs, names, 1)[0]})
            batch.clear()
            starts.clear()
    for start, y in audio.stream_windows(path, config.sample_rate, config.clip_seconds, hop):
        if np.abs(y).max() < audio.SILENCE_PEAK:
            windows.append({"start_s": round(start, 3), "top": {"label": SILENCE_LABEL, "probability": 1.0}})
            continue
        batch.append(y)
        starts.append(start)
        if len(batch) >= chunk:
            flush()
    flush()
    windows.sort(key=lambda w: w["start_s"])
    if all(w["top"]["label"] == SILENCE_LABEL for w in windows):
        raise UserError(f"{path}: the audio is silent (peak below -80 dBFS)")
    return {"file": str(path), "duration_s": round(duration, 3), "windows": windows}


def framed_probabilities(model, pre, clips, normalise=None):
    """Class probabilities of a batch of waveforms (at the model's sample rate): the mean over
    the model's framings (`model_framings`). `normalise(x, config, index)` prepares the features
    of model input `index` computed with `config` (default: `features.normalise_for_model`)."""
    from apps.speech import features
    normalise = normalise or (lambda x, config, index: features.normalise_for_model(x, pre, input_index=index))
    computed = {}  # FeatureConfig -> features: an input of placement centre reads the same in every framing

    def prepared(config, index):
        if config not in computed:
            computed[config] = np.stack([features.clip_features(y, config) for y in clips])
        return normalise(computed[config], config, index)
    return mean_over_framings(model, pre, prepared)


def predict_frames_file(model, pre, config, path):
    """The frame-level phone sequence of a file (TIMIT model), runs collapsed with times."""
    from apps.speech import audio, data, features
    y = audio.load_audio(path, config.sample_rate)
    feats = features.log_mel(y, config)
    probs = model.predict(data.context_windows(feats, pre["context"]), batch_size=512, verbose=0)
    labels = probs.argmax(1)
    hop = config.hop_length / config.sample_rate
    runs, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append({"phone": pre["class_names"][labels[start]], "start_s": round(start * hop, 3),
                         "end_s": round(i * hop, 3)})
            start = i
    return {"file": str(path), "frames": int(len(labels)), "phones": runs}


def _clip_files_statistics(paths, config, framings):
    """One speaker's statistics over the clip-length files among `paths`: {FeatureConfig:
    (mean, std)} for every input of every framing (None if none is readable; unreadable ones
    are reported when predicted)."""
    from apps.speech import audio, features
    clips = []
    for path in paths:
        try:
            if audio.duration_seconds(path) <= 1.5 * config.clip_seconds:
                clips.append(path)
        except UserError:
            pass
    if not clips:
        return None
    configs = dict.fromkeys(c for framing in framings for c in framing)
    return {c: features.speaker_statistics(features.batch_features(clips, c, cache=False)[0]) for c in configs}


def predict_files(args):
    """Label and probabilities for each audio file (any WAV/FLAC/OGG, any rate or channels).
    Recordings longer than a clip are predicted window by window (memory stays bounded);
    a TIMIT model prints the frame-level phone sequence. Unreadable files are reported
    and skipped (exit status 1 if any failed). A speaker-norm model normalises with the
    training speakers' average statistics, or with --same-speaker those of the clips given."""
    from apps.speech import features
    model, pre, config = load_speech_model(args.model)
    stats = (_clip_files_statistics(args.files, config, model_framings(pre))
             if args.same_speaker and config.speaker_norm else None)

    def normalise(x, config, index):  # each input of each framing with its own statistics, as `evaluate` does
        if stats is None:
            return features.normalise_for_model(x, pre, input_index=index)
        return features.apply_speaker_statistics(x, *stats[config])
    failures = 0
    for path in args.files:
        try:
            if pre["task"] == "frames":
                result = predict_frames_file(model, pre, config, path)
            else:
                result = predict_clip_file(model, pre, config, path, args.top, args.hop, normalise=normalise)
        except UserError as error:
            failures += 1
            print(f"skipped: {error}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(result))
        elif "phones" in result:
            print(f"{path}: " + " ".join(r["phone"] for r in result["phones"]))
        elif "windows" in result:
            print(f"{path}: {len(result['windows'])} windows")
            for w in result["windows"]:
                print(f"  {w['start_s']:9.2f} s  {w['top']['label']} {w['top']['probability']:.3f}")
        else:
            print(f"{path}: " + ", ".join(f"{t['label']} {t['probability']:.3f}" for t in result["top"]))
    if failures:
        print(f"{failures} of {len(args.files)} files could not be read", file=sys.stderr)
        return 1
    return 0
