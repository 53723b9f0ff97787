"""Waveform augmentation that keeps the label: time shift, background noise at
an SNR, speed and pitch perturbation, onset/offset trimming (Ko et al. 2015 use speed 0.9/1.0/1.1, here 0.75-1.25
because FSDD speakers' mean durations differ by 1.5x;
Warden 2018 shifts up to 100 ms and mixes in background noise).

All functions take float32 mono samples and a `numpy.random.Generator`, so a
seed reproduces the augmented training set.
"""
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    max_shift_s: float = 0.1
    noise_probability: float = 0.8
    snr_db: tuple = (5.0, 20.0)  # uniform in this range
    speed_range: tuple = (0.75, 1.25)  # speakers' rates differ more than Ko et al.'s +-10%
    speed_probability: float = 0.8
    pitch_semitones: float = 2.0
    pitch_probability: float = 0.3
    random_placement: bool = False  # shift anywhere the clip still fits in the window (no position cue)
    # Trim the clip's quiet ends at a random threshold (dB below its peak): a corpus trimmed to "minimal
    # silence" has lost weak onsets (FSDD's yweweler says "six" without its /s/); off when empty.
    trim_db: tuple = ()
    trim_probability: float = 0.5


def time_shift(y, max_shift, rng):
    """Shift by up to `max_shift` samples either way, filling with zeros (length kept)."""
    shift = int(rng.integers(-max_shift, max_shift + 1)) if max_shift else 0
    if shift == 0:
        return y.copy()
    out = np.zeros_like(y)
    if shift > 0:
        out[shift:] = y[:-shift]
    else:
        out[:shift] = y[-shift:]
    return out


def add_noise(y, noise, snr_db, rng):
    """Mix a random stretch of `noise` into `y` at `snr_db` (signal power / noise power)."""
    if len(noise) < len(y):
        noise = np.tile(noise, -(-len(y) // len(noise)))
    start = int(rng.integers(0, len(noise) - len(y) + 1))
    piece = noise[start:start + len(y)].astype(np.float32)
    signal_power = float(np.mean(y ** 2)) + 1e-12
    noise_power = float(np.mean(piece ** 2)) + 1e-12
    scale = np.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return (y + scale * piece).astype(np.float32)


def change_speed(y, factor):
    """Play `factor` times faster (tempo and pitch together), by resampling."""
    import librosa
    if factor == 1.0:
        return y
    return librosa.resample(y, orig_sr=1000 * factor, target_sr=1000, res_type="soxr_qq").astype(np.float32)


def shift_pitch(y, sample_rate, semitones):
    """Change pitch by `semitones` keeping the duration (librosa phase vocoder)."""
    import librosa
    return librosa.effects.pitch_shift(y, sr=sample_rate, n_steps=semitones).astype(np.float32)


def trim_quiet_ends(y, sample_rate, top_db):
    """Cut the leading and trailing stretches more than `top_db` dB below the loudest 32 ms frame
    (librosa.effects.trim with speech-sized frames); a clip that would vanish is kept whole."""
    import librosa
    frame, hop = int(0.032 * sample_rate), int(0.008 * sample_rate)
    trimmed, _ = librosa.effects.trim(y, top_db=top_db, frame_length=frame, hop_length=hop)
    return trimmed if len(trimmed) >= frame else y


def coloured_noise(length, rng, exponent=1.0):
    """Noise with a 1/f**exponent power spectrum (0 white, 1 pink, 2 brown); unit RMS."""
    spectrum = rng.normal(size=length // 2 + 1) + 1j * rng.normal(size=length // 2 + 1)
    frequencies = np.maximum(np.fft.rfftfreq(length), 1.0 / length)
    noise = np.fft.irfft(spectrum / frequencies ** (exponent / 2), n=length)
    return (noise / (noise.std() + 1e-12)).astype(np.float32)


def augment(y, sample_rate, length, rng, config=AugmentConfig(), noises=(), pad=True):
    """One random label-preserving variant of clip `y`, `length` samples long
    (`pad=False`: the variant keeps its own length, for features that fit the
    clip to the window; no shift, and the noise covers only the clip)."""
    from apps.speech.audio import fix_length
    # drawn only when asked, so that variants without trimming stay those of earlier versions
    if config.trim_db and rng.random() < config.trim_probability:
        y = trim_quiet_ends(y, sample_rate, float(rng.uniform(*config.trim_db)))
    if rng.random() < config.speed_probability:
        y = change_speed(y, float(rng.uniform(*config.speed_range)))
    own_length = len(y)
    y = fix_length(y, max(length, own_length))  # before the phase vocoder, which needs more than one FFT frame
    if config.pitch_semitones and rng.random() < config.pitch_probability:
        y = shift_pitch(y, sample_rate, float(rng.uniform(-config.pitch_semitones, config.pitch_semitones)))
    if pad:
        free = max(0, length - own_length) // 2  # the clip is centred: this much room either side
        max_shift = max(int(config.max_shift_s * sample_rate), free if config.random_placement else 0)
        y = time_shift(fix_length(y, length), max_shift, rng)
    else:
        y = fix_length(y, own_length)
    if rng.random() < config.noise_probability:
        noise = noises[int(rng.integers(len(noises)))] if len(noises) else \
            coloured_noise(len(y), rng, exponent=float(rng.choice([0.0, 1.0, 2.0])))
        y = add_noise(y, noise, float(rng.uniform(*config.snr_db)), rng)
    return y
