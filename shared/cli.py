"""Argument helpers shared by the apps' command lines, so every app spells
the same option the same way (`--data-dir`, `--seed`, `--resume`, `--json`...)."""
import argparse
import ast
import copy
import importlib.util
import json
from pathlib import Path

from shared.errors import UserError


def add_data_dir(parser):
    parser.add_argument("--data-dir", help="local folder of dataset files, searched first "
                        "(default: $BEYOND_PIXELS_DATA; then the cache; then download)")


def add_training_args(parser, *, epochs, batch_size, learning_rate, out):
    group = parser.add_argument_group("training")
    group.add_argument("--out", default=out, help="run folder: model.keras, config.json, metrics.json, "
                       "log.csv, tensorboard/, backup/ (default: %(default)s)")
    group.add_argument("--epochs", type=int, default=epochs, help="default: %(default)s")
    group.add_argument("--batch-size", type=positive_int, default=batch_size, help="default: %(default)s")
    group.add_argument("--learning-rate", type=float, default=learning_rate, help="default: %(default)s")
    group.add_argument("--seed", type=int, default=1234, help="random seed (default: %(default)s)")
    group.add_argument("--patience", type=int, default=None,
                       help="early stopping after this many epochs without improvement (default: off)")
    group.add_argument("--resume", action="store_true",
                       help="continue the unfinished run in --out from its last epoch checkpoint")
    group.add_argument("--time-budget", type=float, default=None, metavar="MINUTES",
                       help="stop after the epoch that passes this wall-clock budget (the run stays resumable)")
    group.add_argument("--mixed-bfloat16", action="store_true",
                       help="bfloat16 compute with float32 weights (about 2x faster on CPUs with native bf16)")
    group.add_argument("--limit", type=int, default=None,
                       help="use only the first N training examples (quick experiments, tests)")
    return group


def add_distribute_arg(parser):
    from shared.distribute import CHOICES
    parser.add_argument("--distribute", choices=CHOICES, default="none",
                        help="none: one process; mirrored: every GPU of this machine (MirroredStrategy); "
                        "multi-worker: one process per machine, from TF_CONFIG (MultiWorkerMirroredStrategy, "
                        "a custom training loop). --batch-size is the global batch, split evenly among the "
                        "replicas; the learning rate is not scaled (default: %(default)s)")


def add_transfer_args(parser, init_model_help):
    """`--init-model MODEL` (what it copies: `init_model_help`, the app's own rule) and `--freeze`
    (shared/transfer.py)."""
    from shared.transfer import FREEZE_CHOICES, FREEZE_HELP
    parser.add_argument("--init-model", metavar="MODEL", help=init_model_help)
    parser.add_argument("--freeze", choices=FREEZE_CHOICES, default="none",
                        help="with --init-model, the layers that keep its weights: "
                        + "; ".join(f"{mode}: {FREEZE_HELP[mode]}" for mode in FREEZE_CHOICES)
                        + " (default: %(default)s)")


def add_evaluate_args(parser, data_help, data_required=True):
    parser.add_argument("--model", required=True, help="a .keras model file saved by this app")
    parser.add_argument("--data", required=data_required, help=data_help)
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON line, last on stdout")
    parser.add_argument("--confusion", metavar="PNG", help="also write a confusion-matrix PNG here")
    parser.add_argument("--batch-size", type=positive_int, default=256)


def add_ensemble_parser(subparsers, func, what):
    """`<app> ensemble MODEL... --out FILE`: `what` says which models can be averaged."""
    parser = subparsers.add_parser("ensemble", help="average trained models into one model file",
                                   description=func.__doc__)
    parser.add_argument("models", nargs="+", help=f"model files {what}")
    parser.add_argument("--out", required=True, help="the ensemble's .keras file")
    parser.set_defaults(func=func)
    return parser


# Options that steer a run but not its results: free to change on --resume.
RUN_CONTROL = {"out", "resume", "json", "data_dir", "time_budget", "workers"}


def check_same_options(args, recorded, source, ignore=()):
    """Before resuming: a UserError naming the first option whose value in `recorded` (the options a run
    was started with, as its JSON record holds them) differs from `args`."""
    for key, value in vars(args).items():
        if key in RUN_CONTROL or key in ignore or key not in recorded or callable(value):
            continue
        value = json.loads(json.dumps(value, default=str))  # as the record has it: tuples are lists
        if recorded[key] != value:
            raise UserError(f"{source}: was run with {key} {recorded[key]!r}, not {value!r}; "
                            f"use another --out or the same options")


def training_config(args, **extra):
    """The run's full config: every command-line option plus app extras."""
    config = {k: v for k, v in vars(args).items() if k != "func" and not callable(v)}
    config.update(extra)
    return config


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def fraction(text):
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text}")
    return value


def parse_command(register, argv):
    """The arguments of one of an app's commands, parsed by that command's real parser:
    `register` is the app's `register(subparsers)`, `argv` the command line after the
    app's name (`["train", "--epochs", 3]`; items are turned into strings). Internal
    callers (demos, default visualizations) use this rather than building a namespace
    by hand, so every option they do not name takes the parser's default."""
    parser = argparse.ArgumentParser(prog="run.py")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args([str(item) for item in argv])


def with_options(args, **changes):
    """A copy of parsed arguments `args` with some options changed (a fold's seed, its
    resume flag...); an option the command does not have is a bug and raises."""
    unknown = sorted(set(changes) - set(vars(args)))
    if unknown:
        raise TypeError(f"no such option: {', '.join(unknown)}")
    changed = copy.copy(args)
    vars(changed).update(changes)
    return changed


def lazy(target):
    """The command function `target` ("package.module:function"), imported only when the
    command runs, so that building the parser (and `--help`) imports no TensorFlow."""
    module_name, function_name = target.split(":")

    def command(args):
        return getattr(importlib.import_module(module_name), function_name)(args)
    command.target = target
    return command


def add_lazy_command(subparsers, name, target, help):
    """A subcommand that runs `target` ("package.module:function", imported when it runs) and
    whose --help description is that function's docstring."""
    parser = subparsers.add_parser(name, help=help, description=doc(target))
    parser.set_defaults(func=lazy(target))
    return parser


def doc(target):
    """The docstring of `target` ("package.module:function", or "package.module" for the
    module's own), read from the module's source without importing it: a command's --help
    description."""
    module_name, _, function_name = target.partition(":")
    source = Path(importlib.util.find_spec(module_name).origin).read_text()
    if not function_name:
        return ast.get_docstring(ast.parse(source))
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == function_name:
            return ast.get_docstring(node)
    raise LookupError(f"no function {function_name} in {module_name}")
