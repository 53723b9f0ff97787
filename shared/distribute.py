"""Training on several devices and machines with tf.distribute.

`--distribute` on every app's `train`:

- `none`: one process, `keras.Model.fit` (shared/training.py);
- `mirrored`: `MirroredStrategy` over the GPUs of one machine (synchronous data
  parallelism; Keras' `fit` runs under it);
- `multi-worker`: `MultiWorkerMirroredStrategy`, one process per machine (or per
  GPU), configured from `TF_CONFIG`. Keras 3's `fit` cannot run under it, so
  `custom_fit` is the loop: `strategy.run` of a step that averages the loss over the
  global batch (`tf.nn.compute_average_loss`), a Keras model and optimizer.

`--batch-size` is the GLOBAL batch in every mode: each of N replicas computes
gradients on batch/N examples and their sum is applied once, so a run on N
devices follows the same trajectory as one process on the same global batches,
with the same learning rate (scale it yourself if you raise the batch with N).
"""
import json
import os
import subprocess
import sys

from shared.errors import UserError

CHOICES = ("none", "mirrored", "multi-worker")
PEER_TIMEOUT_S = float(os.environ.get("BEYOND_PIXELS_PEER_TIMEOUT", 120))


_made = {}


def make_strategy(name):
    """The tf.distribute strategy for `--distribute name` (the default strategy for none),
    made once per process (a multi-worker strategy cannot be made twice)."""
    if name not in _made:
        _made[name] = _new_strategy(name)
    return _made[name]


def _new_strategy(name):
    import tensorflow as tf
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name != "multi-worker":
        raise UserError(f"--distribute must be one of {', '.join(CHOICES)}, not {name!r}")
    cluster, task = _tf_config()
    _start_watchdog(task["index"], cluster.get("worker", []))
    return tf.distribute.MultiWorkerMirroredStrategy()


# The strategy and its first collective step wait for every peer, inside TensorFlow and
# holding the interpreter, so a thread could not interrupt them: a small watchdog process
# ends this one with a clear message unless `peers_reached()` tells it in time.
_WATCHDOG = """
import os, select, signal, sys
parent, seconds, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ready, _, _ = select.select([sys.stdin], [], [], seconds)
if not ready:
    print(message, file=sys.stderr, flush=True)
    os.kill(parent, signal.SIGKILL)  # not SIGTERM: TensorFlow catches it for its preemption handling
"""
_watchdog = None


def _start_watchdog(index, peers):
    global _watchdog
    message = (f"error: worker {index} could not reach its peers ({', '.join(peers)}) within {PEER_TIMEOUT_S:g} s; "
               f"start every worker of TF_CONFIG, or check the addresses (BEYOND_PIXELS_PEER_TIMEOUT sets the wait)")
    _watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(PEER_TIMEOUT_S), message],
                                 stdin=subprocess.PIPE)


def peers_reached():
    """Called after the first step that every worker took part in: the watchdog stands down."""
    global _watchdog
    if _watchdog is not None:
        _watchdog.stdin.write(b"ok")
        _watchdog.stdin.close()
        _watchdog.wait()
        _watchdog = None


def _tf_config():
    """(cluster, task) of $TF_CONFIG, checked."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise UserError("--distribute multi-worker needs TF_CONFIG, e.g. "
                        '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                        '"task": {"type": "worker", "index": 0}} (see the README)')
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        workers = cluster["worker"]
        if task["type"] not in ("worker", "chief") or not 0 <= int(task["index"]) < len(workers):
            raise ValueError("task must be a worker with an index into cluster.worker")
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(f"TF_CONFIG: {error}") from None
    return cluster, task


def is_chief(strategy):
    """Whether this process writes the run folder (worker 0; always true outside multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                             and "chief" not in resolver.cluster_spec().as_dict())


def worker_info(strategy):
    """(this worker's index, number of workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return 0, 1
    return resolver.task_id, len(resolver.cluster_spec().as_dict().get("worker", [])) or 1
