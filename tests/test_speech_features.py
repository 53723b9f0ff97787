"""Log-mel features: layout, a known answer, deltas, the cache."""
import numpy as np
import soundfile as sf

from apps.speech import features


def test_layout_is_time_freq_channels():
    config = features.FeatureConfig(sample_rate=8000, n_mels=32, deltas=2, clip_seconds=1.0)
    x = features.clip_features(np.random.default_rng(0).normal(size=6000).astype(np.float32) * 0.1, config)
    assert x.shape == (config.frames, 32, 3) == (101, 32, 3)
    assert x.dtype == np.float32


def test_a_tone_peaks_in_the_mel_band_of_its_frequency():
    import librosa
    config = features.FeatureConfig(sample_rate=16000, n_mels=40, deltas=0)
    t = np.arange(16000) / 16000
    for freq in (300.0, 1000.0, 3000.0):
        x = features.clip_features((0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), config)
        centres = librosa.mel_frequencies(n_mels=42, fmin=config.fmin, fmax=8000)[1:-1]
        band = int(x[:, :, 0].mean(axis=0).argmax())
        assert abs(centres[band] - freq) / freq < 0.15


def test_deltas_of_a_steady_sound_are_zero_inside():
    config = features.FeatureConfig(sample_rate=8000, deltas=2)
    t = np.arange(8000) / 8000
    x = features.clip_features((0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32), config)
    inner = x[10:-10]
    assert np.abs(inner[..., 1]).max() < 0.05 and np.abs(inner[..., 2]).max() < 0.05


def test_batch_features_are_cached_and_skip_bad_files(tmp_path, monkeypatch):
    good = []
    for i in range(3):
        path = tmp_path / f"c{i}.wav"
        sf.write(path, (0.1 * np.random.default_rng(i).normal(size=4000)).astype(np.float32), 8000)
        good.append(path)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope" * 100)
    config = features.FeatureConfig(sample_rate=8000)
    x, kept, errors = features.batch_features(good + [bad], config)
    assert x.shape[0] == 3 and kept.tolist() == [0, 1, 2] and len(errors) == 1 and "bad.wav" in errors[0]

    def fail(*_):
        raise AssertionError("recomputed despite the cache")
    monkeypatch.setattr(features, "file_features", fail)
    x2, kept2, errors2 = features.batch_features(good + [bad], config)
    np.testing.assert_array_equal(x, x2)
    assert errors2 == errors
