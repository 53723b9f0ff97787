"""Move-prediction accuracy of a policy network on held-out games.

`--data` may be an SGF file, a folder or archive (.tar.gz/.zip) of SGF files,
or a folder made by `run.py go prepare` (its validation games by default).
Every non-pass move of every usable game is one test position, as in the
paper (passes are excluded); games that cannot be read or replayed are
skipped and listed. Reports top-1 (= `accuracy`), top-5 and top-1 by game
phase (move-number buckets), optionally with the 8-symmetry ensemble.
"""
import fnmatch
from pathlib import Path

import numpy as np

from apps.go.features import features
from apps.go.prepare import GameRecords, _archive_kind, in_validation, list_members, read_members, source_key
from apps.go.sgf_wrapper import BadGame, parse_sgf, replay
from shared.errors import UserError

BUCKETS = ((1, 50), (51, 100), (101, 150), (151, 200), (201, 250), (251, None))


def bucket_name(low, high):
    return f"{low}+" if high is None else f"{low}-{high}"


def _bucket(move_number):
    for low, high in BUCKETS:
        if high is None or move_number <= high:
            return bucket_name(low, high)


def sgf_positions(path, max_games=None, skipped=None, scored=None):
    """Yield (planes, move index, move number) for every non-pass move of the SGF games at `path`.

    Games that fail are appended to `skipped` as {"game", "reason"} and left out whole; the
    identity (`<source>/<member>`, as `go prepare` names games) of each game used is appended
    to `scored`.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix.lower() == ".sgf":
        source, names = path.parent, [path.name]
    elif path.is_dir() or _archive_kind(path):
        source, names = path, list_members(path)
    else:
        raise UserError(f"{path}: not an .sgf file, a folder, a .tar.gz/.zip archive or a prepared folder")
    if not names:
        raise UserError(f"{path}: no .sgf files found")
    games = 0
    for name, data in read_members(source, names):
        if max_games is not None and games >= max_games:
            return
        try:
            record = parse_sgf(data)
            if record.size != 19:
                raise BadGame(f"board size {record.size}, not 19x19")
            examples = []
            for position, (colour, point) in replay(record):
                if point is not None:
                    examples.append((features(position), point[0] * 19 + point[1], position.move_number + 1))
        except BadGame as error:
            if skipped is not None:
                skipped.append({"game": name, "reason": str(error)})
            continue
        games += 1
        if scored is not None:
            scored.append(f"{source_key(source)}/{name}")
        yield from examples


def record_positions(folder, split, max_games=None, games=None, scored=None):
    """The same for the games of a prepared folder's split (those matching the `games` globs)."""
    records = GameRecords(folder, split, games=games)
    if len(records) == 0:
        raise UserError(f"{folder}: no {split} games" + (f" match {' '.join(games)}" if games else ""))
    names = records.game_names()
    for game in range(len(records) if max_games is None else min(max_games, len(records))):
        if scored is not None:
            scored.append(names[game])
        for position, move in records._replay(game):
            yield features(position), move, position.move_number + 1


def evaluate(model, positions, ensemble=False, batch_size=256):
    """Metrics over an iterable of (planes, move, move number)."""
    from apps.go.policy import move_probabilities
    from shared.evaluation import top_k_hits
    hits1, hits5, buckets = 0, 0, {}
    n = 0
    batch = []

    def flush():
        nonlocal hits1, hits5, n
        planes = np.stack([b[0] for b in batch])
        moves = np.array([b[1] for b in batch])
        probs = move_probabilities(model, planes, ensemble, batch_size)
        correct1 = probs.argmax(axis=1) == moves
        hits1 += top_k_hits(moves, probs, 1)
        hits5 += top_k_hits(moves, probs, 5)
        n += len(batch)
        for (_, _, number), ok in zip(batch, correct1):
            entry = buckets.setdefault(_bucket(number), [0, 0])
            entry[0] += int(ok)
            entry[1] += 1
        batch.clear()

    for item in positions:
        batch.append(item)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if n == 0:
        raise UserError("no positions to evaluate (no usable games with non-pass moves)")
    by_phase = {bucket_name(low, high): {"top1": buckets[bucket_name(low, high)][0] / buckets[bucket_name(low, high)][1],
                                         "n": buckets[bucket_name(low, high)][1]}
                for low, high in BUCKETS if bucket_name(low, high) in buckets}
    return {"top1": hits1 / n, "top5": hits5 / n, "accuracy": hits1 / n, "n": n,
            "ensemble": ensemble, "top1_by_move_number": by_phase}


def positions_for(data, split="validation", max_games=None, skipped=None, games=None, scored=None):
    data = Path(data)
    if data.is_dir() and (data / "index.npz").exists():
        return record_positions(data, split, max_games, games, scored)
    if games:
        raise UserError(f"{data}: --games selects games of a prepared folder; give an SGF folder or archive "
                        f"of just the games you want instead")
    return sgf_positions(data, max_games, skipped, scored)


def training_game_rule(config):
    """A function telling whether a game identity (`<source>/<member>`) was among the training
    games of a model with saved config `config` (its prepared sources, their split by game,
    --exclude-games; through --init-model, its source's too); None when the config does not say."""
    from shared.modelio import read_metadata
    if config.get("command") != "train" or "train_sources" not in config:
        return None
    sources, excluded = set(config["train_sources"]), config.get("exclude_games") or []
    earlier = None
    if config.get("init_model"):
        try:
            earlier = training_game_rule(read_metadata(config["init_model"])["config"])
        except UserError:  # the earlier stage's file is not here: its games are checked no further
            pass

    def trained(identity):
        source = identity.split("/", 1)[0]
        own = (source in sources and not in_validation(identity, config["val_fraction"])
               and not any(fnmatch.fnmatchcase(identity, pattern) for pattern in excluded))
        return own or bool(earlier and earlier(identity))
    return trained


class TrainingGames:
    """`in` tests a game identity against a `training_game_rule` (for shared.overlap.check)."""

    def __init__(self, rule):
        self.rule = rule

    def __contains__(self, identity):
        return self.rule(identity)
