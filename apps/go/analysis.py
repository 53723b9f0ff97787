"""The policy's candidate moves in the analysis formats Go programs read.

* Leela Zero's `lz-analyze` / `lz-genmove_analyze` (Lizzie, Sabaki): one line
  `info move Q16 visits 176 winrate 5000 prior 1760 lcb 5000 order 0 pv Q16 D4 ... info move ...`,
  all candidates on the line, percentages as integers in 1/100 of a percent.
* KataGo's `kata-analyze` (Sabaki, Lizzie, KaTrain): the same with KataGo's fields:
  `info move Q16 visits 176 utility 0 winrate 0.5 scoreMean 0 scoreStdev 0 scoreLead 0
  scoreSelfplay 0 prior 0.176 lcb 0.5 utilityLcb 0 order 0 pv Q16 D4 ...`, fractions in 0..1.
* GoGui's `gfx` analyze commands: `INFLUENCE` shading by probability, `LABEL` with percentages.

The engine has a policy network and no search and no value network, so:
- `prior` is the network's probability of the move (what the formats mean by prior);
- `visits` is the prior times `VISITS` (1000), at least 1: clients size and sort
  candidates by visits, and this keeps the policy's order and proportions;
- `winrate` / `lcb` are 50% (5000, 0.5) and KataGo's score fields 0: clients need the
  fields, and there is no evaluation to put in them; read them as "not evaluated";
- `pv` is the policy's greedy line: the candidate, then each side's most probable sensible
  move in turn, `PV_DEPTH` moves in all (one batched network run per move of the line).
"""
import numpy as np

from apps.go.go import BLACK, format_vertex, opponent
from apps.go.policy import SENSIBLE

VISITS = 1000
PV_DEPTH = 6
CANDIDATES = 10


class Candidate:
    """One candidate move: the point, its prior (0..1), the greedy line starting with it."""

    def __init__(self, move, prior, pv):
        self.move, self.prior, self.pv = move, prior, pv

    @property
    def visits(self):
        return max(1, int(round(self.prior * VISITS)))


def candidates(player, position, colour, count=CANDIDATES, depth=PV_DEPTH):
    """The policy's `count` most probable sensible moves for `colour`, best first, with lines."""
    _, probs, sensible = player.probabilities(position, colour)
    ranked = [int(i) for i in np.argsort(-np.where(sensible, probs, -1.0), kind="stable")[:count] if sensible[i]]
    lines = []
    for index in ranked:
        line = position.copy()
        line.play(divmod(index, position.size), colour)
        lines.append(line)
    pvs = [[divmod(i, position.size)] for i in ranked]
    to_move = opponent(colour)
    for _ in range(depth - 1):
        live = [k for k, line in enumerate(lines) if line is not None]
        if not live:
            break
        planes = np.stack([player.planes(lines[k], to_move) for k in live])
        # padded to a fixed batch so the network is traced once for every line count
        batch = np.zeros((count,) + planes.shape[1:], np.float32)
        batch[:len(live)] = planes
        probs_batch = player.predict(batch)[:len(live)]
        sense = planes[..., SENSIBLE].reshape(len(live), -1).astype(bool)
        for k, p, s in zip(live, probs_batch, sense):
            if not s.any():
                lines[k] = None
                continue
            move = divmod(int(np.argmax(np.where(s, p, -1.0))), position.size)
            lines[k].play(move, to_move)
            pvs[k].append(move)
        to_move = opponent(to_move)
    return [Candidate(divmod(i, position.size), float(probs[i]), pv) for i, pv in zip(ranked, pvs)]


def _pv(candidate):
    return " ".join(format_vertex(m) for m in candidate.pv)


def lz_line(found):
    """Leela Zero's analysis line for `found` candidates (empty string when there are none)."""
    return " ".join(
        f"info move {format_vertex(c.move)} visits {c.visits} winrate 5000 prior {int(round(c.prior * 10000))} "
        f"lcb 5000 order {order} pv {_pv(c)}" for order, c in enumerate(found))


def kata_line(found):
    """KataGo's `kata-analyze` line for `found` candidates."""
    return " ".join(
        f"info move {format_vertex(c.move)} visits {c.visits} utility 0 winrate 0.5 scoreMean 0 scoreStdev 0 "
        f"scoreLead 0 scoreSelfplay 0 prior {c.prior:.6f} lcb 0.5 utilityLcb 0 order {order} pv {_pv(c)}"
        for order, c in enumerate(found))


def gogui_heatmap(probs, sensible, size, colour, labels=5):
    """GoGui `gfx` text: every sensible point shaded by its probability relative to the best
    (INFLUENCE: GoGui draws positive values black and negative white, so the shading takes the
    colour to play), the `labels` best labelled with their percentage, and a TEXT summary."""
    probs = np.where(sensible, probs, 0.0)
    top = probs.max()
    if top <= 0:
        return "TEXT no sensible move"
    sign = 1.0 if colour == BLACK else -1.0
    shade = [f"{format_vertex(divmod(int(i), size))} {sign * probs[i] / top:.3f}"
             for i in np.flatnonzero(probs >= 0.001 * top)]
    best = [int(i) for i in np.argsort(-probs, kind="stable")[:labels] if probs[i] > 0]
    label = [f"{format_vertex(divmod(i, size))} {100 * probs[i]:.0f}%" for i in best]
    text = ", ".join(f"{format_vertex(divmod(i, size))} {100 * probs[i]:.1f}%" for i in best)
    return f"INFLUENCE {' '.join(shade)}\nLABEL {' '.join(label)}\nTEXT policy: {text}"
