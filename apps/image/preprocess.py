"""Turn any PNG/JPEG into a 28x28 grey image the way the training data was made.

MNIST digits are white on black, size-normalised to fit a 20x20 box and centred
by their centre of mass in a 28x28 frame (LeCun et al.); Fashion-MNIST items
are light on black and fill the frame. A photo of a dark digit on white paper
is therefore inverted first (detected from the border), cropped to its ink,
scaled and centred with the dataset's own rule. The rule is stored in the model
file, so `predict` preprocesses exactly as the model's dataset was made.
"""
import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from shared.errors import UserError

RULES = {
    "mnist": {"size": 28, "box": 20, "center": "mass"},
    "fashion": {"size": 28, "box": 28, "center": "box"},
}


def load_image(path):
    """A PIL image, or UserError naming the file and the problem."""
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except UnidentifiedImageError:
        raise UserError(f"{path}: not an image PIL can read (expected PNG or JPEG)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise UserError(f"{path}: truncated or corrupt image ({error})") from None


def to_model_input(image, rule):
    """uint8 (size, size, 1): grey, light-on-dark, cropped, scaled and centred per `rule`."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 127:  # dark ink on light paper: make it light on dark, like the data
        grey = 255 - grey
    grey -= np.median(border) if np.median(border) <= 127 else 255 - np.median(border)
    grey = np.clip(grey, 0, 255)
    ink = grey > 0.2 * grey.max() if grey.max() > 0 else np.zeros_like(grey, bool)
    size, box = rule["size"], rule["box"]
    if not ink.any():
        return np.zeros((size, size, 1), np.uint8)
    rows, cols = np.where(ink)
    crop = grey[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = box / max(crop.shape)
    new_shape = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    scaled = np.asarray(Image.fromarray(crop.astype(np.uint8)).resize(new_shape, Image.LANCZOS), np.float32)
    frame = np.zeros((size, size), np.float32)
    top, left = (size - scaled.shape[0]) // 2, (size - scaled.shape[1]) // 2
    frame[top:top + scaled.shape[0], left:left + scaled.shape[1]] = scaled
    if rule["center"] == "mass" and frame.sum() > 0:
        cy, cx = ndimage.center_of_mass(frame)
        frame = ndimage.shift(frame, (size / 2 - 0.5 - cy, size / 2 - 0.5 - cx), order=1, mode="constant")
    frame *= 255.0 / max(frame.max(), 1e-6)
    return np.clip(frame, 0, 255).astype(np.uint8)[..., None]
