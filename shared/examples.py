"""The small example inputs kept in the repository (`examples/`, each with its source and
licence in examples/README.md): what visualizations, predictions and the demo fall back to
where no dataset is at hand."""
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1] / "examples"


def path(name):
    """The path of example file `name`; FileNotFoundError naming it if it is missing."""
    found = FOLDER / name
    if not found.is_file():
        raise FileNotFoundError(f"{found}: example input missing from the repository")
    return found


def shipped_model(name):
    """The path of a model file shipped in models/ (e.g. "image_mnist.keras")."""
    found = FOLDER.parent / "models" / name
    if not found.is_file():
        raise FileNotFoundError(f"{found}: shipped model missing from the repository")
    return found


def missing_data_note(app, missing, fetch):
    """The first lines of an app's demo section when its training data is not here."""
    return (f"_No training data here: {missing}_\n\n_Get it with `python run.py data fetch {fetch}` (or point "
            f"`--data-dir` / `$BEYOND_PIXELS_DATA` at a copy) and run the demo again to train a model. "
            f"Meanwhile, the shipped model on the example inputs in `examples/`:_\n\n")
