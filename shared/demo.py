"""`python run.py demo`: every app that exists, end to end, into one report.

For each built app, its `cli.demo(out_dir, minutes, data_dir)` trains a small
model on the app's default dataset for a few minutes, evaluates it, predicts
on examples and returns a Markdown section (with links to its plots). The
sections are joined into `<out>/REPORT.md`.
"""
import time
from pathlib import Path


def register(subparsers):
    parser = subparsers.add_parser(
        "demo", help="train, evaluate and predict with every app; write a report",
        description=__doc__)
    parser.add_argument("--out", default="demo_report", help="report folder (default: %(default)s)")
    parser.add_argument("--minutes", type=float, default=3.0,
                        help="training budget per app, in minutes (default: %(default)s)")
    parser.add_argument("--apps", nargs="*", help="only these apps (default: all that are built)")
    parser.add_argument("--data-dir", help="local dataset folder (else $BEYOND_PIXELS_DATA, cache, download)")
    parser.set_defaults(func=run)


def run(args):
    import run as cli  # the top-level script knows which apps exist
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for name in args.apps or list(cli.APPS):
        module = cli._load_app(name)
        if module is None or not hasattr(module, "demo"):
            sections.append(f"## {name}\n\nNot built yet.\n")
            continue
        started = time.time()
        print(f"== demo: {name}", flush=True)
        section = module.demo(out / name, args.minutes, args.data_dir)
        sections.append(f"{section}\n\n_{name} demo took {time.time() - started:.0f} s._\n")
    report = out / "REPORT.md"
    report.write_text("# Beyond Pixels demo report\n\n" + "\n".join(sections))
    print(f"report: {report}")
