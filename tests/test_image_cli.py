"""The CLI end to end on a small slice of MNIST: train -> evaluate -> predict,
plus every bad input the foundation issue names."""
import json

import numpy as np
import pytest
from PIL import Image

import run
from apps.image import data
from apps.image.idx import write_idx
from conftest import needs_data

pytestmark = needs_data("image", "mnist", "train-images-idx3-ubyte.gz")


def _run(capsys, *argv):
    code = run.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = run.main(["image", "train", "--limit", "4000", "--val-size", "1000", "--epochs", "2",
                     "--arch", "lenet5", "--batch-size", "64", "--out", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def test_folder(tmp_path_factory):
    """A stand-in for the held-out t10k files: 500 training images in the same format."""
    folder = tmp_path_factory.mktemp("t10k")
    x, y = data.load_split("mnist", "train")
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x[-500:, ..., 0])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y[-500:].astype(np.uint8))
    return folder


def test_training_learns_and_writes_the_run_folder(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["best_val_accuracy"] > 0.8  # chance is 0.1
    config = json.loads((trained / "config.json").read_text())
    assert config["dataset"] == "mnist" and config["seed"] == 1234 and config["train_examples"] == 4000


def test_evaluate_prints_json_last(trained, test_folder, capsys, tmp_path):
    code, out, _ = _run(capsys, "image", "evaluate", "--model", str(trained / "model.keras"),
                        "--data", str(test_folder), "--json", "--confusion", str(tmp_path / "cm.png"))
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n"] == 500 and result["accuracy"] > 0.8 and result["top5_accuracy"] >= result["accuracy"]
    assert set(result["per_class"]) == {str(d) for d in range(10)}
    assert Image.open(tmp_path / "cm.png").size[0] > 100


def test_evaluate_warns_when_the_images_were_trained_on(trained, capsys, tmp_path):
    x, y = data.load_split("mnist", "train")
    (x_train, y_train), (x_val, y_val) = data.train_val_split(x, y, 1000, 1234)  # as the run split them
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.concatenate([x_train[:100], x_val[:100]])[..., 0])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.concatenate([y_train[:100], y_val[:100]]).astype(np.uint8))
    code, out, err = _run(capsys, "image", "evaluate", "--model", str(trained / "model.keras"),
                          "--data", str(tmp_path), "--json")
    overlap = json.loads(out.strip().splitlines()[-1])["overlap"]
    assert code == 0 and overlap["checked"] and (overlap["items"], overlap["of"]) == (100, 200)
    assert "100 of the 200 images scored (50.0%) were in the training data" in err
    code, out, err = _run(capsys, "image", "evaluate", "--model", str(trained / "model.keras"),
                          "--data", "validation", "--json")
    assert json.loads(out.strip().splitlines()[-1])["overlap"]["items"] == 0 and "warning" not in err


def test_predict_photos_of_any_size_and_colour(trained, capsys, tmp_path):
    x, y = data.load_split("mnist", "train")
    files = []
    for i in range(-20, 0):  # dark ink on white paper, RGB, 3x larger: as a user's scan would be
        path = tmp_path / f"digit{i + 20}_{y[i]}.png"
        Image.fromarray(255 - x[i, ..., 0]).resize((84, 84)).convert("RGB").save(path)
        files.append((path, y[i]))
    code, out, _ = _run(capsys, "image", "predict", "--model", str(trained / "model.keras"),
                        *[str(p) for p, _ in files])
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 20 and all(line.count(",") == 2 for line in lines)  # top 3 each
    correct = sum(line.split(": ")[1].split(" ")[0] == str(label) for line, (_, label) in zip(lines, files))
    assert correct >= 14


def test_batch_predict_reports_bad_files_and_predicts_the_rest(trained, capsys, tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(good)
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    truncated = tmp_path / "cut.jpg"
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    code, out, err = _run(capsys, "image", "predict", "--model", str(trained / "model.keras"),
                          str(text), str(good), str(truncated), str(tmp_path / "missing.png"))
    assert code == 1
    assert out.count("\n") == 1 and out.startswith(str(good))
    assert "notes.png: not an image" in err and "cut.jpg: truncated or corrupt image" in err
    assert "missing.png: file not found" in err and "3 of 4 files could not be read" in err


@pytest.mark.parametrize("problem, expected", [
    ("missing", "model file not found"),
    ("other_app", "model of the 'go' app, not of 'image'"),
])
def test_bad_model_files_give_one_line_errors(problem, expected, trained, test_folder, capsys, tmp_path):
    model = tmp_path / "m.keras"
    if problem == "other_app":
        from shared.modelio import load_model, save_model
        keras_model, _ = load_model(trained / "model.keras")
        save_model(keras_model, model, app="go")
    code, out, err = _run(capsys, "image", "evaluate", "--model", str(model), "--data", str(test_folder))
    assert code == 2 and err.count("\n") == 1 and expected in err


def test_bad_idx_in_the_test_folder(trained, test_folder, capsys, tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes((test_folder / "t10k-images-idx3-ubyte.gz").read_bytes())
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(499, np.uint8))
    code, _, err = _run(capsys, "image", "evaluate", "--model", str(trained / "model.keras"), "--data", str(tmp_path))
    assert code == 2 and "500 images but" in err and "499 labels" in err
    code, _, err = _run(capsys, "image", "evaluate", "--model", str(trained / "model.keras"),
                        "--data", str(tmp_path / "nowhere"))
    assert code == 2 and "not a folder" in err


def test_help_everywhere(capsys):
    for argv in (["--help"], ["image", "--help"], ["image", "train", "--help"], ["demo", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            run.main(argv)
        assert exit_info.value.code == 0


def test_resume_refuses_a_fresh_folder(capsys, tmp_path):
    code, _, err = _run(capsys, "image", "train", "--resume", "--out", str(tmp_path / "new"), "--limit", "100")
    assert code == 2 and "no unfinished training run to resume" in err


def test_evaluate_on_the_validation_split_saved_in_the_model(trained, capsys):
    code, out, _ = _run(capsys, "image", "evaluate", "--model", str(trained / "model.keras"),
                        "--data", "validation", "--json")
    result = json.loads(out.strip().splitlines()[-1])
    best = json.loads((trained / "metrics.json").read_text())["best_val_accuracy"]
    assert code == 0 and result["n"] == 1000 and result["accuracy"] == pytest.approx(best, abs=1e-6)
