"""Segmentation in the image app: the FCN and U-Net builders (shapes, parameter counts worked
out by hand), the MNIST canvases (seeded, labels from ink, validation digits kept apart),
IoU on a hand-made case, a short U-Net run that must beat the all-background baseline, its
evaluate/predict/visualize commands, and Oxford-IIIT Pet fetched by name from a loopback
server and loaded."""
import dataclasses
import hashlib
import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

import run
from apps.image import canvas, pets, segment
from conftest import needs_data, png_sizes
from datasets import registry
from shared.errors import UserError


# ------------------------------------------------------------------ builders
def test_unet_shapes_and_parameter_count_by_hand():
    from shared.segmentation import build_unet
    model = build_unet((64, 64, 1), 11, width=8, depth=2)
    assert model.output_shape == (None, 64, 64, 11)
    assert model.get_layer("bottom_2_conv").output.shape[1:] == (16, 16, 32)
    assert model.get_layer("up1_concat").output.shape[1:] == (64, 64, 16)  # 8 up-convolved + 8 from the encoder
    conv = lambda k, cin, cout: k * k * cin * cout + cout  # noqa: E731
    expected = (conv(3, 1, 8) + conv(3, 8, 8) + conv(3, 8, 16) + conv(3, 16, 16)  # contracting path
                + conv(3, 16, 32) + conv(3, 32, 32)  # bottleneck
                + conv(2, 32, 16) + conv(3, 32, 16) + conv(3, 16, 16)  # up-conv, convs on 16 + 16 channels
                + conv(2, 16, 8) + conv(3, 16, 8) + conv(3, 8, 8)
                + conv(1, 8, 11))  # the 1x1 classifier
    assert expected == 29411
    assert model.count_params() == expected
    probabilities = np.asarray(model(np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 1)).astype("float32")))
    assert probabilities.dtype == np.float32 and np.allclose(probabilities.sum(-1), 1, atol=1e-5)


def test_fcn_shapes_and_parameter_count_by_hand():
    from shared.segmentation import build_fcn
    model = build_fcn((64, 64, 1), 11, width=8, depth=3, convs_per_stage=1, skips=2)
    assert model.output_shape == (None, 64, 64, 11)
    assert model.get_layer("score").output.shape[1:] == (8, 8, 11)  # stride 8
    assert model.get_layer("fuse2").output.shape[1:] == (32, 32, 11)  # fused down to stride 2
    conv = lambda k, cin, cout: k * k * cin * cout + cout  # noqa: E731
    upconv = 4 * 4 * 11 * 11  # 2x up-convolution, kernel 4, no bias
    expected = (conv(3, 1, 8) + conv(3, 8, 16) + conv(3, 16, 32) + conv(3, 32, 64)  # encoder, fc
                + conv(1, 64, 11) + upconv + conv(1, 16, 11) + upconv + conv(1, 8, 11) + upconv)
    assert expected == 31193
    assert model.count_params() == expected
    # FCN-32s style (no skip): one up-convolution by 8, kernel 16
    coarse = build_fcn((64, 64, 1), 11, width=8, depth=3, convs_per_stage=1, skips=0)
    assert coarse.count_params() == expected - 2 * upconv - conv(1, 16, 11) - conv(1, 8, 11) - upconv + 16 * 16 * 11 * 11


def test_learned_upsampling_starts_as_bilinear_and_skips_start_at_zero():
    from shared.segmentation import build_fcn
    model = build_fcn((32, 32, 3), 2, width=4, depth=2, skips=1)
    kernel = model.get_layer("up1").get_weights()[0]
    assert kernel.shape == (4, 4, 2, 2) and kernel[:, :, 0, 1].sum() == 0  # no mixing of classes
    assert np.allclose(kernel[:, :, 0, 0], np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25]))
    assert not model.get_layer("score_pool1").get_weights()[0].any()


def test_bad_sizes_are_refused():
    from shared.segmentation import build_fcn, build_unet
    with pytest.raises(ValueError, match="multiples of 2\\*\\*depth = 8"):
        build_unet((60, 64, 1), 3, depth=3)
    with pytest.raises(ValueError, match="skips must be in 0..1"):
        build_fcn((32, 32, 1), 3, depth=2, skips=2)


def test_class_scores_sum_over_the_predicted_pixels():
    import keras
    from shared.segmentation import PixelClassScores
    logits = np.zeros((1, 2, 2, 3), np.float32)
    logits[0, 0, 0] = [5, 1, 0]  # predicted 0
    logits[0, 0, 1] = [0, 2, 1]  # predicted 1
    logits[0, 1, 0] = [0, 4, -1]  # predicted 1
    logits[0, 1, 1] = [3, 0, 1]  # predicted 0; class 2 is predicted nowhere: its sum over the map
    scores = np.asarray(PixelClassScores()(keras.ops.convert_to_tensor(logits)))
    assert np.allclose(scores, [[5 + 3, 2 + 4, 0 + 1 - 1 + 1]])


# ------------------------------------------------------------------ canvases
def _block_digits(count=200, seed=0):
    """Stand-in digits: a 10x12 block of one grey value per digit (all distinct, 56..255, half of
    them below the ink threshold) in a 28x28 frame, so a canvas pixel tells which digit it came from."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28, 1), np.uint8)
    for i in range(count):
        top, left = rng.integers(0, 16, size=2)
        images[i, top:top + 10, left:left + 12] = 56 + i
    return images, rng.integers(0, 10, size=count)


def test_canvases_are_seeded_and_labelled_where_the_ink_is():
    images, labels = _block_digits()
    x, y, contents = canvas.make_canvases(images, labels, 60, seed=7)
    again = canvas.make_canvases(images, labels, 60, seed=7)
    assert np.array_equal(x, again[0]) and np.array_equal(y, again[1]) and contents == again[2]
    assert not np.array_equal(x, canvas.make_canvases(images, labels, 60, seed=8)[0])
    assert x.shape == (60, 64, 64, 1) and y.shape == (60, 64, 64)
    assert all(1 <= len(c) <= 3 for c in contents) and {len(c) for c in contents} == {1, 2, 3}
    label_of_value = np.zeros(256, np.uint8)
    label_of_value[56:56 + len(labels)] = labels + 1
    for picture, label_map in zip(x[..., 0], y):
        ink = picture >= canvas.INK_THRESHOLD
        assert not label_map[~ink].any()  # background wherever the ink is below the threshold
        assert np.array_equal(label_map[ink], label_of_value[picture[ink]])
        # non-overlapping: every pasted block is whole (10 x 12 pixels of its value)
        values, counts = np.unique(picture[picture > 0], return_counts=True)
        assert (counts == 120).all()


def test_validation_canvases_hold_validation_digits_only(monkeypatch):
    from apps.image import data
    images, labels = _block_digits()
    monkeypatch.setattr(data, "load_split", lambda dataset, split, data_dir=None: (images, labels))
    (_, _), (val_images, _) = data.train_val_split(images, labels, 50, 3)
    val_values = set(val_images.max(axis=(1, 2, 3)).tolist())
    x_val, _ = canvas.digit_canvases("validation", 40, 3, 50)
    x_train, _ = canvas.digit_canvases("train", 40, 3, 50)
    assert set(np.unique(x_val)) - {0} <= val_values
    assert not (set(np.unique(x_train)) - {0}) & val_values


@needs_data("image", "mnist", "train-images-idx3-ubyte.gz")
def test_canvases_of_real_digits():
    x, y = canvas.digit_canvases("validation", 50, 1234, 5000)
    ink = x[..., 0] >= canvas.INK_THRESHOLD
    assert ((y > 0) == ink).all()
    assert 0.02 < ink.mean() < 0.15 and len(np.unique(y)) == 11


# ------------------------------------------------------------------ metrics
def test_iou_on_a_hand_made_case():
    truth = np.array([[0, 0, 1, 1],
                      [0, 2, 2, 1]])
    guess = np.array([[0, 1, 1, 1],
                      [0, 0, 2, 2]])
    metrics = segment.segmentation_metrics(truth, guess, ["background", "a", "b", "c"])
    # background: TP 2, FP 1, FN 1 -> 2/4; a: TP 2, FP 1, FN 1 -> 2/4; b: TP 1, FP 1, FN 1 -> 1/3; c absent
    assert metrics["per_class_iou"] == pytest.approx({"background": 0.5, "a": 0.5, "b": 1 / 3, "c": None})
    assert metrics["mean_iou"] == pytest.approx((0.5 + 0.5 + 1 / 3) / 3)
    assert metrics["accuracy"] == pytest.approx(5 / 8)
    # everything background: IoU 3/8 for background, 0 for a and b
    assert metrics["baseline_mean_iou"] == pytest.approx(3 / 8 / 3) and metrics["baseline_accuracy"] == 3 / 8


# ------------------------------------------------------------------ a short run, and its commands
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small FCN trained for a few epochs on 800 canvases (under a minute on 2 cores). An FCN, not a
    U-Net: in so few steps the U-Net learns where the ink is but not yet which digit it belongs to
    (mean IoU 0.09-0.12 against the baseline's 0.086; see apps/image/README.md), the FCN both."""
    out = tmp_path_factory.mktemp("segment") / "fcn"
    status = run.main(["image", "segment", "train", "--arch", "fcn", "--width", "16", "--depth", "3",
                       "--canvases", "800", "--val-canvases", "200", "--epochs", "5",
                       "--batch-size", "16", "--learning-rate", "3e-3", "--out", str(out)])
    assert status == 0
    return out


@needs_data("image", "mnist", "train-images-idx3-ubyte.gz")
def test_a_short_run_beats_the_background_baseline(trained, capsys):
    for name in ("model.keras", "config.json", "metrics.json", "log.csv"):
        assert (trained / name).is_file(), name
    assert run.main(["image", "segment", "evaluate", "--model", str(trained / "model.keras"),
                     "--data", "validation", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["n"] == 200 and metrics["dataset"] == "mnist-canvas"
    assert set(metrics["per_class_iou"]) == set(canvas.CLASS_NAMES)
    assert metrics["mean_iou"] > 2 * metrics["baseline_mean_iou"], metrics  # digits told apart, not only ink
    assert metrics["per_class_iou"]["background"] > 0.95


@needs_data("image", "mnist", "train-images-idx3-ubyte.gz")
def test_predict_writes_an_overlay_and_names_a_bad_file(trained, tmp_path, capsys):
    x, _ = canvas.digit_canvases("validation", 2, 1234, 5000)
    picture = tmp_path / "digits.png"
    Image.fromarray(255 - x[1, ..., 0]).resize((150, 100)).save(picture)  # dark on light, another size
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    status = run.main(["image", "segment", "predict", "--model", str(trained / "model.keras"), str(picture),
                       str(broken), "--out", str(tmp_path / "masks"), "--json"])
    captured = capsys.readouterr()
    assert status == 1 and str(broken) in captured.err
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["file"] == str(picture) and sum(result["pixels"].values()) == 64 * 64
    assert "background" in result["pixels"]
    assert list(png_sizes(tmp_path / "masks")) == ["digits_segmentation.png"]


@needs_data("image", "mnist", "train-images-idx3-ubyte.gz")
def test_visualize_explains_a_segmentation_model(trained, tmp_path, capsys):
    x, _ = canvas.digit_canvases("validation", 1, 1234, 5000)
    picture = tmp_path / "canvas.png"
    Image.fromarray(x[0, ..., 0]).save(picture)
    out = tmp_path / "viz"
    assert run.main(["image", "visualize", "--model", str(trained / "model.keras"), "--out", str(out),
                     "--filters", "--activations", str(picture), "--saliency", str(picture),
                     "--gradcam", str(picture), "--class", "3"]) == 0
    assert set(png_sizes(out)) == {"filters.png", "activations_enc1_1_conv.png", "activations_score_pool1.png",
                                   "saliency_smoothgrad_integrated.png", "gradcam.png"}


def test_a_classifier_is_refused_by_segment_commands(capsys):
    from shared.examples import shipped_model
    model = str(shipped_model("image_mnist.keras"))
    assert run.main(["image", "segment", "evaluate", "--model", model, "--data", "validation"]) != 0
    assert f"{model}: a classifier, not a segmentation model" in capsys.readouterr().err


# ------------------------------------------------------------------ Oxford-IIIT Pet
def _tar(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _encoded(array, kind):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=kind)
    return buffer.getvalue()


def _pet_release(names):
    """The two archives of the release, in its layout: photos of various sizes; trimaps with the
    pet a bright rectangle (1), its rim (3) and background (2)."""
    images, annotations = {}, {}
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        height, width = 40 + 4 * i, 56 - 2 * i
        trimap = np.full((height, width), 2, np.uint8)
        trimap[8:height - 8, 10:width - 10] = 3
        trimap[10:height - 10, 12:width - 12] = 1
        photo = rng.integers(0, 60, (height, width, 3)).astype(np.uint8)
        photo[trimap == 1] = [220, 180, 120]
        images[f"images/{name}.jpg"] = _encoded(photo, "JPEG")
        annotations[f"annotations/trimaps/{name}.png"] = _encoded(trimap, "PNG")
    annotations["annotations/trainval.txt"] = "".join(f"{n} 1 1 1\n" for n in names[:6]).encode()
    annotations["annotations/test.txt"] = ("#Image CLASS-ID SPECIES BREED ID\n"
                                           + "".join(f"{n} 2 2 1\n" for n in names[6:])).encode()
    return {"images.tar.gz": _tar(images), "annotations.tar.gz": _tar(annotations)}


@pytest.fixture
def served_pets(tmp_path, monkeypatch):
    """The registry's oxford-iiit-pet pointed at a server on 127.0.0.1 holding a tiny release."""
    from test_datasets_registry import _Server
    names = [f"Abyssinian_{i}" for i in range(1, 7)] + ["beagle_1", "beagle_2"]
    bodies = _pet_release(names)
    server = _Server({})
    monkeypatch.delenv(registry.DATA_ENV, raising=False)
    monkeypatch.delenv(registry.OFFLINE_ENV, raising=False)
    monkeypatch.setenv(registry.CACHE_ENV, str(tmp_path / "cache"))
    dataset, files = registry.DATASETS["oxford-iiit-pet"], []
    for remote in dataset.files:
        body = bodies[remote.name]
        server.files[f"/pets/{remote.name}"] = body
        files.append(dataclasses.replace(remote, url=server.url(f"/pets/{remote.name}"), size=len(body),
                                         checksum="sha256:" + hashlib.sha256(body).hexdigest()))
    monkeypatch.setitem(registry.DATASETS, "oxford-iiit-pet", dataclasses.replace(dataset, files=tuple(files)))
    yield names
    server.server.shutdown()


def test_oxford_pet_fetched_by_name_and_loaded(served_pets, tmp_path, capsys):
    x, y = pets.load_split("trainval", 32)
    assert x.shape == (6, 32, 32, 3) and x.dtype == np.uint8 and y.shape == (6, 32, 32)
    assert set(np.unique(y)) == {0, 1, 2}  # background, pet, border
    assert (y[:, 16, 16] == 1).all() and (y[:, 0, 0] == 0).all()
    assert (x[y == 1].mean(0) > [150, 120, 80]).all()  # the pet's colour where the labels say pet
    x_test, _ = pets.load_split("test", 32)
    assert len(x_test) == 2  # the comment line of test.txt is skipped
    out = tmp_path / "pet"
    assert run.main(["image", "segment", "train", "--dataset", "oxford-pet", "--image-size", "32", "--width", "4",
                     "--depth", "2", "--val-size", "2", "--epochs", "1", "--batch-size", "4", "--out", str(out)]) == 0
    capsys.readouterr()
    assert run.main(["image", "segment", "evaluate", "--model", str(out / "model.keras"), "--data", "test",
                     "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["n"] == 2 and set(metrics["per_class_iou"]) == {"background", "pet", "border"}


def test_oxford_pet_trimap_of_another_size_is_named(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations" / "trimaps").mkdir(parents=True)
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "images" / "cat_1.jpg")
    Image.fromarray(np.ones((20, 20), np.uint8)).save(tmp_path / "annotations" / "trimaps" / "cat_1.png")
    (tmp_path / "annotations" / "trainval.txt").write_text("cat_1 1 1 1\n")
    with pytest.raises(UserError, match="cat_1: the trimap is 20x20, the photo 30x20"):
        pets.load_split("trainval", 16, root=tmp_path)
