#!/usr/bin/env python3
"""The README table: our TREC, MR, Subj, CR, MPQA accuracies beside Kim 2014 and DCNN.

Runs `run.py text crossval` for every (task, architecture) pair — 10-fold CV
for MR, Subj, CR, MPQA (`--run-folds N` runs only the first N folds, and the
table says so), the standard 500-question test split for TREC — and prints a
Markdown section with the published numbers (Kim 2014, Table 2; DCNN as
cited there). Results go to <out>/<task>_<arch>/crossval.json as well.

Usage: nice -n 19 python bench/text_benchmarks.py [--tasks trec mr subj cr mpqa]
       [--archs kim dcnn] [--epochs 6] [--run-folds 10] [--time-budget MIN] [--patience N]
       [--out runs/text_benchmarks] [--json] [--resume] [--collect]
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TASKS = ("trec", "mr", "subj", "cr", "mpqa")
PUBLISHED = {  # Kim 2014 Table 2 (%); DCNN as cited there ("-": not reported)
    "CNN-rand (Kim)": {"mr": 76.1, "subj": 89.6, "trec": 91.2, "cr": 79.8, "mpqa": 83.4},
    "CNN-static (Kim)": {"mr": 81.0, "subj": 93.0, "trec": 92.8, "cr": 84.7, "mpqa": 89.6},
    "CNN-non-static (Kim)": {"mr": 81.5, "subj": 93.4, "trec": 93.6, "cr": 84.3, "mpqa": 89.5},
    "CNN-multichannel (Kim)": {"mr": 81.1, "subj": 93.2, "trec": 92.2, "cr": 85.0, "mpqa": 89.4},
    "DCNN (Kalchbrenner et al.)": {"trec": 93.0},
}


def table(results, tasks):
    header = "| model | " + " | ".join(t.upper() if t != "subj" else "Subj" for t in tasks) + " |"
    lines = [header, "|" + "---|" * (len(tasks) + 1)]
    for name, row in PUBLISHED.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[t]:.1f}" if t in row else "–" for t in tasks) + " |")
    for (arch, label), row in results.items():
        lines.append(f"| {label} | " + " | ".join(cell(row.get(t)) for t in tasks) + " |")
    return "\n".join(lines)


def cell(result):
    """A table cell: the test-split accuracy, or the CV mean ± sd over the folds that ran (and how many)."""
    if result is None:
        return "not run"
    if result["protocol"] == "test split":
        return f"**{100 * result['accuracy']:.1f}**"
    folds = result["protocol"].replace(" CV folds", "")
    return f"**{100 * result['accuracy']:.1f}** ± {100 * result['std']:.1f} ({folds} folds)"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--archs", nargs="+", choices=["kim", "dcnn"], default=["kim", "dcnn"])
    parser.add_argument("--embedding", default="glove")
    parser.add_argument("--mode", default="multichannel")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--run-folds", type=int, default=10)
    parser.add_argument("--time-budget", type=float, default=None, help="minutes per training run")
    parser.add_argument("--patience", type=int, default=None,
                        help="early stopping: epochs without a better dev accuracy (default: off)")
    parser.add_argument("--out", default="runs/text_benchmarks")
    parser.add_argument("--data-dir")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--resume", action="store_true",
                        help="keep the folds each run in --out already finished; an interrupted fold continues")
    parser.add_argument("--collect", action="store_true",
                        help="train nothing: build the table from the crossval.json files already in --out")
    args = parser.parse_args()

    import run
    results = {}
    for arch in args.archs:
        label = f"ours: {'Kim CNN' if arch == 'kim' else 'DCNN'}, {args.mode}, {args.embedding} 50d"
        row = results.setdefault((arch, label), {})
        for task in args.tasks:
            out = Path(args.out) / f"{task}_{arch}"
            argv = ["text", "crossval", "--task", task, "--arch", arch, "--embedding", args.embedding,
                    "--mode", args.mode, "--epochs", str(args.epochs), "--run-folds", str(args.run_folds),
                    "--out", str(out)]
            if args.time_budget:
                argv += ["--time-budget", str(args.time_budget)]
            if args.patience:
                argv += ["--patience", str(args.patience)]
            if args.data_dir:
                argv += ["--data-dir", args.data_dir]
            if args.resume:
                argv.append("--resume")
            if not args.collect and run.main(argv) != 0:
                continue
            if (out / "crossval.json").exists():
                row[task] = json.loads((out / "crossval.json").read_text())
    print("\n### Text benchmarks: accuracy (%)\n")
    print(table(results, args.tasks))
    print(f"\nOurs: GloVe 6B 50d (Kim used 300-d GoogleNews word2vec), {args.epochs} epochs at most"
          f"{f' and {args.time_budget} min' if args.time_budget else ''} per training run, "
          f"epoch chosen on a dev tenth of each training part; MR/Subj/CR/MPQA by stratified CV, "
          f"TREC on its 500-question test set. Command: `python bench/text_benchmarks.py "
          f"{' '.join(sys.argv[1:])}`.")
    if args.json:
        print(json.dumps({f"{arch}:{task}": r for (arch, _), row in results.items() for task, r in row.items()},
                         default=float))


if __name__ == "__main__":
    main()
