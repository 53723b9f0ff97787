"""Per-domain apps. Each app is a package `apps/<name>/` with a `cli` module
that exposes `register(subparsers)`; see `run.py`."""
