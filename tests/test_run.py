"""The top-level command line: `--help` at every level answers without importing
TensorFlow, and every command's function is found where its parser says."""
import subprocess
import sys

from tests.conftest import REPO

PROBE = r"""
import argparse, contextlib, io, sys
import run
parser = run.build_parser()
commands = [[]]
for app, app_parser in parser._subparsers._group_actions[0].choices.items():
    commands.append([app])
    sub = [a for a in app_parser._actions if isinstance(a, argparse._SubParsersAction)]
    commands += [[app, name] for name in (sub[0].choices if sub else [])]
for argv in commands:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            run.main(argv + ["--help"])
        except SystemExit as stop:
            assert stop.code == 0, argv
    assert "usage: run.py" in out.getvalue(), argv
heavy = sorted(m for m in ("tensorflow", "keras", "librosa", "matplotlib", "sklearn", "gensim") if m in sys.modules)
print(len(commands), heavy)
"""


def test_help_everywhere_imports_no_tensorflow():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    count, heavy = result.stdout.split(" ", 1)
    assert int(count) > 30 and heavy.strip() == "[]"


def test_every_lazy_command_names_a_function_that_exists():
    import importlib

    import run
    parser = run.build_parser()
    checked = 0
    for app_parser in parser._subparsers._group_actions[0].choices.values():
        for sub in app_parser._actions:
            for command in getattr(sub, "choices", None) or {}:
                func = sub.choices[command].get_default("func")
                target = getattr(func, "target", None)
                if target:
                    module, name = target.split(":")
                    assert callable(getattr(importlib.import_module(module), name)), target
                    checked += 1
    assert checked >= 10
