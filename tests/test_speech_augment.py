"""Augmentation: each transform does what it says."""
import dataclasses

import numpy as np
import pytest

from apps.speech import augment


def test_time_shift_moves_samples_and_keeps_length():
    y = np.arange(1, 11, dtype=np.float32)
    rng = np.random.default_rng(0)
    for _ in range(20):
        out = augment.time_shift(y, 3, rng)
        assert len(out) == 10
        nz = np.flatnonzero(out)
        shift = int(out[nz[0]] - 1) * -1 + nz[0]
        assert abs(shift) <= 3
        assert np.array_equal(out[nz], y[nz - shift])


@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0])
def test_noise_is_mixed_at_the_requested_snr(snr):
    rng = np.random.default_rng(1)
    y = np.sin(np.linspace(0, 200, 16000)).astype(np.float32)
    noise = augment.coloured_noise(40000, rng, exponent=1.0)
    mixed = augment.add_noise(y, noise, snr, rng)
    measured = 10 * np.log10(np.mean(y ** 2) / np.mean((mixed - y) ** 2))
    assert measured == pytest.approx(snr, abs=0.01)


def test_speed_changes_duration_and_pitch_shift_keeps_it():
    rng = np.random.default_rng(2)
    y = (0.3 * rng.normal(size=8000)).astype(np.float32)
    assert abs(len(augment.change_speed(y, 1.1)) - 8000 / 1.1) <= 2
    assert abs(len(augment.change_speed(y, 0.9)) - 8000 / 0.9) <= 2
    t = np.arange(8000) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    up = augment.shift_pitch(tone, 8000, 12.0)  # one octave up
    assert len(up) == 8000
    spectrum = np.abs(np.fft.rfft(up[1000:7000]))
    peak_hz = spectrum.argmax() * 8000 / 6000
    assert abs(peak_hz - 880) < 30


def test_augment_returns_the_clip_length_and_is_seeded():
    y = (0.2 * np.random.default_rng(3).normal(size=5000)).astype(np.float32)
    a = augment.augment(y, 8000, 8000, np.random.default_rng(7))
    b = augment.augment(y, 8000, 8000, np.random.default_rng(7))
    assert len(a) == 8000 and np.array_equal(a, b)


def test_random_placement_uses_the_whole_window():
    """Onsets of the variants spread over all the room the clip has in the window,
    not just +-100 ms around the centre."""
    config = augment.AugmentConfig(speed_probability=0.0, pitch_probability=0.0, noise_probability=0.0,
                                   random_placement=True)
    y = np.ones(2000, dtype=np.float32)
    rng = np.random.default_rng(5)
    onsets = [int(np.flatnonzero(augment.augment(y, 8000, 8000, rng, config))[0]) for _ in range(200)]
    assert min(onsets) < 300 and max(onsets) > 5700  # room: 0..6000 samples
    centred = augment.AugmentConfig(speed_probability=0.0, pitch_probability=0.0, noise_probability=0.0)
    onsets = [int(np.flatnonzero(augment.augment(y, 8000, 8000, rng, centred))[0]) for _ in range(50)]
    assert min(onsets) >= 3000 - 800 and max(onsets) <= 3000 + 800


def test_unpadded_variants_keep_their_own_length():
    config = augment.AugmentConfig(speed_probability=1.0, speed_range=(0.8, 0.8), pitch_probability=0.0)
    y = (0.2 * np.random.default_rng(6).normal(size=3000)).astype(np.float32)
    out = augment.augment(y, 8000, 8000, np.random.default_rng(0), config, pad=False)
    assert abs(len(out) - 3000 / 0.8) <= 2


def test_trimming_cuts_a_weak_onset_at_a_low_threshold_only():
    """A 'six' whose /s/ is 30 dB under its vowel: trimmed at 20 dB the /s/ goes, at 40 dB it stays."""
    rng = np.random.default_rng(8)
    t = np.arange(2400) / 8000
    fricative = (0.5 * 10 ** (-30 / 20) * rng.normal(size=1200)).astype(np.float32)  # 150 ms, -30 dB
    vowel = (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)  # 300 ms
    clip = np.concatenate([fricative, vowel])
    assert abs(len(augment.trim_quiet_ends(clip, 8000, 20.0)) - 2400) <= 256
    assert len(augment.trim_quiet_ends(clip, 8000, 40.0)) >= 3400
    silence = np.zeros(4000, np.float32)
    assert len(augment.trim_quiet_ends(silence, 8000, 20.0)) == 4000  # nothing left to keep: kept whole
    # in augment: only when asked, and then on about trim_probability of the variants
    plain = augment.AugmentConfig(speed_probability=0.0, pitch_probability=0.0, noise_probability=0.0)
    assert len(augment.augment(clip, 8000, 8000, rng, plain, pad=False)) == len(clip)
    trimming = dataclasses.replace(plain, trim_db=(15.0, 25.0), trim_probability=0.5)
    lengths = [len(augment.augment(clip, 8000, 8000, rng, trimming, pad=False)) for _ in range(100)]
    assert 30 <= sum(n < 2700 for n in lengths) <= 70 and all(n in (len(clip),) or n < 2700 for n in lengths)
