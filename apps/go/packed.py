"""Positions at accelerator speed: the 48 feature planes of every position, bit-packed.

`pack` replays the prepared games once (on all cores) and writes, per shard of games,
a file of fixed-length records: the 19 x 19 x 48 planes as bits (`np.packbits`, 2,166
bytes) and the move played (uint16, little-endian). `packed_dataset` reads them with
`tf.data.FixedLengthRecordDataset` and does everything else in the graph, a batch at a
time: unpacking the bits, and one of the 8 board symmetries per example (a gather
over the 361 points, the move mapped by the same permutation). No Python runs per
example, so the pipeline is not bound by the replay (about 2,400 positions/s on two
cores) and files can be split between the workers of a distributed run.
"""
import json
import os
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from apps.go.features import NUM_PLANES as PLANES
from apps.go.prepare import BOARD_SIZE, GameRecords
from shared.errors import UserError

POINTS = BOARD_SIZE * BOARD_SIZE
PLANE_BYTES = (POINTS * PLANES + 7) // 8  # 2,166
RECORD_BYTES = PLANE_BYTES + 2  # + the move, uint16 little-endian
FOLDER = "packed"


def encode(planes, move):
    """One record: planes (19, 19, 48) of 0/1 and a move index 0..360."""
    return np.packbits(planes.astype(np.uint8).reshape(-1)).tobytes() + int(move).to_bytes(2, "little")


def decode(record):
    """(planes uint8 (19, 19, 48), move) of one record (numpy; `packed_dataset` does it in the graph)."""
    bits = np.unpackbits(np.frombuffer(record[:PLANE_BYTES], np.uint8))[:POINTS * PLANES]
    return bits.reshape(BOARD_SIZE, BOARD_SIZE, PLANES), int.from_bytes(record[PLANE_BYTES:], "little")


def _pack_games(task):
    """Write the records of games [start, stop) of one split to `path` (atomically)."""
    data, split, exclude_games, start, stop, path = task
    records = GameRecords(data, split, exclude_games=exclude_games)
    temporary = Path(f"{path}.tmp")
    positions = 0
    with open(temporary, "wb") as handle:
        for game in range(start, stop):
            for planes, move in records.game_examples(game):
                handle.write(encode(planes, move))
                positions += 1
    os.replace(temporary, path)
    return path.name, positions


def pack(data, workers=1, games_per_file=500, exclude_games=None, progress=print):
    """Pack every position of the prepared folder `data` into `data/packed/`: one file per
    `games_per_file` games of each split; files already written are kept (rerun to finish an
    interrupted pack). Returns the summary written to packed/summary.json."""
    folder = Path(data) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    summary_path = folder / "summary.json"
    settings = {"exclude_games": sorted(exclude_games or []), "games_per_file": games_per_file}
    packed_with = json.loads(summary_path.read_text())["settings"] if summary_path.exists() else settings
    if packed_with != settings:
        raise UserError(f"{folder} was packed with other settings ({packed_with}); delete it to pack again")
    tasks, done = [], {}
    for split in ("train", "validation"):
        games = len(GameRecords(data, split, exclude_games=exclude_games))
        for number, start in enumerate(range(0, games, games_per_file)):
            path = folder / f"{split}-{number:05d}.bin"
            if path.exists():
                done[path.name] = path.stat().st_size // RECORD_BYTES
            else:
                tasks.append((str(data), split, exclude_games, start, min(games, start + games_per_file), path))
    progress(f"packing {len(tasks)} file(s) with {workers} worker(s); {len(done)} already packed")
    if workers > 1 and len(tasks) > 1:
        with get_context("spawn").Pool(workers) as pool:
            results = pool.imap_unordered(_pack_games, tasks)
            done.update(_reported(results, len(tasks), progress))
    else:
        done.update(_reported(map(_pack_games, tasks), len(tasks), progress))
    summary = {"settings": settings, "record_bytes": RECORD_BYTES, "files": dict(sorted(done.items())),
               **{f"{split}_positions": sum(n for name, n in done.items() if name.startswith(split))
                  for split in ("train", "validation")}}
    summary_path.write_text(json.dumps(summary, indent=2))
    return summary


def _reported(results, total, progress):
    for count, (name, positions) in enumerate(results, 1):
        progress(f"  [{count}/{total}] {name}: {positions:,} positions")
        yield name, positions


def packed_files(data, split, exclude_games=None):
    """The packed files of one split, checked against the settings of this run."""
    folder = Path(data) / FOLDER
    summary_path = folder / "summary.json"
    if not summary_path.exists():
        raise UserError(f"{data}: not packed; run `python run.py go pack --data {data}` first")
    settings = json.loads(summary_path.read_text())["settings"]
    if settings["exclude_games"] != sorted(exclude_games or []):
        raise UserError(f"{folder} was packed with --exclude-games {settings['exclude_games'] or '(none)'}; "
                        f"pack again with the same --exclude-games as the training run")
    files = sorted(str(p) for p in folder.glob(f"{split}-*.bin"))
    if not files:
        raise UserError(f"{folder}: no {split} files")
    return files


def symmetry_permutations():
    """(source, target) int32 (8, 361): the board seen through symmetry s takes point
    source[s][i] to point i; a move at point m goes to target[s][m]. The symmetries are
    `features.symmetries()`, in its order."""
    from apps.go.features import symmetries
    grid = np.arange(POINTS).reshape(BOARD_SIZE, BOARD_SIZE)
    source = np.stack([np.ascontiguousarray(transform(grid)).reshape(-1) for transform in symmetries()])
    target = np.argsort(source, axis=1)
    return source.astype(np.int32), target.astype(np.int32)


def packed_dataset(files, batch_size, shuffle=True, seed=0, random_symmetry=True, repeat=True,
                   shuffle_buffer=16384, worker=0, workers=1):
    """A tf.data.Dataset of batches (planes float32 (B, 19, 19, 48), moves int32 (B,)) read
    from packed `files`; worker `worker` of `workers` reads every workers-th file."""
    import tensorflow as tf
    files = list(files)[worker::workers]
    if not files:
        raise UserError(f"worker {worker} of {workers} has no packed file to read (fewer files than workers)")
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.interleave(lambda path: tf.data.FixedLengthRecordDataset(path, RECORD_BYTES),
                                 cycle_length=min(8, len(files)) if shuffle else 1,  # unshuffled: file order
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    source, target = (tf.constant(table) for table in symmetry_permutations())
    shifts = tf.constant([7, 6, 5, 4, 3, 2, 1, 0], tf.uint8)
    generator = tf.random.Generator.from_seed(seed) if random_symmetry else None

    def unpack(records):
        data = tf.io.decode_raw(records, tf.uint8)  # (B, RECORD_BYTES)
        bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(data[:, :PLANE_BYTES, None], shifts), 1)
        planes = tf.reshape(tf.reshape(bits, [-1, PLANE_BYTES * 8])[:, :POINTS * PLANES], [-1, POINTS, PLANES])
        moves = tf.cast(data[:, PLANE_BYTES], tf.int32) + 256 * tf.cast(data[:, PLANE_BYTES + 1], tf.int32)
        if generator is not None:
            chosen = generator.uniform([tf.shape(moves)[0]], 0, 8, dtype=tf.int32)
            planes = tf.gather(planes, tf.gather(source, chosen), batch_dims=1)
            moves = tf.gather(tf.gather(target, chosen), moves, batch_dims=1)
        planes = tf.reshape(tf.cast(planes, tf.float32), [-1, BOARD_SIZE, BOARD_SIZE, PLANES])
        return planes, moves
    return (dataset.batch(batch_size, drop_remainder=True)
            .map(unpack, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
