"""Prediction for audio files (`speech predict`): a label per clip, per window of a long
recording (streamed, bounded memory), or a phone sequence for a TIMIT model.
"""
import json
import sys

import numpy as np

from apps.speech import APP
from shared.errors import UserError


SILENCE_LABEL = "(silence)"


def model_framings(pre, config):
    """The framings a model reads every clip in: its own, then one per `tta_vad_db` threshold."""
    from apps.speech import features
    return features.vote_configs(config, pre.get("tta_vad_db", ()))


def load_speech_model(path):
    """(model, preprocessing, FeatureConfig) of a speech model file."""
    from apps.speech.features import FeatureConfig
    from shared.modelio import load_model
    model, meta = load_model(path, app=APP)
    pre = meta["preprocessing"]
    return model, pre, FeatureConfig.from_dict(pre["features"])


def _top(probs, names, k):
    order = np.argsort(probs)[::-1][:k]
    return [{"label": names[i], "probability": round(float(probs[i]), 4)} for i in order]


def predict_clip_file(model, pre, config, path, top=3, hop=0.5, chunk=64, normalise=None):
    """A dict for one file: a single clip (up to 1.5 clip lengths) or, for longer
    recordings, one prediction per window, streamed in chunks (bounded memory).
    `normalise(x, i)` prepares a batch of features framed by the model's i-th framing
    (default: `features.normalise_for_model`)."""
    from apps.speech import audio, features
    normalise = normalise or (lambda x, i: features.normalise_for_model(x, pre))
    names = pre["class_names"]
    framings = model_framings(pre, config)

    def probabilities(clips):  # a batch of waveforms: the mean over the model's framings
        return np.mean([model.predict(normalise(np.stack([features.clip_features(y, framing) for y in clips]), i),
                                      verbose=0) for i, framing in enumerate(framings)], axis=0)
    duration = audio.duration_seconds(path)
    if duration <= 1.5 * config.clip_seconds:
        probs = probabilities([audio.load_audio(path, config.sample_rate)])[0]
        return {"file": str(path), "duration_s": round(duration, 3), "top": _top(probs, names, top)}
    windows, batch, starts = [], [], []

    def flush():
        if batch:
            for start, probs in zip(starts, probabilities(batch)):
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
    """One speaker's statistics over the clip-length files among `paths`, one (mean, std)
    per framing (None if none is readable; unreadable ones are reported when predicted)."""
    from apps.speech import audio, features
    clips = []
    for path in paths:
        try:
            if audio.duration_seconds(path) <= 1.5 * config.clip_seconds:
                clips.append(path)
        except UserError:
            pass
    arrays = [features.batch_features(clips, framing, cache=False)[0] for framing in framings]
    return [features.speaker_statistics(x) for x in arrays] if len(arrays[0]) else None


def predict_files(args):
    """Label and probabilities for each audio file (any WAV/FLAC/OGG, any rate or channels).
    Recordings longer than a clip are predicted window by window (memory stays bounded);
    a TIMIT model prints the frame-level phone sequence. Unreadable files are reported
    and skipped (exit status 1 if any failed). A speaker-norm model normalises with the
    training speakers' average statistics, or with --same-speaker those of the clips given."""
    from apps.speech import features
    model, pre, config = load_speech_model(args.model)
    stats = (_clip_files_statistics(args.files, config, model_framings(pre, config))
             if args.same_speaker and config.speaker_norm else None)

    def normalise(x, i):  # each framing with its own statistics, as `evaluate` normalises
        if stats is None:
            return features.normalise_for_model(x, pre)
        return features.apply_speaker_statistics(x, mean=stats[i][0], std=stats[i][1])
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
