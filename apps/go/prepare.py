"""SGF archives -> compact, validated game records, and a reader that featurizes them.

Why records and not planes: 7.2M positions x 19x19x48 bytes would be 125 GB;
the games themselves are a few bytes per move. The reader replays games with
the rules engine and computes the 48 planes on the fly.

Layout of `--out`:

* `shards/<source>-<k>.npz`: up to `shard_games` games of one source (archive
  or folder), in sorted member order. Arrays: `names` (member path), `komi`,
  `handicap`, `first_player`, `winner`, `move_hash` (uint64 of the move
  sequence), `setup_offsets` / `setup_points` / `setup_colours`, and
  `move_offsets` / `moves` (flat index row*19+col, 361 = pass) / `players`.
  Every stored game has been replayed move by move with the rules engine.
* `shards/<source>-<k>.json`: that shard's skipped games with reasons. It is
  written last and atomically, so its presence marks the shard done; a rerun
  after an interruption skips finished shards.
* `index.npz`: for every kept game, its shard, position in the shard and split
  (0 train, 1 validation); duplicates removed across all shards.
* `summary.json`: counts, skipped games and why, and duplicate games.

Filters: non-19x19 games, games under 20 moves, unparseable SGF, illegal
moves, broken setup, and duplicate move sequences (the first in source order
is kept). The split is by game: a game is in validation when the hash of its
identity (`<source>/<member>`) falls below `val_fraction`, so it never moves
when sources or shards change.
"""
import fnmatch
import hashlib
import json
import multiprocessing
import os
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from apps.go.go import BLACK, WHITE, Position
from apps.go.sgf_wrapper import BadGame, parse_sgf, replay
from shared.errors import UserError

BOARD_SIZE = 19
PASS = BOARD_SIZE * BOARD_SIZE
MIN_MOVES = 20


# ----- sources -----------------------------------------------------------------------------


def resolve_sources(sources, data_dir=None):
    """Paths of archives / folders for `--source` words ("kgs", "pro") and paths."""
    from datasets import fetch
    paths = []
    for source in sources:
        if source in ("kgs", "pro"):
            paths.extend(Path(p) for p in fetch(f"go-{source}", data_dir=data_dir))
        else:
            path = Path(source)
            if not path.exists():
                raise UserError(f"--source {source}: no such file or folder")
            if not (path.is_dir() or _archive_kind(path)):
                raise UserError(f"--source {source}: not a folder, .tar.gz/.tgz/.tar or .zip archive")
            paths.append(path)
    return sorted(set(paths), key=lambda p: p.name)


def _archive_kind(path):
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2")):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    return None


def source_key(path):
    """A short stable name for a source: the archive or folder name without extensions."""
    name = path.name
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar", ".zip"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def list_members(path):
    """Sorted names of the .sgf files in an archive or folder."""
    kind = _archive_kind(path)
    try:
        if path.is_dir():
            names = [str(p.relative_to(path)) for p in path.rglob("*") if p.suffix.lower() == ".sgf" and p.is_file()]
        elif kind == "zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith(".sgf")]
        else:
            with tarfile.open(path) as archive:
                names = [m.name for m in archive if m.isfile() and m.name.lower().endswith(".sgf")]
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as error:
        raise UserError(f"{path}: cannot read archive ({error})") from None
    return sorted(names)


def read_members(path, names):
    """Yield (name, bytes) for the wanted members of an archive or folder, in archive order."""
    wanted = set(names)
    kind = _archive_kind(path)
    if path.is_dir():
        for name in names:
            yield name, (path / name).read_bytes()
    elif kind == "zip":
        with zipfile.ZipFile(path) as archive:
            for name in names:
                yield name, archive.read(name)
    else:
        with tarfile.open(path) as archive:
            for member in archive:
                if member.name in wanted:
                    yield member.name, archive.extractfile(member).read()


# ----- one shard ---------------------------------------------------------------------------


def _move_hash(record):
    digest = hashlib.blake2b(digest_size=8)
    for colour, point in record.moves:
        digest.update(bytes((colour,)) + (PASS if point is None else point[0] * BOARD_SIZE + point[1]).to_bytes(2, "little"))
    return int.from_bytes(digest.digest(), "little")


def _check_game(record):
    """Why a parsed game is not usable, or None. Replays every move."""
    if record.size != BOARD_SIZE:
        return f"board size {record.size}, not 19x19"
    if len(record.moves) < MIN_MOVES:
        return f"only {len(record.moves)} moves (fewer than {MIN_MOVES})"
    for _ in replay(record):
        pass
    return None


def process_shard(task):
    """Parse, validate and store one shard; returns its stats. Runs in a worker process."""
    source_path, source_key, names, shard_path = task
    columns = {key: [] for key in ("names", "komi", "handicap", "first_player", "winner", "move_hash")}
    setup_points, setup_colours, setup_offsets = [], [], [0]
    moves, players, move_offsets = [], [], [0]
    skipped = []
    seen = set()
    for name, data in read_members(Path(source_path), names):
        seen.add(name)
        try:
            record = parse_sgf(data)
            reason = _check_game(record)
        except BadGame as error:
            reason = str(error)
        except Exception as error:  # noqa: BLE001 - one odd file must not sink the shard; it is listed
            reason = f"unexpected error: {type(error).__name__}: {error}"
        if reason is not None:
            skipped.append({"game": f"{source_key}/{name}", "reason": reason})
            continue
        columns["names"].append(name)
        columns["komi"].append(record.komi)
        columns["handicap"].append(record.handicap)
        columns["first_player"].append(record.first_player)
        columns["winner"].append(record.winner)
        columns["move_hash"].append(_move_hash(record))
        for colour, stones in ((BLACK, record.setup_black), (WHITE, record.setup_white)):
            for row, col in stones:
                setup_points.append(row * BOARD_SIZE + col)
                setup_colours.append(colour)
        setup_offsets.append(len(setup_points))
        for colour, point in record.moves:
            moves.append(PASS if point is None else point[0] * BOARD_SIZE + point[1])
            players.append(colour)
        move_offsets.append(len(moves))
    for name in sorted(set(names) - seen):
        skipped.append({"game": f"{source_key}/{name}", "reason": "member missing from the archive"})

    arrays = dict(
        names=np.array(columns["names"], dtype=str),
        komi=np.array(columns["komi"], np.float32),
        handicap=np.array(columns["handicap"], np.int8),
        first_player=np.array(columns["first_player"], np.int8),
        winner=np.array(columns["winner"], np.int8),
        move_hash=np.array(columns["move_hash"], np.uint64),
        setup_offsets=np.array(setup_offsets, np.int64),
        setup_points=np.array(setup_points, np.int16),
        setup_colours=np.array(setup_colours, np.int8),
        move_offsets=np.array(move_offsets, np.int64),
        moves=np.array(moves, np.int16),
        players=np.array(players, np.int8),
    )
    shard_path = Path(shard_path)
    _atomic_write(shard_path.with_suffix(".npz"), lambda f: np.savez_compressed(f, **arrays))
    stats = {"source": source_key, "games_read": len(names), "games_stored": len(columns["names"]),
             "moves_stored": len(moves), "skipped": skipped}
    _atomic_write(shard_path.with_suffix(".json"), lambda f: f.write(json.dumps(stats, indent=1).encode()))
    return stats


def _atomic_write(path, write):
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


# ----- the whole run -----------------------------------------------------------------------


def in_validation(identity, val_fraction):
    digest = hashlib.sha256(identity.encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2 ** 64 < val_fraction


def prepare(sources, out, workers=1, val_fraction=0.05, shard_games=2000):
    """Build (or finish) the records for `sources` in `out`; returns the summary dict."""
    started = time.time()
    out = Path(out)
    shard_dir = out / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    tasks, shard_order = [], []
    for source in sources:
        key = source_key(source)
        names = list_members(source)
        for k, first in enumerate(range(0, len(names), shard_games)):
            shard_path = shard_dir / f"{key}-{k:04d}"
            shard_order.append(shard_path)
            if not shard_path.with_suffix(".json").exists():
                tasks.append((str(source), key, names[first:first + shard_games], str(shard_path)))
    done_before = len(shard_order) - len(tasks)
    if tasks:
        progress = tqdm(total=sum(len(t[2]) for t in tasks), unit="game", desc="prepare")
        if workers > 1:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                for stats in pool.imap_unordered(process_shard, tasks):
                    progress.update(stats["games_read"])
        else:
            for task in tasks:
                progress.update(process_shard(task)["games_read"])
        progress.close()
    summary = _build_index(out, shard_order, val_fraction)
    summary.update(shards=len(shard_order), shards_done_before=done_before, workers=workers,
                   seconds=round(time.time() - started, 1),
                   disk_bytes=sum(p.stat().st_size for p in out.rglob("*") if p.is_file()))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _build_index(out, shard_order, val_fraction):
    """Remove duplicates across shards, split by game, write index.npz; the summary counts."""
    shard_ids, game_ids, splits = [], [], []
    skipped, duplicates = [], []
    first_seen = {}
    games_read = 0
    positions = [0, 0]
    for shard_number, shard_path in enumerate(shard_order):
        stats = json.loads(shard_path.with_suffix(".json").read_text())
        games_read += stats["games_read"]
        skipped.extend(stats["skipped"])
        with np.load(shard_path.with_suffix(".npz")) as shard:
            names, hashes = shard["names"], shard["move_hash"]
            offsets, moves = shard["move_offsets"], shard["moves"]
        for game, (name, move_hash) in enumerate(zip(names.tolist(), hashes.tolist())):
            identity = f"{stats['source']}/{name}"
            if move_hash in first_seen:
                duplicates.append({"game": identity, "duplicate_of": first_seen[move_hash]})
                continue
            first_seen[move_hash] = identity
            split = 1 if in_validation(identity, val_fraction) else 0
            shard_ids.append(shard_number)
            game_ids.append(game)
            splits.append(split)
            positions[split] += int(np.count_nonzero(moves[offsets[game]:offsets[game + 1]] != PASS))
    np.savez(out / "index.npz", shards=np.array([p.name for p in shard_order], dtype=str),
             shard=np.array(shard_ids, np.int32), game=np.array(game_ids, np.int32), split=np.array(splits, np.int8))
    reasons = {}
    for entry in skipped:
        kind = _reason_kind(entry["reason"])
        reasons[kind] = reasons.get(kind, 0) + 1
    if duplicates:
        reasons["duplicate move sequence"] = len(duplicates)
    splits = np.array(splits)
    return {"games_read": games_read, "games_kept": len(splits),
            "train_games": int((splits == 0).sum()), "validation_games": int((splits == 1).sum()),
            "train_positions": positions[0], "validation_positions": positions[1],
            "val_fraction": val_fraction, "skipped_count": len(skipped), "skipped_by_reason": reasons,
            "duplicates_count": len(duplicates), "skipped": skipped, "duplicates": duplicates}


def _reason_kind(reason):
    """The category of a skip reason, for the summary's counts."""
    for marker, kind in (("not 19x19", "not 19x19"), ("fewer than", f"fewer than {MIN_MOVES} moves"),
                         ("illegal move", "illegal move"), ("unparseable", "unparseable SGF"),
                         ("broken setup", "broken setup"), ("setup stones in node", "setup stones after the start"),
                         ("missing", "member missing from the archive"), ("unexpected", "unexpected error")):
        if marker in reason:
            return kind
    return reason


def describe(summary):
    return (f"{summary['games_kept']} games kept of {summary['games_read']} read "
            f"({summary['train_games']} train / {summary['validation_games']} validation games, "
            f"{summary['train_positions']} / {summary['validation_positions']} positions); "
            f"skipped {summary['skipped_count'] + summary['duplicates_count']} {summary['skipped_by_reason']}; "
            f"{summary['disk_bytes'] / 1e6:.1f} MB, "
            f"{summary['seconds']} s")


# ----- reading -----------------------------------------------------------------------------


class GameRecords:
    """The prepared games of one split, replayable into training examples.

    `examples()` yields (planes uint8 (19, 19, 48), move index 0..360) in a
    shuffled order mixed across games; `tf_dataset()` wraps it for tf.data.
    """

    def __init__(self, out, split="train", games=None, exclude_games=None):
        """The games of one split; `games` / `exclude_games` are lists of glob patterns over
        game names (`<archive>/<path inside it>`, e.g. "KGS-2017_06*") to keep / leave out."""
        self._out = out = Path(out)
        if not (out / "index.npz").exists():
            raise UserError(f"{out}: no index.npz; run `python run.py go prepare --out {out}` first")
        if split not in ("train", "validation"):
            raise ValueError(f"split must be 'train' or 'validation', not {split!r}")
        with np.load(out / "index.npz") as index:
            wanted = index["split"] == (0 if split == "train" else 1)
            self._shard_names = index["shards"].tolist()
            shard_of, game_of = index["shard"][wanted], index["game"][wanted]
        self._shards = {}
        for number in np.unique(shard_of).tolist():
            with np.load(out / "shards" / f"{self._shard_names[number]}.npz") as shard:
                self._shards[number] = {key: shard[key] for key in shard.files}
        self._games = list(zip(shard_of.tolist(), game_of.tolist()))
        if games or exclude_games:
            names = self.game_names()
            self._games = [game for game, name in zip(self._games, names)
                           if (not games or any(fnmatch.fnmatchcase(name, p) for p in games))
                           and not any(fnmatch.fnmatchcase(name, p) for p in exclude_games or ())]

    def game_names(self):
        """`<source>/<member name>` of each game, as in summary.json."""
        sources = {}
        for number in self._shards:
            stats = json.loads((self._out / "shards" / f"{self._shard_names[number]}.json").read_text())
            sources[number] = stats["source"]
        return [f"{sources[shard]}/{self._shards[shard]['names'][index]}" for shard, index in self._games]

    def __len__(self):
        return len(self._games)

    def positions_count(self):
        return sum(int(np.count_nonzero(self._moves(g)[0] != PASS)) for g in range(len(self._games)))

    def _moves(self, game):
        shard_number, index = self._games[game]
        shard = self._shards[shard_number]
        start, stop = shard["move_offsets"][index], shard["move_offsets"][index + 1]
        return shard["moves"][start:stop], shard["players"][start:stop]

    def start_position(self, game):
        shard_number, index = self._games[game]
        shard = self._shards[shard_number]
        position = Position(BOARD_SIZE, komi=float(shard["komi"][index]))
        start, stop = shard["setup_offsets"][index], shard["setup_offsets"][index + 1]
        points = shard["setup_points"][start:stop].tolist()
        colours = shard["setup_colours"][start:stop].tolist()
        position.setup([divmod(p, BOARD_SIZE) for p, c in zip(points, colours) if c == BLACK],
                       [divmod(p, BOARD_SIZE) for p, c in zip(points, colours) if c == WHITE],
                       to_play=int(shard["first_player"][index]))
        position.handicap = int(shard["handicap"][index])
        return position

    def _replay(self, game):
        """Yield (live position, move index) before every non-pass move of one game."""
        position = self.start_position(game)
        moves, players = self._moves(game)
        for move, colour in zip(moves.tolist(), players.tolist()):
            if colour != position.to_play:
                position.to_play, position.ko = colour, None
            point = None if move == PASS else divmod(move, BOARD_SIZE)
            if point is not None:
                yield position, move
            position.play(point, colour)

    def game_examples(self, game, player_colour_plane=False):
        """Yield (planes, move index) for every non-pass move of one game, in order."""
        from apps.go.features import features
        for position, move in self._replay(game):
            yield features(position, player_colour_plane), move

    def examples(self, shuffle=True, seed=0, buffer_size=2048, random_symmetry=False, player_colour_plane=False,
                 repeat=False, shard=0, num_shards=1):
        """Yield (planes, move index) over the whole split.

        With `shuffle`, games come in a random order (seeded) and positions go
        through a shuffle buffer of `buffer_size`, so consecutive examples come
        from many different games. `random_symmetry` applies one of the 8
        board symmetries to each example (planes and move together).
        `shard` / `num_shards` keep every `num_shards`-th game of each pass
        (disjoint game sets), so several generators can featurize in parallel.
        """
        from apps.go.features import symmetries
        if not 0 <= shard < num_shards:
            raise ValueError(f"shard must be in [0, {num_shards}), not {shard}")
        rng = np.random.default_rng(seed if num_shards == 1 else (seed, shard))
        transforms = symmetries()
        while True:
            order = rng.permutation(len(self._games)) if shuffle else np.arange(len(self._games))
            order = order[shard::num_shards]
            buffer = []
            for game in order:
                for planes, move in self.game_examples(int(game), player_colour_plane):
                    if random_symmetry:
                        planes, move = _apply_symmetry(transforms[rng.integers(8)], planes, move)
                    if not shuffle:
                        yield planes, move
                        continue
                    if len(buffer) < buffer_size:
                        buffer.append((planes, move))
                        continue
                    slot = rng.integers(buffer_size)
                    yield buffer[slot]
                    buffer[slot] = (planes, move)
            rng.shuffle(buffer)
            yield from buffer
            if not repeat:
                return

    def sample(self, count, seed=0, player_colour_plane=False):
        """`count` positions drawn uniformly at random from all positions of the split.

        Returns (planes (count, 19, 19, 48) uint8, moves (count,) int32).
        Each game is replayed once, and only the drawn positions are featurized.
        """
        from apps.go.features import features
        rng = np.random.default_rng(seed)
        lengths = np.array([np.count_nonzero(self._moves(g)[0] != PASS) for g in range(len(self._games))])
        if lengths.sum() == 0:
            raise UserError("no positions to sample from")
        picks = rng.choice(int(lengths.sum()), size=count, replace=count > lengths.sum())
        game_of_pick = np.searchsorted(np.cumsum(lengths), picks, side="right")
        first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        wanted = {}
        for slot, (game, pick) in enumerate(zip(game_of_pick.tolist(), picks.tolist())):
            wanted.setdefault(game, []).append((pick - first[game], slot))
        planes = np.zeros((count, BOARD_SIZE, BOARD_SIZE, 48 + player_colour_plane), np.uint8)
        moves = np.zeros(count, np.int32)
        for game, requests in wanted.items():
            by_move = {}
            for move_number, slot in requests:
                by_move.setdefault(move_number, []).append(slot)
            last = max(by_move)
            for number, (position, move) in enumerate(self._replay(game)):
                if number in by_move:
                    game_planes = features(position, player_colour_plane)
                    for slot in by_move[number]:
                        planes[slot], moves[slot] = game_planes, move
                if number == last:
                    break
        return planes, moves

    def tf_dataset(self, workers=1, **example_options):
        """A tf.data.Dataset of (planes, move) from `examples(**example_options)` (imports TensorFlow).

        With `workers` > 1, that many generators over disjoint game shards are
        interleaved by tf.data in parallel threads.
        """
        import tensorflow as tf
        channels = 49 if example_options.get("player_colour_plane") else 48
        signature = (tf.TensorSpec((BOARD_SIZE, BOARD_SIZE, channels), tf.uint8), tf.TensorSpec((), tf.int32))
        if workers <= 1:
            return tf.data.Dataset.from_generator(lambda: self.examples(**example_options),
                                                  output_signature=signature)

        def shard_dataset(shard):
            return tf.data.Dataset.from_generator(
                lambda k: self.examples(shard=int(k), num_shards=workers, **example_options),
                args=(shard,), output_signature=signature)
        return tf.data.Dataset.range(workers).interleave(
            shard_dataset, cycle_length=workers, block_length=1, num_parallel_calls=workers, deterministic=True)


def _apply_symmetry(transform, planes, move):
    marker = np.zeros((BOARD_SIZE, BOARD_SIZE), np.uint8)
    marker[divmod(move, BOARD_SIZE)] = 1
    return np.ascontiguousarray(transform(planes)), int(np.ascontiguousarray(transform(marker)).argmax())
