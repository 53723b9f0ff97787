"""Log-mel filterbank features (librosa), optional deltas, computed once and cached.

Layout (documented once, used everywhere): a clip becomes a float32 array
`(time, freq, channels)`: time = frames (one per hop), freq = mel bands (low to
high), channels = static log-mel, then delta and delta-delta when asked for
(Abdel-Hamid et al. 2014 feed these three as input feature maps). So a kernel
`(1, 8)` spans 8 mel bands of one frame, and `(9, 8)` 8 bands of a 9-frame
context window.
"""
import dataclasses
import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from apps.speech import audio


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = 16000
    n_mels: int = 40
    win_ms: float = 25.0
    hop_ms: float = 10.0
    fmin: float = 20.0
    fmax: float = 0.0  # 0 = Nyquist
    deltas: int = 2  # 0: static only; 1: + delta; 2: + delta-delta
    clip_seconds: float = 1.0
    peak_normalize: bool = True  # scale each clip/window to peak 1: recording gain is not the word
    floor_db: float = 0.0  # clamp log-mel to this many dB below the clip's loudest cell (0: off)
    cmvn: bool = False  # per-utterance mean/variance per band over the voiced frames
    placement: str = "centre"  # "centre": pad/crop around the middle; "fit": trim silence, stretch to `frames`
    vad_db: float = 40.0  # frames within this many dB of the loudest frame count as voiced
    speaker_norm: bool = False  # per-speaker mean/variance per band over all of the speaker's clips

    @property
    def win_length(self):
        return int(round(self.win_ms * self.sample_rate / 1000))

    @property
    def hop_length(self):
        return int(round(self.hop_ms * self.sample_rate / 1000))

    @property
    def n_fft(self):
        return 1 << (self.win_length - 1).bit_length()

    @property
    def clip_samples(self):
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def frames(self):
        return 1 + self.clip_samples // self.hop_length  # librosa's centred framing

    @property
    def channels(self):
        return 1 + self.deltas

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})


NATS_PER_DB = np.log(10.0) / 10.0  # log-mel is in natural-log units of power


def static_log_mel(y, config: FeatureConfig):
    """(n_mels, frames) natural-log mel energies of `y`, with the optional floor."""
    import librosa
    if config.peak_normalize:
        peak = float(np.abs(y).max()) if len(y) else 0.0
        y = y / peak if peak > 0 else y
    mel = librosa.feature.melspectrogram(
        y=y, sr=config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length,
        win_length=config.win_length, n_mels=config.n_mels, fmin=config.fmin,
        fmax=config.fmax or config.sample_rate / 2, power=2.0)
    static = np.log(mel + 1e-6)
    if config.floor_db:  # digital-silence padding then looks like a quiet room, not a cliff
        static = np.maximum(static, static.max() - config.floor_db * NATS_PER_DB)
    return static


def voiced_frames(static, vad_db):
    """Boolean mask of frames whose energy is within `vad_db` dB of the loudest frame."""
    energy = np.log(np.exp(static - static.max()).sum(axis=0))
    return energy >= energy.max() - vad_db * NATS_PER_DB


def cmvn(static, voiced):
    """Per-band mean/variance normalisation with statistics of the voiced frames only
    (so padding and pauses do not shift them): the speaker's and channel's average
    spectral envelope (a constant offset per band in the log domain) drops out."""
    frames = static[:, voiced] if voiced.sum() >= 2 else static
    mean = frames.mean(axis=1, keepdims=True)
    std = np.maximum(frames.std(axis=1, keepdims=True), 1e-3)
    return (static - mean) / std


def speaker_statistics(x):
    """Per-band mean and standard deviation of the static log-mel over every frame of
    `x` (N, T, F, C): one speaker's average spectral envelope and spread."""
    static = x[..., 0]
    return static.mean(axis=(0, 1)), np.maximum(static.std(axis=(0, 1)), 1e-3)


def apply_speaker_statistics(x, mean, std):
    """Subtract `mean` from the static band energies and divide every channel by `std`
    (deltas are linear in the static, so they scale alike and need no mean)."""
    x = np.array(x, dtype=np.float32)
    x[..., 0] -= np.asarray(mean, np.float32)
    x /= np.asarray(std, np.float32)[:, None]
    return x


def normalise_by_speaker(x, speakers):
    """Speaker-level CMVN (as Kaldi applies it per speaker): each speaker's clips are
    normalised with the statistics of all of that speaker's clips. Unlike per-utterance
    CMVN (`cmvn`), which removes the word's own average spectrum from a one-word clip,
    this removes what the speaker's voice and microphone add to every clip."""
    speakers = np.asarray(speakers)
    out = np.empty_like(x, dtype=np.float32)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        out[rows] = apply_speaker_statistics(x[rows], *speaker_statistics(x[rows]))
    return out


def average_speaker_statistics(x, speakers):
    """{"mean", "std"}: the average over speakers of each one's statistics, the stand-in
    for a speaker whose other clips are unknown. Speakers of one clip (Speech Commands'
    `_silence_` files are their own groups) count only when there are no others."""
    speakers = np.asarray(speakers)
    names, counts = np.unique(speakers, return_counts=True)
    names = names[counts > 1] if (counts > 1).any() else names
    stats = [speaker_statistics(x[speakers == name]) for name in names]
    return {"mean": np.mean([m for m, _ in stats], axis=0).round(5).tolist(),
            "std": np.mean([d for _, d in stats], axis=0).round(5).tolist()}


def normalise_for_model(x, preprocessing, speakers=None, input_index=0):
    """`x` as input `input_index` of a model saved with `preprocessing` expects it. A
    speaker-norm model gets each speaker's own statistics when `speakers` (one per row) are
    known, and otherwise the average statistics of its training speakers for that input (a
    lone clip has no speaker statistics of its own: one word's spectrum is the word, see
    `cmvn`; an ensemble of two placements keeps one average per placement)."""
    if not preprocessing["features"].get("speaker_norm"):
        return x
    if speakers is not None:
        return normalise_by_speaker(x, speakers)
    stats = preprocessing.get("input_speaker_stats", [preprocessing["speaker_stats"]])[input_index]
    return apply_speaker_statistics(x, stats["mean"], stats["std"])


def vote_configs(config, vad_dbs=()):
    """The feature settings a model's prediction averages over: `config` with each trim
    threshold of `vad_dbs` (test-time augmentation of placement "fit": where a word starts
    and ends in a noisy clip is uncertain, so each threshold frames it a little
    differently), or `config` alone."""
    return [dataclasses.replace(config, vad_db=float(v)) for v in vad_dbs] or [config]


def fit_to_frames(static, voiced, frames):
    """Trim to the first..last voiced frame and stretch/squeeze linearly to `frames`:
    the word fills the window whatever its duration or position."""
    index = np.flatnonzero(voiced)
    if len(index):
        static = static[:, index[0]:index[-1] + 1]
    source = np.linspace(0.0, 1.0, static.shape[1])
    target = np.linspace(0.0, 1.0, frames)
    if static.shape[1] == 1:
        return np.repeat(static, frames, axis=1)
    return np.stack([np.interp(target, source, band) for band in static])


def log_mel(y, config: FeatureConfig, fit=False):
    """(frames, n_mels, channels) float32 of waveform `y` (already at config.sample_rate);
    `fit=True` trims silence and stretches to `config.frames` (clip placement "fit")."""
    static = static_log_mel(y, config)
    if fit or config.cmvn:
        voiced = voiced_frames(static, config.vad_db)
    if fit:
        static = fit_to_frames(static, voiced, config.frames)
        voiced = np.ones(static.shape[1], dtype=bool)
    if config.cmvn:
        static = cmvn(static, voiced)
    return _with_deltas(static, config)


def _with_deltas(static, config):
    import librosa
    maps = [static]
    if config.deltas:
        width = min(9, static.shape[1] if static.shape[1] % 2 else static.shape[1] - 1)
        if width >= 3:
            for order in range(1, config.deltas + 1):
                maps.append(librosa.feature.delta(static, width=width, order=order, axis=1))
        else:  # a clip of under three frames has no meaningful slope
            maps += [np.zeros_like(static)] * config.deltas
    return np.stack(maps, axis=-1).transpose(1, 0, 2).astype(np.float32)


def clip_features(y, config: FeatureConfig):
    """Features of one clip at the model's length: centred and padded/cropped to
    `clip_seconds`, or (placement "fit") trimmed and stretched to `frames`."""
    if config.placement == "fit":
        return log_mel(y, config, fit=True)
    return log_mel(audio.fix_length(y, config.clip_samples), config)


def file_features(path, config: FeatureConfig):
    return clip_features(audio.load_audio(path, config.sample_rate), config)


def _cache_key(paths, config, extra):
    digest = hashlib.sha256(json.dumps([config.to_dict(), extra], sort_keys=True).encode())
    for p in paths:
        stat = os.stat(p)
        digest.update(f"{os.path.abspath(p)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def _features_or_error(args):
    path, config = args
    try:
        return file_features(path, config), None
    except Exception as error:  # UserError and decoder errors: reported, not fatal
        message = str(error)
        return None, message if str(path) in message else f"{path}: {message}"


def batch_features(paths, config: FeatureConfig, workers=1, cache=True, progress=False):
    """(features (N, T, F, C), kept indices, errors) for many files, cached on disk.

    Unreadable files are skipped and listed in `errors`; the rest are kept.
    The cache key covers every path, size, mtime and the feature config.
    """
    from datasets.registry import cache_dir
    paths = [str(p) for p in paths]
    cache_file = cache_dir() / "speech" / "features" / f"{_cache_key(paths, config, 'clips')}.npz"
    if cache and cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as stored:
            return stored["x"], stored["kept"], list(stored["errors"])
    jobs = [(p, config) for p in paths]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_features_or_error, jobs, chunksize=32))
    else:
        results = [_features_or_error(job) for job in _progress(jobs, progress)]
    kept = np.array([i for i, (x, _) in enumerate(results) if x is not None], dtype=np.int64)
    errors = [f"{e}" for x, e in results if x is None]
    shape = (0, config.frames, config.n_mels, config.channels)
    x = np.stack([results[i][0] for i in kept]) if len(kept) else np.zeros(shape, np.float32)
    if cache:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, x=x, kept=kept, errors=np.array(errors, dtype=str))
        os.replace(tmp, cache_file)
    return x, kept, errors


def _progress(items, enabled):
    if not enabled:
        return items
    from tqdm.auto import tqdm
    return tqdm(items, desc="features", unit="clip")
