"""Leakage checks: does the data a model is scored on overlap the data it was trained on?

A score on training data is a training figure, not an estimate of how the model
does on new data, and nothing in the number says so. Each app knows what its
models were trained on (speakers, games, images, sentences: recorded in the model
file's config) and what it is scoring; `check` compares the two and returns the
`overlap` entry that `evaluate` and `cv` put in their JSON, and `warn` prints it
as one line on stderr.
"""
import sys


def check(what, scored, trained, unknown_reason=None):
    """The `overlap` entry: how many of the `scored` items (a list of identities:
    speakers, image digests, sentences...) are among the `trained` ones (a set, or
    None when the training data cannot be known here, with `unknown_reason`)."""
    if trained is None:
        return {"what": what, "checked": False, "reason": unknown_reason or "training data unknown"}
    scored = list(scored)
    shared = [item for item in scored if item in trained]
    examples = sorted({str(item) for item in shared})[:5]
    return {"what": what, "checked": True, "items": len(shared), "of": len(scored), "examples": examples}


def warn(overlap, model):
    """Print a warning line when `overlap` (from `check`) found shared items."""
    if overlap and overlap.get("checked") and overlap["items"]:
        share = overlap["items"] / max(overlap["of"], 1)
        examples = ", ".join(overlap["examples"])
        print(f"warning: {overlap['items']} of the {overlap['of']} {overlap['what']} scored ({share:.1%}) were in "
              f"the training data of {model}" + (f" (e.g. {examples})" if examples and len(examples) < 80 else "")
              + ": the figure is a training figure, not an estimate for new data", file=sys.stderr)
    return overlap
