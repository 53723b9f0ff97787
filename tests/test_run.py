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


def _import_graph():
    """{module: modules of this repository it imports, at any level of its code}."""
    import ast
    files = [*REPO.glob("apps/**/*.py"), *REPO.glob("shared/*.py"), *REPO.glob("datasets/*.py"), REPO / "run.py"]
    modules = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p for p in files}
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module:
                graph[name] |= ({node.module} & set(modules)) | {
                    f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules}
    return graph


def test_no_import_circles_and_the_core_never_imports_an_app():
    graph = _import_graph()
    for name, imported in graph.items():
        if name.startswith(("shared", "datasets")):
            assert not {m for m in imported if m.startswith("apps") or m == "run"}, name
    state = {}

    def visit(name, path):
        state[name] = "open"
        for other in graph[name]:
            assert state.get(other) != "open", " -> ".join(path + [name, other])
            if other not in state:
                visit(other, path + [name])
        state[name] = "done"
    for name in graph:
        if name not in state:
            visit(name, [])
