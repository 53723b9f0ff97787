#!/usr/bin/env python3
"""Beyond Pixels command line: `python run.py <app> <command> [options]`.

Apps: go, speech, text, image. Each app lives in `apps/<app>/` and registers
itself with the core (`shared.apps`); its `cli.register(subparsers)` adds the
app's commands (`train`, `evaluate`, `predict`, and any of its own) with
argparse, each with `set_defaults(func=...)`.
`python run.py demo` runs every app that exists end to end and writes a report;
`python run.py serve` opens the models in a local web app, a tab per app.

User errors (`shared.errors.UserError`, a missing file, ...) print one line
and exit with status 2; anything else is a bug and keeps its traceback.
"""
import argparse
import os
import sys


def _quiet_tensorflow(argv):
    """TensorFlow's C++ start-up lines (CPU features, oneDNN notes) look like errors and are not:
    hidden unless --verbose. TensorFlow reads the level once, when a command first imports it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if "--verbose" in argv else "3")


def build_parser():
    import apps  # noqa: F401  (importing it registers the apps with the core)
    from datasets import cli as data
    from shared import apps as registry, demo, serve
    parser = argparse.ArgumentParser(
        prog="run.py", description="Beyond Pixels: convolutional networks for Go, speech, text and images.")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines")
    commands = parser.add_subparsers(dest="app", metavar="<app>|data|demo|serve", required=True)
    for app in registry.registered().values():
        app_parser = commands.add_parser(app.name, help=app.summary, description=app.summary)
        app.cli().register(app_parser.add_subparsers(dest="command", metavar="<command>", required=True))
    data.register(commands)
    demo.register(commands)
    serve.register(commands)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(item) for item in argv]
    _quiet_tensorflow(argv)
    from shared.errors import UserError
    args = build_parser().parse_args(argv)
    if "keras" in sys.modules:  # a command run before in this process may have set bfloat16
        sys.modules["keras"].mixed_precision.set_global_policy("float32")
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
