#!/usr/bin/env python3
"""Diagnostic: how one speaker's spoken digit resembles the other speakers' digits.

For every FSDD speaker and digit, the mean log-mel "template" (placement fit,
so every clip fills the same frames) of up to --clips clips; then, per speaker,
the correlation of their template of --digit with the other speakers' mean
template of each digit, and the level of the bands above 3 kHz (where the /s/
of "six" shows at 8 kHz) relative to the template's mean. A speaker whose
digit correlates better with another digit's template is one a model trained
on the others will confuse (models/speech_fsdd.md).

    BEYOND_PIXELS_DATA=../shared/data python bench/speech_digit_templates.py --digit 6 [--json]
"""
import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digit", type=int, default=6)
    parser.add_argument("--clips", type=int, default=20, help="clips per speaker and digit")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import librosa

    from apps.speech import data, examples, features
    config = dataclasses.replace(examples.DEFAULT_FEATURES["fsdd"], deltas=0, placement="fit")
    items = examples.items("fsdd", data.default_root("fsdd", args.data_dir))
    speakers = sorted({item[-1] for item in items})
    groups = {(speaker, digit): [item[0] for item in items if item[-1] == speaker and item[1] == digit][:args.clips]
              for speaker in speakers for digit in range(10)}
    x, _, errors = features.batch_features(sum(groups.values(), []), config)  # cached like training's
    if errors:
        raise SystemExit(f"unreadable clips: {errors[:3]}")
    x, start, templates = x[..., 0], 0, {}
    for key, paths in groups.items():
        templates[key] = x[start:start + len(paths)].mean(axis=0)
        start += len(paths)

    def standardised(x):
        return (x - x.mean()) / x.std()
    high = librosa.mel_frequencies(n_mels=config.n_mels + 2, fmin=config.fmin,
                                   fmax=config.fmax or config.sample_rate / 2)[1:-1] > 3000
    rows = []
    for speaker in speakers:
        others = [s for s in speakers if s != speaker]
        mine = standardised(templates[speaker, args.digit])
        correlations = [float((mine * standardised(np.mean([templates[o, d] for o in others], 0))).mean())
                        for d in range(10)]
        template = templates[speaker, args.digit]
        rows.append({"speaker": speaker, "correlation_with_others_digits": [round(c, 3) for c in correlations],
                     "closest_digit": int(np.argmax(correlations)),
                     "bands_above_3khz_minus_mean": round(float(template[:, high].mean() - template.mean()), 3)})
        print(f"{speaker:>10}: {args.digit} vs the others' digits " + " ".join(f"{d}:{c:.2f}" for d, c in
              enumerate(correlations)) + f" | closest {rows[-1]['closest_digit']} | above 3 kHz "
              f"{rows[-1]['bands_above_3khz_minus_mean']:+.2f} nats")
    if args.json:
        print(json.dumps({"digit": args.digit, "clips": args.clips, "speakers": rows}))


if __name__ == "__main__":
    main()
