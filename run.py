#!/usr/bin/env python3
"""Beyond Pixels command line: `python run.py <app> <command> [options]`.

Apps: go, speech, text, image. Each app lives in `apps/<app>/cli.py`, whose
`register(subparsers)` adds the app's commands (`train`, `evaluate`, `predict`,
and any of its own) with argparse, each with `set_defaults(func=...)`.
`python run.py demo` runs every app that exists end to end and writes a report.

User errors (`shared.errors.UserError`, a missing file, ...) print one line
and exit with status 2; anything else is a bug and keeps its traceback.
"""
import argparse
import importlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ chatter off stderr

APPS = {
    "image": "MNIST / Fashion-MNIST classifiers (LeNet-5, VGG, ResNet)",
    "go": "AlphaGo supervised policy network: rules, 48 feature planes, GTP",
    "speech": "frequency-axis CNN on log-mel spectrograms",
    "text": "sentence CNNs: Kalchbrenner's DCNN and Kim's CNN",
}


def _load_app(name):
    """The app's cli module, or None when the app is not built yet."""
    try:
        return importlib.import_module(f"apps.{name}.cli")
    except ModuleNotFoundError as error:
        if error.name in (f"apps.{name}", f"apps.{name}.cli"):
            return None
        raise


def build_parser():
    parser = argparse.ArgumentParser(
        prog="run.py", description="Beyond Pixels: convolutional networks for Go, speech, text and images.")
    apps = parser.add_subparsers(dest="app", metavar="<app>|demo", required=True)
    for name, summary in APPS.items():
        module = _load_app(name)
        app_parser = apps.add_parser(name, help=summary, description=summary)
        if module is None:
            app_parser.set_defaults(func=_not_built(name))
            app_parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        else:
            module.register(app_parser.add_subparsers(dest="command", metavar="<command>", required=True))
    from shared import demo
    demo.register(apps)
    return parser


def _not_built(name):
    def fail(args):
        from shared.errors import UserError
        raise UserError(f"the {name} app is not built yet (see the open issues); "
                        f"available: {', '.join(n for n in APPS if _load_app(n))}")
    return fail


def main(argv=None):
    from shared.errors import UserError
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
