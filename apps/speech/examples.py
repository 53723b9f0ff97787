"""Feature arrays and labels for training and evaluation, per dataset kind.

Ties data.py (which files, which labels, which speakers) to features.py
(log-mel arrays, cached) and augment.py (extra training variants):

- clip tasks (FSDD, Speech Commands): one `(frames, mels, channels)` array per clip;
- the frame task (TIMIT): one `(context, mels, channels)` window per frame,
  labelled with its folded phone.
Unreadable files are skipped and returned as messages; nothing else is lost.
"""
import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np

from apps.speech import audio, augment, data, features

CLIP_TASKS = {"fsdd": (data.fsdd_items, data.FSDD_CLASSES), "commands": (data.commands_items, data.COMMANDS_CLASSES)}

DEFAULT_FEATURES = {  # FSDD is recorded at 8 kHz; the others at 16 kHz
    "fsdd": features.FeatureConfig(sample_rate=8000, n_mels=40, fmax=4000.0, clip_seconds=1.0),
    "commands": features.FeatureConfig(sample_rate=16000, n_mels=40, fmax=8000.0, clip_seconds=1.0),
    "timit": features.FeatureConfig(sample_rate=16000, n_mels=40, fmax=8000.0, clip_seconds=0.0),
}


def class_names(dataset):
    return data.TIMIT_CLASSES if dataset == "timit" else CLIP_TASKS[dataset][1]


def items(dataset, root):
    """[(path, label, speaker)] for clip datasets, [(wav, phn, speaker)] for TIMIT."""
    return data.timit_utterances(root) if dataset == "timit" else CLIP_TASKS[dataset][0](root)


def clip_arrays(clip_items, config, workers=1, progress=False):
    """(x, y, speakers, errors) of clip items (the readable ones), features cached on disk."""
    x, kept, errors = features.batch_features([i[0] for i in clip_items], config, workers=workers,
                                              progress=progress)
    y = np.array([clip_items[i][1] for i in kept], dtype=np.int64)
    return x, y, [clip_items[i][-1] for i in kept], errors


def clip_seed(seed, path):
    """A per-clip seed, so a clip's variants do not depend on which other clips are in the split."""
    return int.from_bytes(hashlib.sha1(f"{seed}|{Path(path).name}".encode()).digest()[:8], "little")


def augmented_clip_arrays(clip_items, config, copies, seed, noise_files=(), aug_config=augment.AugmentConfig(),
                          cache=True):
    """`copies` random variants of every clip (time shift, noise at an SNR, speed, pitch),
    cached on disk like the plain features (key: clips, features, augmentation, seed, noises)."""
    from datasets.registry import cache_dir
    key = features._cache_key([i[0] for i in clip_items] + list(noise_files), config,
                              ["augment", copies, seed, dataclasses.asdict(aug_config), len(noise_files)])
    cache_file = cache_dir() / "speech" / "features" / f"aug-{key}.npz"
    if cache and cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as stored:
            return stored["x"], stored["y"], stored["owner"]
    noises = []
    for path in noise_files:
        try:
            noises.append(audio.load_audio(path, config.sample_rate))
        except Exception:  # a bad noise file only loses that noise source
            continue
    xs, ys, owner = [], [], []
    fit = config.placement == "fit"
    for index, (path, label, _) in enumerate(clip_items):
        try:
            y = audio.load_audio(path, config.sample_rate)
        except Exception:
            continue
        rng = np.random.default_rng(clip_seed(seed, path))
        for _ in range(copies):
            variant = augment.augment(y, config.sample_rate, config.clip_samples, rng, aug_config, noises,
                                      pad=not fit)
            xs.append(features.clip_features(variant, config))
            ys.append(label)
            owner.append(index)
    shape = (0, config.frames, config.n_mels, config.channels)
    x = np.stack(xs) if xs else np.zeros(shape, np.float32)
    y, owner = np.array(ys, dtype=np.int64), np.array(owner, dtype=np.int64)
    if cache:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, x=x, y=y, owner=owner)
        os.replace(tmp, cache_file)
    return x, y, owner


def utterance_frames(wav, phn, config):
    """(features (T, F, C), frame labels (T,)) of one TIMIT utterance (-1: no label)."""
    y = audio.load_audio(wav, config.sample_rate)
    feats = features.log_mel(y, config)
    segments = data.read_phn(phn)
    labels = data.frame_labels(segments, len(feats), config.hop_length, 16000, config.sample_rate)
    return feats, labels


def frame_arrays(utterances, config, context):
    """(x (N, context, F, C), y (N,), errors) over the labelled frames of TIMIT utterances."""
    xs, ys, errors = [], [], []
    for wav, phn, _ in utterances:
        try:
            feats, labels = utterance_frames(wav, phn, config)
        except Exception as error:
            errors.append(str(error))
            continue
        keep = labels >= 0
        xs.append(data.context_windows(feats, context)[keep])
        ys.append(labels[keep])
    shape = (0, context, config.n_mels, config.channels)
    return (np.concatenate(xs) if xs else np.zeros(shape, np.float32),
            np.concatenate(ys) if ys else np.zeros(0, np.int64), errors)
