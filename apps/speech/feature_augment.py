"""Augmentation of feature arrays `(time, mel bands, channels)` (after log-mel and deltas):

- VTLP, vocal tract length perturbation (Jaitly & Hinton 2013): warp the frequency axis
  by a random factor alpha, piecewise linearly so that the band edges stay put. Speakers'
  formants differ by roughly this factor, so it imitates a new speaker.
- SpecAugment masks (Park et al. 2019): blank a few random runs of mel bands and of frames,
  filled with the clip's mean per channel (the value a normalised input would have at zero).

Both act along frequency or time only, so they commute with the deltas (linear along time)
and can be applied to finished feature arrays, e.g. the cached augmented variants.
"""
import dataclasses

import numpy as np

WARP_BOUNDARY = 0.6  # of the top frequency: the warp is f * alpha below this, then bends to keep fmax fixed


@dataclasses.dataclass(frozen=True)
class FeatureAugmentConfig:
    vtlp: tuple = ()  # (low, high) range of warp factors; () = off
    freq_masks: int = 0
    freq_mask_bands: int = 0  # each frequency mask covers 0..this many bands
    time_masks: int = 0
    time_mask_frames: int = 0  # each time mask covers 0..this many frames

    @property
    def active(self):
        return bool(self.vtlp) or bool(self.freq_masks and self.freq_mask_bands) or \
            bool(self.time_masks and self.time_mask_frames)


def vtlp_warp(f, alpha, fmax):
    """Jaitly & Hinton's warp of frequencies `f` (Hz): f * alpha up to a boundary, then
    linear to (fmax, fmax), so the warped axis still ends at fmax."""
    f = np.asarray(f, dtype=np.float64)
    boundary = WARP_BOUNDARY * fmax * min(alpha, 1.0) / alpha
    upper = fmax - (fmax - WARP_BOUNDARY * fmax * min(alpha, 1.0)) / (fmax - boundary) * (fmax - f)
    return np.where(f <= boundary, f * alpha, upper)


def band_sources(n_mels, fmin, fmax, alpha):
    """Fractional band index that each output band reads from: output band i (centre c_i)
    takes the input spectrum at warp^-1(c_i), so an input formant at F moves to warp(F)."""
    import librosa
    centres = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)[1:-1]
    grid = np.linspace(0.0, fmax, 2049)
    sources = np.interp(centres, vtlp_warp(grid, alpha, fmax), grid)  # the warp is monotonic
    mel = librosa.hz_to_mel
    return np.interp(mel(sources), mel(centres), np.arange(n_mels))


def warp_bands(x, alpha, fmin, fmax):
    """`x` (time, mel, channels) with its mel axis warped by `alpha` (linear interpolation)."""
    position = band_sources(x.shape[1], fmin, fmax, alpha)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, x.shape[1] - 1)
    weight = (position - low)[None, :, None].astype(x.dtype)
    return (1 - weight) * x[:, low] + weight * x[:, high]


def mask(x, rng, freq_masks=0, freq_mask_bands=0, time_masks=0, time_mask_frames=0):
    """A copy of `x` (time, mel, channels) with random runs of bands and frames set to the
    clip's mean per channel; each run's width is uniform in 0..the given maximum."""
    out = x.copy()
    fill = x.mean(axis=(0, 1))
    for axis, count, widest in ((1, freq_masks, freq_mask_bands), (0, time_masks, time_mask_frames)):
        size = x.shape[axis]
        for _ in range(count if widest else 0):
            width = int(rng.integers(0, min(widest, size) + 1))
            start = int(rng.integers(0, size - width + 1))
            index = [slice(None)] * 3
            index[axis] = slice(start, start + width)
            out[tuple(index)] = fill
    return out


def augment_features(x, rng, config: FeatureAugmentConfig, fmin, fmax):
    """Each clip of `x` (N, time, mel, channels) warped by its own random alpha and masked."""
    out = np.empty_like(x)
    for k, clip in enumerate(x):
        if config.vtlp:
            clip = warp_bands(clip, float(rng.uniform(*config.vtlp)), fmin, fmax)
        out[k] = mask(clip, rng, config.freq_masks, config.freq_mask_bands, config.time_masks,
                      config.time_mask_frames)
    return out
