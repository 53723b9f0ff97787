"""Audio loading: any WAV/FLAC/OGG (and NIST SPHERE), any rate or channel count.

Files are read with libsndfile (python-soundfile), mixed down to mono and
resampled with librosa (soxr), so every later step sees float32 mono at the
model's rate. Clips are padded or centre-cropped to the model's length.
Long recordings are streamed in overlapping blocks (`stream_windows`) so a
two-hour file never sits in memory at once.
"""
from pathlib import Path

import numpy as np
import soundfile as sf

from shared.errors import UserError

# Containers libsndfile reads that we accept; `.wav` may hold NIST SPHERE (TIMIT).
SUPPORTED_SUFFIXES = {".wav", ".wave", ".flac", ".ogg", ".oga", ".sph", ".nist"}
SILENCE_PEAK = 1e-4  # below -80 dBFS peak a recording carries no usable signal
MIN_SECONDS = 0.05  # shorter than any spoken word, and than two 25 ms analysis windows


def _info(path):
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not an audio file")
    if not path.is_file():
        raise UserError(f"{path}: audio file not found")
    suffix = "".join(s for s in path.suffixes[-1:]).lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UserError(f"{path}: unsupported audio format {suffix or '(no extension)'!r}; "
                        f"use WAV, FLAC or OGG (e.g. `ffmpeg -i {path.name} out.wav`)")
    try:
        return sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as error:
        raise UserError(f"{path}: not a readable audio file ({error})") from None


def _to_mono(data):
    return data.mean(axis=1) if data.ndim == 2 else data


def _resample(y, orig_sr, target_sr):
    if orig_sr == target_sr:
        return y
    import librosa
    return librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq")


def _check_finite(y, path, where=""):
    if not np.isfinite(y).all():
        raise UserError(f"{path}: the audio holds NaN or infinite samples{where}")


def check_signal(y, path, sample_rate=None):
    """UserError for empty, too short or digitally silent audio (nothing to classify); the samples
    are already finite (`load_audio` checks them before resampling)."""
    if y.size == 0:
        raise UserError(f"{path}: the audio is empty (0 samples)")
    if sample_rate and y.size < MIN_SECONDS * sample_rate:
        raise UserError(f"{path}: only {1000 * y.size / sample_rate:.0f} ms of audio; at least "
                        f"{1000 * MIN_SECONDS:.0f} ms is needed")
    if float(np.abs(y).max()) < SILENCE_PEAK:
        raise UserError(f"{path}: the audio is silent (peak below -80 dBFS)")


def load_audio(path, sample_rate, max_seconds=600.0):
    """Float32 mono samples of `path` at `sample_rate`.

    Files longer than `max_seconds` are refused here: use `stream_windows`
    (what `predict` does) for long recordings.
    """
    info = _info(path)
    if info.frames > max_seconds * info.samplerate:
        raise UserError(f"{path}: {info.frames / info.samplerate:.0f} s is too long to load at once "
                        f"(limit {max_seconds:.0f} s); it is processed in windows by `predict`")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (RuntimeError, sf.LibsndfileError) as error:
        raise UserError(f"{path}: could not decode the audio ({error})") from None
    _check_finite(data, path)  # before resampling, which refuses non-finite input
    y = _resample(_to_mono(data), rate, sample_rate).astype(np.float32)
    check_signal(y, path, sample_rate)
    return y


def fix_length(y, length):
    """Centre `y` in exactly `length` samples: zero-pad both sides, or crop the middle.

    Centring (not end-padding) keeps short words such as FSDD digits in the
    middle of the window, where time-shift augmentation cannot push them out."""
    if len(y) >= length:
        start = (len(y) - length) // 2
        return y[start:start + length]
    before = (length - len(y)) // 2
    return np.pad(y, (before, length - len(y) - before))


def duration_seconds(path):
    info = _info(path)
    return info.frames / info.samplerate


def stream_windows(path, sample_rate, window_s, hop_s):
    """Yield (start_seconds, samples) windows of `window_s` every `hop_s`, at `sample_rate`.

    Reads the file block by block (memory bounded by one window), so recordings
    of hours work. The last partial window is zero-padded. Silent windows are
    yielded too; the caller decides what to do with them.
    """
    if not 0 < hop_s <= window_s:
        raise UserError(f"--hop must be more than 0 and at most the {window_s:g} s window, not {hop_s:g}")
    info = _info(path)
    native_window = int(round(window_s * info.samplerate))
    native_hop = max(1, int(round(hop_s * info.samplerate)))
    target = int(round(window_s * sample_rate))
    try:
        blocks = sf.blocks(str(path), blocksize=native_window, overlap=native_window - native_hop,
                           dtype="float32", always_2d=True, fill_value=0.0)
        for index, block in enumerate(blocks):
            _check_finite(block, path, f" (in the window at {index * native_hop / info.samplerate:.1f} s)")
            y = _resample(_to_mono(block), info.samplerate, sample_rate)
            yield index * native_hop / info.samplerate, fix_length(y.astype(np.float32), target)
            if index * native_hop + native_window >= info.frames:
                break
    except (RuntimeError, sf.LibsndfileError) as error:
        raise UserError(f"{path}: could not decode the audio ({error})") from None
