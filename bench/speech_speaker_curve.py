#!/usr/bin/env python3
"""Learning curve in training speakers: what one more speaker is worth to an FSDD recipe.

`speech cv` holds each speaker out once and trains on all the others (4 of FSDD's 5 staged
speakers). To see how the accuracy on an unheard speaker grows with the number of training
speakers, this runs the same `speech cv` on folders that leave some speakers out entirely
(`--drops`; one folder of links per entry, so each fold then trains on fewer speakers), and
tabulates each held-out speaker's accuracy by how many speakers it was trained on, the full
cv run given with `--full` as the last column. The recipe is whatever follows `--`.

    BEYOND_PIXELS_DATA=../shared/data python bench/speech_speaker_curve.py --out runs/curve \\
        --drops lucas george jackson nicolas yweweler lucas,george jackson,nicolas --full runs/fsdd_cv_freq \\
        -- --epochs 7 --augment-copies 2 --filters 32 64 --dropout 0.4 --placement fit --speaker-norm ...

A cv already finished in OUT is read, not run again. Accuracy: at the last epoch with the
recipe's test-time framings where it has them (`tta_accuracy`), else at the last epoch.
"""
import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    argv = sys.argv[1:]
    recipe = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for the link folders and the cv runs")
    parser.add_argument("--drops", nargs="+", default=[], metavar="SPEAKER[,SPEAKER]",
                        help="speakers to leave out of one cv entirely (one cv per entry)")
    parser.add_argument("--full", nargs="*", default=[], metavar="CV_DIR",
                        help="finished `speech cv` runs of the same recipe on every speaker")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)

    out = Path(args.out)
    runs = list(map(Path, args.full))
    for drop in args.drops:
        left_out = drop.split(",")
        run_dir = out / f"cv_without_{'+'.join(left_out)}"
        if not (run_dir / "cv.json").exists():
            _run_cv(_link_folder(out / f"data_without_{'+'.join(left_out)}", left_out, args.data_dir), run_dir, recipe)
        runs.append(run_dir)
    table = _curve(runs)
    counts = sorted({n for row in table.values() for n in row})
    print("held-out speaker | " + " | ".join(f"{n} training speakers" for n in counts))
    for speaker, row in sorted(table.items()):
        print(f"{speaker} | " + " | ".join(_cell(row.get(n)) for n in counts))
    means = {n: float(np.mean([np.mean(row[n]) for row in table.values() if n in row])) for n in counts}
    print("mean of the speakers | " + " | ".join(f"{means[n]:.3f}" for n in counts))
    if args.json:
        print(json.dumps({"per_speaker": table, "mean": means}))


def _link_folder(folder, left_out, data_dir):
    """A folder of links to the FSDD clips of every speaker but `left_out` (the dataset's layout)."""
    from apps.speech import data, examples
    from shared.errors import UserError
    items = examples.items("fsdd", data.default_root("fsdd", data_dir))
    unknown = set(left_out) - {item[-1] for item in items}
    if unknown:
        raise UserError(f"--drops: no speaker {', '.join(sorted(unknown))} in the data")
    folder.mkdir(parents=True, exist_ok=True)
    for item in items:
        link = folder / Path(item[0]).name
        if item[-1] not in left_out and not link.exists():
            link.symlink_to(Path(item[0]).resolve())
    return folder


def _run_cv(folder, run_dir, recipe):
    import run
    code = run.main(["speech", "cv", "--dataset", "fsdd", "--data", str(folder), *recipe, "--out", str(run_dir)])
    if code:
        sys.exit(code)


def _curve(runs):
    """{held-out speaker: {number of training speakers: [accuracy of each fold that held it out]}}."""
    table = defaultdict(lambda: defaultdict(list))
    for run_dir in runs:
        for fold_file in sorted(Path(run_dir).glob("fold-*/fold.json")):
            fold = json.loads(fold_file.read_text())
            config = json.loads((fold_file.parent / "config.json").read_text())
            accuracy = fold.get("tta_accuracy", fold["last_val_accuracy"])
            table[fold["fold"]][len(config["train_speakers"])].append(round(float(accuracy), 4))
    return {speaker: dict(row) for speaker, row in table.items()}


def _cell(values):
    return "" if not values else f"{np.mean(values):.3f}" + (f" ({len(values)} folds)" if len(values) > 1 else "")


if __name__ == "__main__":
    from shared.errors import UserError
    try:
        main()
    except UserError as error:
        sys.exit(f"speech_speaker_curve: {error}")
