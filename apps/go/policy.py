"""Using a trained policy network: move probabilities for positions, and move choice.

`move_probabilities` runs the network on a batch of feature planes, optionally
as the 8-symmetry ensemble (each symmetric copy is predicted and its output
mapped back before averaging, as AlphaGo's evaluation did). `PolicyPlayer`
chooses moves for GTP `genmove`: the most probable *sensible* move (legal and
not filling one of its own eyes: the sensibleness feature plane), or a sample
at a temperature; it passes when no sensible move remains.

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


def move_probabilities(model, planes, ensemble=False, batch_size=256):
    """(n, size*size) probabilities for uint8 or float planes (n, size, size, 48)."""
    planes = np.asarray(planes, dtype=np.float32)
    size = planes.shape[1]

    def predict(x):
        if len(x) <= batch_size:
            return np.asarray(model(x, training=False))
        return model.predict(x, batch_size=batch_size, verbose=0)

    if not ensemble:
        return predict(planes)
    transforms, inverse = symmetries(), _inverse_symmetries()
    total = np.zeros((len(planes), size * size), np.float64)
    for i, transform in enumerate(transforms):
        probs = predict(_on_batch(transform, planes)).reshape(len(planes), size, size)
        total += _on_batch(transforms[inverse[i]], probs).reshape(len(planes), size * size)
    return (total / len(transforms)).astype(np.float32)




class PolicyPlayer:
    """A GTP move chooser backed by the policy network (no search)."""

    def __init__(self, model, temperature=0.0, ensemble=False, seed=None, rules="chinese"):
        if temperature < 0:
            raise UserError(f"--temperature must be >= 0, not {temperature}")
        if rules not in RULES:
            raise UserError(f"--rules must be one of {', '.join(RULES)}, not {rules!r}")
        self.model, self.temperature, self.ensemble, self.rules = model, temperature, ensemble, rules
        self.rng = np.random.default_rng(seed)
        self.size = model_board_size(model)

    def __call__(self, position, colour):
        return self.choose(position, colour)

    def choose(self, position, colour):
        """A point (row, col) for `colour` to play, or None (pass) when no sensible move remains."""
        if position.size != self.size:
            raise UserError(f"this network plays on {self.size}x{self.size}, not {position.size}x{position.size}")
        position = position.copy()
        position.to_play = colour
        planes = features(position)
        sensible = planes[..., SENSIBLE].reshape(-1).astype(bool)
        if position.last_moves and position.last_moves[-1] == (opponent(colour), None):
            if self.rules == "japanese":
                return None
            sensible &= region_owners(position) == EMPTY
        if not sensible.any():
            return None
        probs = move_probabilities(self.model, planes[None], self.ensemble)[0].astype(np.float64)
        if self.temperature > 0:
            # p^(1/T) over sensible points, in log space so small T does not underflow.
            logits = np.where(sensible, np.log(np.maximum(probs, 1e-30)) / self.temperature, -np.inf)
            weights = np.exp(logits - logits.max())
            index = int(self.rng.choice(len(weights), p=weights / weights.sum()))
        else:
            index = int(np.argmax(np.where(sensible, probs, -1.0)))
        return divmod(index, self.size)
