"""Using a trained policy network: move probabilities for positions, and move choice.

`move_probabilities` runs the network on a batch of feature planes, optionally
as the 8-symmetry ensemble (each symmetric copy is predicted and its output
mapped back before averaging, as AlphaGo's evaluation did). `PolicyPlayer`
chooses moves for GTP `genmove`: the most probable *sensible* move (legal and
not filling one of its own eyes: the sensibleness feature plane), or a sample
at a temperature; it passes when no sensible move remains. It runs the network
through `Predictor` (a tf.function traced once per batch size: a third of the
eager Keras call's time for one position), skips the ensemble when the clock's
budget is short, and `BackgroundPlayer` loads it in a thread so a GTP engine
answers while TensorFlow loads.

Once the opponent has passed (it judges the game over), what is sensible
depends on the scoring rules the player is told:
- `chinese` (area scoring, the default; komi 7.5 is area komi): a move inside
  an empty region that one colour alone surrounds is not sensible: filling its
  own territory or dropping stones into the opponent's is what a policy trained
  on games that ended by agreement does at that point, and it only prolongs the
  game. It still fills dame and plays where both colours meet (regions with
  stones to capture too: Tromp-Taylor scoring counts every stone), then passes.
- `japanese` (territory scoring, GNU Go's default): it passes at once. Under
  territory scoring every stone put inside settled territory, its own or the
  opponent's, costs a point, and dame are worth nothing; the policy cannot tell
  settled territory from open ground, the opponent's pass says none is left.
  (Playing on after GNU Go's first pass, the policy lost 5 of the 11 games it
  led at that pass, by GNU Go's japanese count; bench/go_match_rescore.py.)
"""
import threading
import time

import numpy as np

from apps.go import RULES
from apps.go.features import features, plane_offsets, symmetries
from apps.go.go import EMPTY, opponent, region_owners
from shared.errors import UserError

SENSIBLE = plane_offsets()["sensibleness"]


def _inverse_symmetries():
    """For each symmetry i, the index of its inverse (found on a test array, not hard-coded)."""
    transforms = symmetries()
    probe = np.arange(9 * 9).reshape(9, 9)
    inverse = []
    for forward in transforms:
        moved = forward(probe)
        inverse.append(next(j for j, back in enumerate(transforms) if np.array_equal(back(moved), probe)))
    return inverse


def _on_batch(transform, batch):
    """Apply a [row, col, ...] symmetry to every item of a (batch, row, col, ...) array."""
    return np.ascontiguousarray(np.moveaxis(transform(np.moveaxis(batch, 0, 2)), 2, 0))


def model_board_size(model):
    return int(model.input_shape[1])


def board_size_of_file(path):
    """The board size a .keras policy file plays, read from the archive without importing Keras
    (which takes seconds): its Beyond Pixels metadata, else its input layer's shape."""
    import json
    import zipfile
    from pathlib import Path
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: model file not found")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            meta = json.loads(archive.read("beyond_pixels.json")) if "beyond_pixels.json" in names else {}
            size = meta.get("preprocessing", {}).get("board_size")
            if size is None and "config.json" in names:
                config = json.loads(archive.read("config.json"))
                size = config["config"]["layers"][0]["config"]["batch_shape"][1]
    except (zipfile.BadZipFile, KeyError, IndexError, TypeError, ValueError) as error:
        raise UserError(f"{path}: not a Go policy model file ({type(error).__name__}: {error})") from None
    if not isinstance(size, int):
        raise UserError(f"{path}: the model file does not say its board size")
    return size


def move_probabilities(model, planes, ensemble=False, batch_size=256, predict=None):
    """(n, size*size) probabilities for uint8 or float planes (n, size, size, 48).

    `predict` (optional) maps a float32 batch to probabilities, e.g. a `Predictor`; the
    ensemble's 8 symmetric copies go to it as one batch when they fit in `batch_size`.
    """
    planes = np.asarray(planes, dtype=np.float32)
    size = planes.shape[1]

    def run(x):
        if predict is not None and len(x) <= batch_size:
            return np.asarray(predict(x))
        if len(x) <= batch_size:
            return np.asarray(model(x, training=False))
        return model.predict(x, batch_size=batch_size, verbose=0)

    if not ensemble:
        return run(planes)
    transforms, inverse = symmetries(), _inverse_symmetries()
    n = len(planes)
    if n * len(transforms) <= batch_size:  # one network run for all copies
        copies = np.concatenate([_on_batch(t, planes) for t in transforms])
        outputs = run(copies).reshape(len(transforms), n, size, size)
    else:
        outputs = [run(_on_batch(t, planes)).reshape(n, size, size) for t in transforms]
    total = np.zeros((n, size * size), np.float64)
    for i, probs in enumerate(outputs):
        total += _on_batch(transforms[inverse[i]], probs).reshape(n, size * size)
    return (total / len(transforms)).astype(np.float32)


class Predictor:
    """The model on float32 batches through one traced `tf.function` per batch size.

    Calling a Keras model eagerly re-dispatches every layer in Python on each call
    (about 3x slower for one position here); a function traced once for a fixed input
    shape runs as one TensorFlow graph. The first call of each batch size traces (about a
    second): `warm_up` does it ahead of play.
    """

    def __init__(self, model):
        self.model = model
        self._functions = {}

    def __call__(self, batch):
        function = self._functions.get(len(batch))
        if function is None:
            import tensorflow as tf
            spec = tf.TensorSpec((len(batch),) + tuple(self.model.input_shape[1:]), tf.float32)
            function = tf.function(lambda x: self.model(x, training=False), input_signature=[spec])
            self._functions[len(batch)] = function
        return function(np.asarray(batch, np.float32)).numpy()

    def warm_up(self, *batch_sizes):
        for n in batch_sizes:
            self(np.zeros((n,) + tuple(self.model.input_shape[1:]), np.float32))


class PolicyPlayer:
    """A GTP move chooser backed by the policy network (no search); `analyzes`: it offers
    candidate moves to the engine's analysis commands (`probabilities`).

    With a time budget (`choose(..., time_budget=seconds)`, from the engine's clock) the
    8-symmetry ensemble runs only when its measured cost fits the budget; otherwise one
    network run decides. One run (plus the features, well under a millisecond) is the floor:
    nothing cheaper picks a sensible move.
    """

    analyzes = True

    def __init__(self, model, temperature=0.0, ensemble=False, seed=None, rules="chinese"):
        if temperature < 0:
            raise UserError(f"--temperature must be >= 0, not {temperature}")
        if rules not in RULES:
            raise UserError(f"--rules must be one of {', '.join(RULES)}, not {rules!r}")
        self.model, self.temperature, self.ensemble, self.rules = model, temperature, ensemble, rules
        self.rng = np.random.default_rng(seed)
        self.size = model_board_size(model)
        self.predict = Predictor(model)
        # measured seconds of one network run for 1 and for 8 positions (ensemble), updated as it plays
        self.cost = {1: None, 8: None}
        self.last_timing = {}

    def warm_up(self):
        """Trace the network for one position (and the ensemble's 8) and measure both."""
        for n in (1, 8) if self.ensemble else (1,):
            self.predict.warm_up(n)
            started = time.perf_counter()
            self.predict.warm_up(n)
            self.cost[n] = time.perf_counter() - started

    def __call__(self, position, colour, time_budget=None):
        return self.choose(position, colour, time_budget)

    def _timed_predict(self, batch):
        started = time.perf_counter()
        out = self.predict(batch)
        seconds = time.perf_counter() - started
        n = len(batch)
        if n in self.cost:  # a running mean, so one slow run (another process busy) does not stick
            self.cost[n] = seconds if self.cost[n] is None else 0.8 * self.cost[n] + 0.2 * seconds
        self.last_timing["network"] = self.last_timing.get("network", 0.0) + seconds
        return out

    def use_ensemble(self, time_budget):
        """Whether the 8-symmetry ensemble fits `time_budget` seconds (None: no limit)."""
        if not self.ensemble:
            return False
        if time_budget is None:
            return True
        estimate = self.cost[8] if self.cost[8] is not None else 8 * (self.cost[1] or 0.05)
        return estimate <= time_budget

    def probabilities(self, position, colour, ensemble=None):
        """(planes, probabilities, sensible) for `colour` to play at `position`: the feature
        planes, the network's (size*size,) probabilities and the sensible-move mask."""
        planes = self.planes(position, colour)
        sensible = planes[..., SENSIBLE].reshape(-1).astype(bool)
        return planes, self.network(planes, self.ensemble if ensemble is None else ensemble), sensible

    def planes(self, position, colour):
        """The feature planes of `position` with `colour` to play (timed into `last_timing`)."""
        if position.size != self.size:
            raise UserError(f"this network plays on {self.size}x{self.size}, not {position.size}x{position.size}")
        started = time.perf_counter()
        planes = features(_to_play(position, colour))
        self.last_timing = {"features": time.perf_counter() - started}
        return planes

    def network(self, planes, ensemble=False):
        """The network's (size*size,) float64 probabilities for one position's planes."""
        return move_probabilities(self.model, planes[None], ensemble, predict=self._timed_predict)[0].astype(np.float64)

    def endgame_mask(self, position, colour, sensible):
        """The sensible mask after the opponent's pass (module docstring), or None to pass at once."""
        if position.last_moves and position.last_moves[-1] == (opponent(colour), None):
            if self.rules == "japanese":
                return None
            return sensible & (region_owners(position) == EMPTY)
        return sensible

    def choose(self, position, colour, time_budget=None):
        """A point (row, col) for `colour` to play, or None (pass) when no sensible move remains."""
        planes = self.planes(position, colour)
        sensible = self.endgame_mask(position, colour, planes[..., SENSIBLE].reshape(-1).astype(bool))
        if sensible is None or not sensible.any():
            return None
        probs = self.network(planes, self.use_ensemble(time_budget))
        if self.temperature > 0:
            # p^(1/T) over sensible points, in log space so small T does not underflow.
            logits = np.where(sensible, np.log(np.maximum(probs, 1e-30)) / self.temperature, -np.inf)
            weights = np.exp(logits - logits.max())
            index = int(self.rng.choice(len(weights), p=weights / weights.sum()))
        else:
            index = int(np.argmax(np.where(sensible, probs, -1.0)))
        return divmod(index, self.size)


def _to_play(position, colour):
    if position.to_play == colour:
        return position
    position = position.copy()
    position.to_play = colour
    return position


class BackgroundPlayer:
    """A `PolicyPlayer` loaded in a thread, so the GTP engine answers at once.

    Importing TensorFlow and loading the model take seconds (about 10 s on a busy 2-core
    machine); GUIs send `name`, `version`, `list_commands`, `boardsize` and `play` first and
    may give up on a silent engine. Until the player is ready those are answered; the first
    command that needs the network (genmove, analysis) waits for it. `size` and `rules` are
    known without it; any other attribute waits for the player and is the player's.
    """

    analyzes = True

    def __init__(self, load, size, rules="chinese"):
        self.size, self._rules = size, rules
        self._player = self._error = None
        self._thread = threading.Thread(target=self._load, args=(load,), name="policy-loader", daemon=True)
        self._thread.start()

    def _load(self, load):
        try:
            player = load()
            player.warm_up()
            self._player = player
        except BaseException as error:  # reported to the command that needs the player
            self._error = error

    def player(self):
        """The loaded PolicyPlayer (waits for it); UserError if loading failed."""
        self._thread.join()
        if self._player is None:
            error = self._error
            if isinstance(error, UserError):
                raise error
            raise UserError(f"could not load the policy network: {type(error).__name__}: {error}")
        self._player.rules = self._rules
        return self._player

    @property
    def rules(self):
        return self._rules

    @rules.setter
    def rules(self, value):
        self._rules = value
        if self._player is not None:
            self._player.rules = value

    def __call__(self, position, colour, time_budget=None):
        return self.player()(position, colour, time_budget)

    def __getattr__(self, name):
        if name.startswith("_"):  # private and special names (inspect, copy, pickle probe them) never wait
            raise AttributeError(name)
        return getattr(self.player(), name)
