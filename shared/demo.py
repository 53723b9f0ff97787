"""`python run.py demo`: every app that exists, end to end, into one report.

For each registered app (`shared.apps`), its `cli.demo(out_dir, minutes,
data_dir)` trains a small model on the app's default dataset for a few
minutes, evaluates it, predicts on examples and returns a Markdown section
(with links to its plots). The sections are joined into `<out>/REPORT.md`, with
links to the screenshots of `run.py serve` (docs/serve/). An app whose demo
fails gets a section that says why, the others still run, and the command
exits with status 1.
"""
import os
import sys
import time
import traceback
from pathlib import Path

from shared import apps
from shared.errors import UserError


def register(subparsers):
    parser = subparsers.add_parser(
        "demo", help="train, evaluate and predict with every app; write a report",
        description=__doc__)
    parser.add_argument("--out", default="demo_report", help="report folder (default: %(default)s)")
    parser.add_argument("--minutes", type=float, default=3.0,
                        help="training budget per app, in minutes (default: %(default)s)")
    parser.add_argument("--apps", nargs="*", help="only these apps (default: all)")
    parser.add_argument("--data-dir", help="local dataset folder (else $BEYOND_PIXELS_DATA, cache, download)")
    parser.set_defaults(func=run)


def browser_line(out):
    """A paragraph linking the screenshots of `run.py serve` (docs/serve/*.png), relative to the
    report folder `out`; empty where the repository has none. Not a section: the sections are the apps'."""
    shots = sorted((Path(__file__).resolve().parents[1] / "docs" / "serve").glob("*.png"))
    if not shots:
        return ""
    links = ", ".join(f"[{shot.stem}]({Path(os.path.relpath(shot, out.resolve())).as_posix()})" for shot in shots)
    return (f"_The shipped models in the browser_: `python run.py serve` opens a local web app, a tab per app "
            f"(screenshots: {links}).\n\n")


def run(args):
    """Each app's demo in turn; an app that fails is reported in its section and the rest still run."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    registered = apps.registered()
    unknown = sorted(set(args.apps or ()) - set(registered))
    if unknown:
        raise UserError(f"--apps: no app called {', '.join(unknown)} (apps: {', '.join(registered)})")
    sections, failed = [], []
    for name in args.apps or list(registered):
        started = time.time()
        print(f"== demo: {name}", flush=True)
        try:
            section = registered[name].cli().demo(out / name, args.minutes, args.data_dir)
        except Exception as error:  # one app's failure must not cost the others their sections
            failed.append(name)
            traceback.print_exc()
            reason = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
            section = f"## {name}\n\n**The {name} demo failed**: {reason}\n"
        sections.append(f"{section}\n\n_{name} demo took {time.time() - started:.0f} s._\n")
    report = out / "REPORT.md"
    report.write_text("# Beyond Pixels demo report\n\n" + browser_line(out) + "\n".join(sections))
    print(f"report: {report}")
    if failed:
        print(f"the demo of {', '.join(failed)} failed (see its section of the report)", file=sys.stderr)
        return 1
    return 0
