"""MNIST canvases: a dense-labelling (segmentation) dataset built from MNIST digits.

Each canvas is a 64x64 black picture holding 1 to 3 MNIST digits (white on black, as
in MNIST). A digit is cropped to the bounding box of its ink (pixels above 0) and
pasted at a uniformly random position where its box does not overlap the box of a
digit already on the canvas (rejection sampling, up to 50 positions per digit; a
digit that finds no free place is left out, which is rare for three ~20x20 boxes
on 64x64). Every pixel is labelled: the digit's class + 1 where that digit's ink is
at least `INK_THRESHOLD` (128 of 255, half intensity), else 0, background. The
faint anti-aliased rim of a stroke is therefore background, so the labels are a
deterministic function of the picture. 11 classes: background, 0, ..., 9.

The build is seeded: the same source digits, count and seed give the same canvases,
byte for byte. Each source digit is used once before any is reused (a seeded
permutation of the pool, repeated). The three splits keep the MNIST protocol:

- train: digits of the training part of `apps.image.data.train_val_split` (the
  seeded split the classifiers use: the last `val_size` of a permutation of the
  60,000 training digits is validation);
- validation: digits of the validation part only, so no training digit is seen;
- test: digits of the official t10k files, canvases built with a fixed seed
  (`TEST_SEED`) so that every model is scored on the same test canvases.
"""
import numpy as np

from shared.errors import UserError

SIZE = 64
INK_THRESHOLD = 128
DIGITS_PER_CANVAS = (1, 3)
CLASS_NAMES = ["background"] + [str(d) for d in range(10)]
TEST_SEED = 2015
_TRIES = 50
_SPLIT_STREAMS = {"train": 0, "validation": 1, "test": 2}  # independent seeded streams per split


def _crop(image):
    """The digit cropped to the bounding box of its ink (any pixel above 0)."""
    rows, cols = np.nonzero(image)
    if not len(rows):
        return image[:1, :1]
    return image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def make_canvases(images, labels, count, seed, size=SIZE, digits=DIGITS_PER_CANVAS):
    """`count` canvases from digits `images` (N, 28, 28[, 1]) uint8 with class `labels` (N,):
    (pictures uint8 (count, size, size, 1), label maps uint8 (count, size, size), digit
    classes per canvas as a list of lists). Deterministic in `seed`."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    if not len(images):
        raise UserError("no digits to build canvases from")
    if count < 1:
        raise UserError(f"the number of canvases must be at least 1, got {count}")
    rng = np.random.default_rng(seed)
    low, high = digits
    per_canvas = rng.integers(low, high + 1, size=count)
    order = np.concatenate([rng.permutation(len(images)) for _ in range(-(-int(per_canvas.sum()) // len(images)))])
    x = np.zeros((count, size, size), np.uint8)
    y = np.zeros((count, size, size), np.uint8)
    contents, used = [], 0
    for n in range(count):
        boxes, classes = [], []
        for _ in range(per_canvas[n]):
            index = order[used]
            used += 1
            digit = _crop(images[index])
            height, width = digit.shape
            for _ in range(_TRIES):
                top, left = int(rng.integers(0, size - height + 1)), int(rng.integers(0, size - width + 1))
                box = (top, left, top + height, left + width)
                if all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for b in boxes):
                    break
            else:
                continue  # no free place for this digit
            boxes.append(box)
            classes.append(int(labels[index]))
            x[n, top:top + height, left:left + width] = digit
            y[n, top:top + height, left:left + width][digit >= INK_THRESHOLD] = labels[index] + 1
        contents.append(classes)
    return x[..., None], y, contents


def split_seed(seed, split):
    """The seed of a split's canvases: one independent stream per (seed, split)."""
    return np.random.SeedSequence([int(seed), _SPLIT_STREAMS[split]])


def digit_canvases(split, count, seed, val_size, data_dir=None):
    """(pictures, label maps) of `count` "train" or "validation" canvases, built from that part
    of MNIST's training digits (`apps.image.data.train_val_split(..., val_size, seed)`)."""
    from apps.image import data
    x, y = data.load_split("mnist", "train", data_dir)
    train, val = data.train_val_split(x, y, val_size, seed)
    digits, classes = train if split == "train" else val
    return make_canvases(digits, classes, count, split_seed(seed, split))[:2]


def t10k_canvases(count, data_dir=None, folder=None):
    """Canvases of the t10k digits (from the registry, or from `folder` holding the t10k files),
    built with `TEST_SEED`."""
    from apps.image import data
    x, y = data.load_folder(folder) if folder else data.load_split("mnist", "test", data_dir)
    return make_canvases(x, y, count, split_seed(TEST_SEED, "test"))[:2]
