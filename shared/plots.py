"""Headless matplotlib for every picture the suite writes.

`pyplot()` selects the Agg backend before pyplot is first imported (no screen is
needed, on servers and in CI); `save_figure` lays out, writes and closes a
figure, creating its folder.
"""
from pathlib import Path


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, dpi=80):
    """tight_layout, save as `path` (its folder created), close; returns the Path."""
    path = Path(path)
    formats = fig.canvas.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in formats:
        pyplot().close(fig)
        from shared.errors import UserError
        raise UserError(f"{path}: a picture needs one of the extensions {', '.join(sorted(formats))} (e.g. .png)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
