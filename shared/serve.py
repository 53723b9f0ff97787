"""`python run.py serve`: the models of a folder (default: the shipped ones in models/) in one
local web app, built with Gradio: a tab per registered app that has a web module.

Each app's `web.panel(models_dir)` builds its tab (components and event handlers) inside the
page built here, and keeps the work in plain functions that its tests call without Gradio. The
core never imports an app: it finds each web module by its dotted name in the registry
(`shared.apps`). Models are loaded once, on first use, and kept (`cached_model`).

Handlers are wrapped by `report_errors`: bad input (a `UserError`: an unreadable file, an empty
sentence, an illegal move) becomes a message in the panel, and any other failure a message plus a
traceback on the terminal; the server goes on serving either way.
"""
import functools
import os
import sys
import tempfile
import threading
import traceback
from pathlib import Path

from shared import apps
from shared.errors import UserError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = REPO / "models"
TITLE = "Beyond Pixels"

# pyplot keeps global state: two handlers drawing at once (two tabs, two browsers) would mix figures
PLOT_LOCK = threading.RLock()
_MODELS = {}
_MODELS_LOCK = threading.Lock()


def register(subparsers):
    parser = subparsers.add_parser(
        "serve", help="a local web app over the models: play Go, classify speech, text and drawings",
        description=__doc__)
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: %(default)s, this machine only; 0.0.0.0: all)")
    parser.add_argument("--models", default=str(DEFAULT_MODELS),
                        help="folder of model files (default: the shipped models, %(default)s)")
    parser.add_argument("--apps", nargs="*", help="only these apps' tabs (default: all)")
    parser.set_defaults(func=run)


def cached_model(path, app):
    """(model, metadata) of the model file `path` of `app`, loaded once per process."""
    from shared.modelio import load_model
    key = (str(Path(path).resolve()), app)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = load_model(path, app=app)
        return _MODELS[key]


def missing_models_note(models_dir, names, make):
    """Markdown for a panel without its model files: which files were looked for where, and how to make one."""
    wanted = ", ".join(f"`{name}`" for name in names)
    return (f"**No model for this tab in `{models_dir}`**: expected {wanted}. Train one with `{make}` "
            f"(or pass `--models` a folder that holds one).")


def message(text, kind="error"):
    """Markdown for a panel's message line: an error, or a plain note."""
    return f"**Error:** {text}" if kind == "error" else text


def report_errors(handler, outputs):
    """`handler` (an event handler with `outputs` outputs, the last a Markdown message) wrapped so
    that bad input or a failure shows a message there and leaves the other outputs as they were."""
    @functools.wraps(handler)  # keeps the signature: Gradio reads gr.SelectData / gr.Progress hints from it
    def wrapped(*args, **kwargs):
        import gradio as gr
        try:
            return handler(*args, **kwargs)
        except UserError as error:
            text = message(str(error))
        except Exception as error:  # a bug, or a file a decoder refuses in a way nobody foresaw
            traceback.print_exc()
            text = message(f"{type(error).__name__}: {error} (the terminal running `run.py serve` has the details)")
        return text if outputs == 1 else tuple(gr.skip() for _ in range(outputs - 1)) + (text,)
    return wrapped


def figure_picture(write):
    """The RGB picture (numpy array) that `write(path)` saves as a PNG, read back and deleted:
    the functions of the apps' visualize modules write files, a panel shows arrays."""
    import numpy as np
    from PIL import Image
    with PLOT_LOCK, tempfile.TemporaryDirectory(prefix="beyond-pixels-") as folder:
        path = Path(write(Path(folder) / "picture.png"))
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))


def page():
    """The gr.Blocks page being built (a panel adds its page-load events to it)."""
    from gradio.context import Context
    if Context.root_block is None:
        raise RuntimeError("page() is for panels, inside build_app's gr.Blocks")
    return Context.root_block


def build_app(models_dir=DEFAULT_MODELS, names=None):
    """The gr.Blocks page: a header, then a tab per registered app with a web module."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # local app: no calls home
    import gradio as gr
    registered = apps.registered()
    unknown = sorted(set(names or ()) - set(registered))
    if unknown:
        raise UserError(f"--apps: no app called {', '.join(unknown)} (apps: {', '.join(registered)})")
    models_dir = Path(models_dir)
    with gr.Blocks(title=TITLE) as blocks:
        gr.Markdown(f"# {TITLE}\nConvolutional networks for Go, speech, text and images, with what they look at. "
                    f"Models from `{models_dir}`.", elem_id="serve-header")
        with gr.Tabs(elem_id="serve-tabs"):
            for name, app in registered.items():
                web = app.web()
                if web is None or (names and name not in names):
                    continue
                with gr.Tab(getattr(web, "TITLE", name), id=name, elem_id=f"tab-{name}"):
                    web.panel(models_dir)
    return blocks


def theme():
    """Gradio's default look with the system's fonts: the default theme fetches web fonts, and a
    local app must render the same with no network."""
    import gradio as gr
    system = ["ui-sans-serif", "system-ui", "sans-serif"]
    return gr.themes.Default(font=system, font_mono=["ui-monospace", "monospace"])


def run(args):
    """Build the page and serve it until interrupted."""
    models_dir = Path(args.models)
    if not models_dir.is_dir():
        raise UserError(f"--models {models_dir}: not a folder")
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: must be in 1..65535")
    blocks = build_app(models_dir, args.apps)
    print(f"serving {models_dir} on http://{args.host}:{args.port} (Ctrl-C ends it)", flush=True)
    try:
        blocks.queue(default_concurrency_limit=1).launch(
            server_name=args.host, server_port=args.port, theme=theme(), show_error=True, quiet=True,
            inbrowser=False, share=False)
    except OSError as error:  # Gradio says "Cannot find empty port in range ..." when the port is taken
        raise UserError(f"--port {args.port}: cannot listen there ({error})") from None
    print("server closed", file=sys.stderr)
    return 0
