"""Oxford-IIIT Pet (registry `oxford-iiit-pet`) as a segmentation dataset.

The release is two archives, unpacked side by side by the registry
(`datasets.dataset_dir`): `images/<name>.jpg` (photos of any size) and
`annotations/trimaps/<name>.png` (one value per pixel: 1 pet, 2 background,
3 border, the uncertain rim around the pet), plus the split lists
`annotations/trainval.txt` and `annotations/test.txt` (one `<name> <class id>
<species> <breed id>` per line; `#` lines are comments).

Classes here: 0 background, 1 pet, 2 border (background first, as on the MNIST
canvases, so that "everything background" is class 0 for every segmentation
dataset of the app). Photos are resized to `size` x `size` (bilinear, the aspect
ratio not kept, as is usual for this dataset) and trimaps with nearest neighbour,
so no new label values appear. Validation is a seeded share of trainval; the
test list is held out.
"""
from pathlib import Path

import numpy as np

from shared.errors import UserError

CLASS_NAMES = ["background", "pet", "border"]
TRIMAP_TO_CLASS = np.array([0, 1, 0, 2], np.uint8)  # trimap value -> class (0 is not used by the release)
LISTS = {"trainval": "trainval.txt", "test": "test.txt"}


def read_list(path):
    """The image names of a split list."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: split list not found (expected the release's annotations/ folder)")
    names = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        names.append(line.split()[0])
    if not names:
        raise UserError(f"{path}: no image names in the list")
    return names


def load_example(root, name, size):
    """(photo uint8 (size, size, 3), classes uint8 (size, size)) of image `name`."""
    from PIL import Image

    from apps.image.preprocess import load_image
    photo = load_image(Path(root) / "images" / f"{name}.jpg").convert("RGB")
    trimap = np.asarray(load_image(Path(root) / "annotations" / "trimaps" / f"{name}.png"))
    if trimap.ndim != 2 or trimap.max() > 3:
        raise UserError(f"{Path(root) / 'annotations' / 'trimaps' / f'{name}.png'}: expected a one-channel "
                        f"trimap of values 1-3, got shape {trimap.shape} and maximum {trimap.max()}")
    if trimap.shape != (photo.height, photo.width):
        raise UserError(f"{name}: the trimap is {trimap.shape[1]}x{trimap.shape[0]}, the photo "
                        f"{photo.width}x{photo.height}")
    x = np.asarray(photo.resize((size, size), Image.BILINEAR), np.uint8)
    classes = Image.fromarray(TRIMAP_TO_CLASS[trimap]).resize((size, size), Image.NEAREST)
    return x, np.asarray(classes, np.uint8)


def load_split(split, size, data_dir=None, limit=None, root=None):
    """(photos (N, size, size, 3) uint8, class maps (N, size, size) uint8) of `split`
    ("trainval" or "test"), the first `limit` of its list; the release is fetched by name
    (or read from `root`)."""
    if root is None:
        import datasets
        root = datasets.dataset_dir("oxford-iiit-pet", data_dir)
    names = read_list(Path(root) / "annotations" / LISTS[split])[:limit or None]
    pairs = [load_example(root, name, size) for name in names]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
