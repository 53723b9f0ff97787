"""The apps built on the conv core, by name.

The core never imports an app. Each app registers itself here (the `apps`
package does it for the apps of this repository) with the dotted names of
its command-line module and of the module that defines its custom Keras
objects; the core loads those on demand: `run.py` to build its parser,
`shared.demo` to run each app's demo, `shared.modelio` to load a model file
of the app that saved it, `shared.serve` to build the app's panel of the web app.
"""
import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class App:
    name: str
    summary: str
    cli_module: str            # has register(subparsers) and demo(out_dir, minutes, data_dir)
    objects_module: str = ""   # importing it registers the app's custom Keras layers
    web_module: str = ""       # has panel(models_dir): the app's tab of `run.py serve` (none: no tab)

    def cli(self):
        return importlib.import_module(self.cli_module)

    def web(self):
        """The app's web module, or None when it has none."""
        return importlib.import_module(self.web_module) if self.web_module else None

    def load_custom_objects(self):
        if self.objects_module:
            importlib.import_module(self.objects_module)


_APPS = {}


def register(name, summary, cli_module, objects_module="", web_module=""):
    """Add an app (registering the same name again replaces it)."""
    _APPS[name] = App(name, summary, cli_module, objects_module, web_module)
    return _APPS[name]


def registered():
    """{name: App} in registration order."""
    return dict(_APPS)


def get(name):
    """The App called `name`, or None."""
    return _APPS.get(name)
