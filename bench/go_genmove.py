"""How fast the GTP engine answers: `genmove` of a policy network, and the engine's start-up.

    nice -n 19 python bench/go_genmove.py [--model models/go_policy.keras] [--moves 100] [--ensemble] [--json]

Why: a GUI (Sabaki, Lizzie, GoGui) waits on every `genmove`, and gives up on an engine
that is silent at start. Measured here:

- genmove: a self-play game of `--moves` moves through `GtpEngine.handle("genmove ...")`,
  in process, after one warm-up move; median and p90 milliseconds per genmove, and the
  median split between the 48 feature planes and the network run (the rest: the rules
  engine, copies, the GTP text);
- the network run the old way (`model(x, training=False)`, eager Keras) on the same
  positions, beside the traced `tf.function` the player now uses;
- start-up: `python run.py go gtp --model ...` as a subprocess, seconds from process start
  to the answer of `name` (the engine answers while TensorFlow loads in a thread) and to the
  answer of the first `genmove` (network loaded and traced).

Prints a summary, and with --json one JSON line, last on stdout.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _ms(values):
    values = sorted(values)
    return {"median_ms": round(1000 * statistics.median(values), 2),
            "p90_ms": round(1000 * values[min(len(values) - 1, int(0.9 * len(values)))], 2)}


def startup(model):
    """Seconds from process start to the answer of `name`, and of the first `genmove`."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "run.py", "go", "gtp", "--model", str(model)], cwd=REPO,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, bufsize=1)
    times = {}
    try:
        for name, command in (("first_answer_s", "1 name"), ("first_genmove_s", "2 genmove b")):
            process.stdin.write(command + "\n")
            process.stdin.flush()
            reply = process.stdout.readline()
            if not reply.startswith("="):
                raise RuntimeError(f"engine refused {command!r}: {reply!r}")
            process.stdout.readline()  # the blank line ending the reply
            times[name] = round(time.perf_counter() - started, 2)
        process.stdin.write("quit\n")
        process.stdin.flush()
    finally:
        process.wait(timeout=60)
    return times


def genmove_game(model_path, moves, ensemble):
    """Per-genmove seconds over a self-play game, the features / network split, and the eager
    Keras call on the same positions."""
    import numpy as np

    import apps.go.models  # noqa: F401  (registers the custom layers for loading)
    from apps.go.features import features
    from apps.go.gtp_engine import GtpEngine
    from apps.go.policy import PolicyPlayer
    from shared.modelio import load_model

    model, _ = load_model(model_path, app="go")
    player = PolicyPlayer(model, ensemble=ensemble)
    player.warm_up()
    engine = GtpEngine(move_chooser=player)
    engine.handle("genmove b")  # warm-up move, not counted
    engine.handle("undo")
    total, feature_times, network_times, eager_times = [], [], [], []
    colours = "bw"
    for number in range(moves):
        position = engine.position.copy()
        started = time.perf_counter()
        reply = engine.handle(f"genmove {colours[number % 2]}")
        total.append(time.perf_counter() - started)
        if not reply.startswith("="):
            raise RuntimeError(f"genmove failed: {reply!r}")
        if player.last_timing.get("network"):
            feature_times.append(player.last_timing["features"])
            network_times.append(player.last_timing["network"])
        if "pass" in reply:
            break
        position.to_play = 1 if number % 2 == 0 else 2
        x = features(position)[None].astype(np.float32)
        started = time.perf_counter()
        np.asarray(model(x, training=False))
        eager_times.append(time.perf_counter() - started)
    return {"genmove": _ms(total), "genmoves": len(total),
            "features": _ms(feature_times), "network": _ms(network_times),
            "network_eager_keras": _ms(eager_times), "ensemble": ensemble}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(REPO / "models" / "go_policy.keras"))
    parser.add_argument("--moves", type=int, default=100)
    parser.add_argument("--ensemble", action="store_true", help="the 8-symmetry ensemble for every move")
    parser.add_argument("--no-startup", action="store_true", help="skip the subprocess start-up measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = {"model": args.model, "cpus": os.cpu_count()}
    result.update(genmove_game(args.model, args.moves, args.ensemble))
    if not args.no_startup:
        result["startup"] = startup(args.model)
    print(f"genmove over {result['genmoves']} moves: median {result['genmove']['median_ms']} ms, "
          f"p90 {result['genmove']['p90_ms']} ms (features {result['features']['median_ms']} ms, network "
          f"{result['network']['median_ms']} ms; eager Keras call {result['network_eager_keras']['median_ms']} ms)")
    if "startup" in result:
        print(f"start-up: first answer {result['startup']['first_answer_s']} s, first genmove "
              f"{result['startup']['first_genmove_s']} s")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
