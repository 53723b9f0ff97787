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


def _word(rng, seconds=0.4, rate=8000):
    """A word-like burst: a tone sweep with a noisy onset, amplitude-modulated."""
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.sin(np.pi * t / t[-1]) ** 0.5
    sweep = np.sin(2 * np.pi * (300 + 900 * t / t[-1]) * t) + 0.3 * rng.normal(size=len(t))
    return (0.5 * envelope * sweep).astype(np.float32)


def test_cmvn_gives_zero_mean_unit_variance_bands_over_voiced_frames():
    config = features.FeatureConfig(sample_rate=8000, deltas=0, cmvn=True, floor_db=60)
    x = features.clip_features(_word(np.random.default_rng(0)), config)[..., 0]  # (frames, bands)
    voiced = features.voiced_frames(features.static_log_mel(
        features.audio.fix_length(_word(np.random.default_rng(0)), 8000), config), config.vad_db)
    assert 20 < voiced.sum() < 60  # the 0.4 s word, not the padding
    np.testing.assert_allclose(x[voiced].mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(x[voiced].std(axis=0), 1.0, atol=1e-3)


def test_cmvn_removes_a_fixed_channel_colouring():
    """A constant gain per band (a microphone's or a vocal tract's average colouring)
    is an offset per band in the log domain: CMVN makes it vanish."""
    import scipy.signal
    config = features.FeatureConfig(sample_rate=8000, deltas=0, cmvn=True, floor_db=60)
    y = _word(np.random.default_rng(1))
    coloured = scipy.signal.lfilter([1.0, -0.9], [1.0], y).astype(np.float32)  # pre-emphasis-like tilt
    plain, tilted = (features.clip_features(v, config)[..., 0] for v in (y, coloured))
    voiced = features.voiced_frames(features.static_log_mel(features.audio.fix_length(y, 8000), config), 40)
    raw = features.FeatureConfig(sample_rate=8000, deltas=0, floor_db=60)
    before = np.abs(features.clip_features(y, raw) - features.clip_features(coloured, raw))[..., 0]
    after = np.abs(plain - tilted)
    assert np.median(after[voiced]) < 0.25 * np.median(before[voiced])


def test_fit_placement_leaves_no_padding_or_position_cue():
    """With placement "fit" the same word padded with any amount of silence, on either
    side, gives the same features: neither padding nor position is visible."""
    config = features.FeatureConfig(sample_rate=8000, cmvn=True, floor_db=60, placement="fit")
    word = _word(np.random.default_rng(2))
    base = features.clip_features(word, config)
    assert base.shape == (config.frames, config.n_mels, 3)
    for before, after in ((0, 3040), (3040, 0), (1040, 2480)):  # whole hops (80 samples): same frame grid
        padded = np.pad(word, (before, after))
        np.testing.assert_allclose(features.clip_features(padded, config), base, atol=1e-3)


def _sweep(seconds, rate=8000):
    """A rising tone with a smooth envelope: the same 'word' said at any speed."""
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.abs(np.sin(np.pi * t / t[-1])) ** 0.5
    return (0.5 * envelope * np.sin(2 * np.pi * (300 * t + 450 * t ** 2 / t[-1]))).astype(np.float32)


def test_fit_placement_removes_the_duration_cue():
    """A slow and a fast take of the same word fill the same frames with "fit"; centred
    in the window they do not line up."""
    import dataclasses
    fit = features.FeatureConfig(sample_rate=8000, deltas=0, floor_db=60, placement="fit")
    centre = dataclasses.replace(fit, placement="centre")
    slow, fast = _sweep(0.7), _sweep(0.35)
    a, b = (features.clip_features(v, fit)[..., 0] for v in (slow, fast))
    c, d = (features.clip_features(v, centre)[..., 0] for v in (slow, fast))
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9 > 0.6 > np.corrcoef(c.ravel(), d.ravel())[0, 1]


def test_floor_makes_digital_silence_padding_look_like_a_quiet_room():
    config = features.FeatureConfig(sample_rate=8000, deltas=0, floor_db=60)
    static = features.static_log_mel(features.audio.fix_length(_word(np.random.default_rng(4)), 8000), config)
    assert static.max() - static.min() <= 60 * features.NATS_PER_DB + 1e-4


def test_vad_threshold_decides_whether_a_quiet_fricative_is_kept():
    """A 'word' of quiet hiss (an /s/, 50 dB under the vowel) then a loud vowel: "fit" with
    vad_db 40 trims the hiss away, with vad_db 60 it keeps it."""
    rate = 8000
    rng = np.random.default_rng(0)
    hiss = 0.5 * 10 ** (-50 / 20) * rng.normal(size=int(0.2 * rate))
    t = np.arange(int(0.3 * rate)) / rate
    vowel = 0.5 * np.sin(2 * np.pi * 400 * t)
    config = features.FeatureConfig(sample_rate=rate, deltas=0)
    static = features.static_log_mel(np.concatenate([hiss, vowel]).astype(np.float32), config)
    hiss_frames = int(0.2 * rate) // config.hop_length - 2  # wholly inside the hiss
    assert not features.voiced_frames(static, 40.0)[:hiss_frames].any()
    assert features.voiced_frames(static, 60.0)[:hiss_frames].all()


def test_vote_configs_frame_the_word_at_each_threshold():
    """Test-time framings: the same settings at each trim threshold; none asked, the model's own."""
    config = features.FeatureConfig(placement="fit", vad_db=40.0, n_mels=20)
    assert features.vote_configs(config) == [config]
    framings = features.vote_configs(config, [30, 50])
    assert [f.vad_db for f in framings] == [30.0, 50.0]
    assert all(f == features.FeatureConfig(placement="fit", vad_db=f.vad_db, n_mels=20) for f in framings)


def test_speaker_norm_removes_a_speakers_band_gain_and_offset():
    """A second 'speaker' whose static log-mel is the first's scaled and shifted per band
    (a voice or microphone colouring every clip alike) normalises to the same features."""
    rng = np.random.default_rng(0)
    static = rng.normal(size=(6, 20, 8)).astype(np.float32)
    a_x = np.stack([static, rng.normal(size=static.shape)], axis=-1).astype(np.float32)  # static, delta
    gain, offset = rng.uniform(0.5, 2.0, size=8), rng.normal(size=8) * 3
    b_x = np.stack([static * gain + offset, a_x[..., 1] * gain], axis=-1).astype(np.float32)
    out = features.normalise_by_speaker(np.concatenate([a_x, b_x]), ["a"] * 6 + ["b"] * 6)
    np.testing.assert_allclose(out[:6], out[6:], atol=1e-4)
    np.testing.assert_allclose(out[:6, ..., 0].mean(axis=(0, 1)), 0, atol=1e-5)
    np.testing.assert_allclose(out[:6, ..., 0].std(axis=(0, 1)), 1, atol=1e-4)


def test_speaker_statistics_stand_in_and_model_inputs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 4, 3, 1)).astype(np.float32)
    x[:2] += 10  # speaker "a" (2 clips) sits 10 above speaker "b" (2 clips); "c" has one clip
    x[4] -= 100
    stats = features.average_speaker_statistics(x, ["a", "a", "b", "b", "c"])
    mean_a, _ = features.speaker_statistics(x[:2])
    mean_b, _ = features.speaker_statistics(x[2:4])
    np.testing.assert_allclose(stats["mean"], (mean_a + mean_b) / 2, atol=1e-4)  # "c" alone: left out
    plain = {"features": {"speaker_norm": False}}
    assert features.normalise_for_model(x, plain) is x
    normed = {"features": {"speaker_norm": True}, "speaker_stats": stats}
    np.testing.assert_allclose(features.normalise_for_model(x, normed),
                               features.apply_speaker_statistics(x, stats["mean"], stats["std"]))
    np.testing.assert_allclose(features.normalise_for_model(x, normed, ["a", "a", "b", "b", "c"]),
                               features.normalise_by_speaker(x, ["a", "a", "b", "b", "c"]))
