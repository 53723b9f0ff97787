"""The one exception type that means "the user gave us something wrong".

`run.py` turns a `UserError` into a one-line message and a non-zero exit code,
so every app raises it for bad input (a missing file, a corrupt archive, a model
from another app) and lets real bugs surface as tracebacks.
"""


class UserError(Exception):
    """A problem with the user's input that a one-line message can explain."""
