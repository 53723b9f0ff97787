"""MNIST and Fashion-MNIST: loading the IDX files, validation split, tf.data.

The official test splits are held out; validation is carved from the 60,000
training images with a seeded shuffle.
"""
from pathlib import Path

import numpy as np

import datasets
from apps.image.idx import read_idx
from shared.errors import UserError

DATASETS = {
    "mnist": {"registry": "mnist", "classes": [str(d) for d in range(10)]},
    "fashion": {"registry": "fashion-mnist",
                "classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]},
}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def load_pair(images_path, labels_path, num_classes=10):
    """(images uint8 (N, 28, 28, 1), labels int64 (N,)) from two IDX files."""
    images = read_idx(images_path, expect_ndim=3)
    labels = read_idx(labels_path, expect_ndim=1)
    if len(images) != len(labels):
        raise UserError(f"{images_path} holds {len(images):,} images but {labels_path} holds "
                        f"{len(labels):,} labels")
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise UserError(f"{images_path}, {labels_path}: expected uint8 IDX data")
    if len(labels) and labels.max() >= num_classes:
        raise UserError(f"{labels_path}: label {labels.max()} out of range 0..{num_classes - 1}")
    return images[..., None], labels.astype(np.int64)


def load_split(dataset, split="train", data_dir=None):
    """A split of a registered dataset, found locally or downloaded and verified."""
    spec = DATASETS[dataset]
    paths = datasets.fetch(spec["registry"], data_dir=data_dir, files=SPLIT_FILES[split])
    return load_pair(*paths)


def load_folder(folder):
    """The test split from a folder holding the original `t10k-*` files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder (expected one holding {' and '.join(SPLIT_FILES['test'])})")
    paths = [folder / name for name in SPLIT_FILES["test"]]
    for path in paths:
        if not path.exists() and path.with_suffix("").exists():
            paths[paths.index(path)] = path.with_suffix("")  # uncompressed copies work too
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise UserError(f"{folder}: missing {', '.join(missing)}")
    return load_pair(*paths)


def train_val_split(x, y, val_size, seed):
    """A seeded shuffle, then the last `val_size` examples for validation."""
    if not 0 < val_size < len(x):
        raise UserError(f"--val-size must be between 1 and {len(x) - 1}, got {val_size}")
    order = np.random.default_rng(seed).permutation(len(x))
    train, val = order[:-val_size], order[-val_size:]
    return (x[train], y[train]), (x[val], y[val])


def make_dataset(x, y, batch_size, shuffle=False, seed=0):
    """A batched, prefetched tf.data pipeline over in-memory arrays."""
    import tensorflow as tf
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
