"""Per-domain apps. Each app is a package `apps/<name>/` with a `cli` module
that exposes `register(subparsers)` and `demo(out_dir, minutes, data_dir)`, a
`models` module whose import registers its custom Keras layers, and a `web`
module whose `panel(models_dir)` builds its tab of `run.py serve`. Importing
this package registers them with the core (`shared.apps`)."""
from shared import apps as _registry

for _name, _summary in {
    "image": "MNIST / Fashion-MNIST classifiers (LeNet-5, VGG, ResNet)",
    "go": "AlphaGo supervised policy network: rules, 48 feature planes, GTP",
    "speech": "frequency-axis CNN on log-mel spectrograms",
    "text": "sentence CNNs: Kalchbrenner's DCNN and Kim's CNN",
}.items():
    _registry.register(_name, _summary, cli_module=f"apps.{_name}.cli", objects_module=f"apps.{_name}.models",
                       web_module=f"apps.{_name}.web")
