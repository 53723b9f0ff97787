"""Feature-array augmentation: the VTLP warp moves formants by its factor and keeps the
axis ends; SpecAugment masks blank only what they say; everything is seeded."""

import librosa
import numpy as np
import pytest

from apps.speech import feature_augment as fa
from shared.errors import UserError

FMIN, FMAX, BANDS = 20.0, 4000.0, 40  # FSDD's features


def test_warp_is_identity_at_one_and_keeps_the_ends():
    f = np.linspace(0, FMAX, 101)
    assert np.allclose(fa.vtlp_warp(f, 1.0, FMAX), f)
    for alpha in (0.8, 0.9, 1.1, 1.2):
        warped = fa.vtlp_warp(f, alpha, FMAX)
        assert warped[0] == pytest.approx(0.0) and warped[-1] == pytest.approx(FMAX)
        assert np.all(np.diff(warped) > 0)
        assert fa.vtlp_warp(1000.0, alpha, FMAX) == pytest.approx(1000.0 * alpha)


@pytest.mark.parametrize("alpha", [0.85, 1.15])
def test_warp_moves_a_formant_by_alpha(alpha):
    centres = librosa.mel_frequencies(BANDS + 2, fmin=FMIN, fmax=FMAX)[1:-1]
    peak = 20
    x = np.zeros((5, BANDS, 3), np.float32)
    x[:, peak] = 1.0
    warped = fa.warp_bands(x, alpha, FMIN, FMAX)
    assert warped.shape == x.shape and warped.dtype == x.dtype
    profile = warped[0, :, 0]
    moved = np.sum(profile * centres) / profile.sum()  # centre of mass of the formant, Hz
    assert moved == pytest.approx(alpha * centres[peak], rel=0.04)
    assert np.allclose(fa.warp_bands(x, 1.0, FMIN, FMAX), x, atol=1e-6)


def test_masks_blank_runs_with_the_mean_and_nothing_else():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(101, BANDS, 3)).astype(np.float32) + 5.0
    out = fa.mask(x, np.random.default_rng(1), freq_masks=2, freq_mask_bands=6)
    changed_bands = np.flatnonzero(np.any(out != x, axis=(0, 2)))
    assert 0 < len(changed_bands) <= 12
    assert np.allclose(out[:, changed_bands], x.mean(axis=(0, 1)))
    assert np.all(np.any(out != x, axis=(1, 2)))  # a frequency mask spans every frame
    out = fa.mask(x, np.random.default_rng(2), time_masks=1, time_mask_frames=10)
    changed_frames = np.flatnonzero(np.any(out != x, axis=(1, 2)))
    assert len(changed_frames) <= 10 and np.all(np.diff(changed_frames) == 1)
    assert np.array_equal(fa.mask(x, rng), x)


def test_augment_features_is_seeded_and_off_by_default():
    x = np.random.default_rng(3).normal(size=(4, 101, BANDS, 3)).astype(np.float32)
    config = fa.FeatureAugmentConfig(vtlp=(0.9, 1.1), freq_masks=1, freq_mask_bands=5, time_masks=1,
                                     time_mask_frames=8)
    a = fa.augment_features(x, np.random.default_rng(7), config, FMIN, FMAX)
    b = fa.augment_features(x, np.random.default_rng(7), config, FMIN, FMAX)
    assert a.shape == x.shape and np.array_equal(a, b) and not np.allclose(a, x)
    assert config.active and not fa.FeatureAugmentConfig().active
    assert np.array_equal(fa.augment_features(x, np.random.default_rng(7), fa.FeatureAugmentConfig(), FMIN, FMAX), x)


def test_feature_augmentation_needs_augmented_variants():
    from apps.speech import train
    from apps.speech.cli import register
    from shared.cli import parse_command
    args = parse_command(register, ["train", "--dataset", "fsdd", "--vtlp", 0.9, 1.1])
    with pytest.raises(UserError, match="augment-copies"):
        train.fold_arrays(args, None, None, [], [], [])
