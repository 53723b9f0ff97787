"""The text app end to end on a tiny synthetic task: train (must learn), save,
evaluate (JSON contract), predict with highlights, and bad input."""
import json
from pathlib import Path

import numpy as np
import pytest

import run
from apps.text import cli, crossval, predict, train


def _synthetic(n, seed):
    """Sentences of filler words with one sentiment word somewhere: its class is the label."""
    rng = np.random.default_rng(seed)
    filler = "the a film movie story plot actors scene was is and of".split()
    good, bad = "great wonderful superb".split(), "awful dreadful boring".split()
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        words = list(rng.choice(filler, int(rng.integers(2, 12))))
        words.insert(int(rng.integers(len(words) + 1)), rng.choice(good if label else bad))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels, dtype=np.int32)


def _args(tmp_path, arch):
    from apps.text.cli import register
    from shared.cli import parse_command
    return parse_command(register, ["train", "--task", "mr", "--arch", arch, "--embedding", "rand",
                                    "--mode", "nonstatic", "--extra-words", 0, "--seed", 1, "--epochs", 3,
                                    "--batch-size", 32, "--learning-rate", 3e-3, "--out", tmp_path / arch])


@pytest.fixture(scope="module", params=["kim", "dcnn"])
def trained(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp(request.param)
    args = _args(tmp_path, request.param)
    metrics, _, _ = train.train_once(args, "mr", _synthetic(400, 0), _synthetic(100, 1), args.out, verbose=0)
    return tmp_path, metrics


def test_training_learns(trained):
    _, metrics = trained
    assert metrics["best_val_accuracy"] >= 0.9


def test_evaluate_prints_json_last(trained, capsys):
    tmp_path, _ = trained
    texts, labels = _synthetic(50, 2)
    data = tmp_path / "test.all"
    data.write_text("".join(f"{l} {t}\n" for t, l in zip(texts, labels)))
    code = run.main(["text", "evaluate", "--model", _model(tmp_path), "--data", str(data), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 50 and result["accuracy"] >= 0.85


def _model(tmp_path):
    return str(next(tmp_path.glob("*/model.keras")))


def test_predict_label_probabilities_and_highlight(trained, capsys):
    tmp_path, _ = trained
    code = run.main(["text", "predict", "--model", _model(tmp_path), "--json", "--color", "never",
                     "the film was wonderful and the story", "the plot is awful"])
    assert code == 0
    lines = [json.loads(l) for l in capsys.readouterr().out.strip().splitlines()]
    assert [l["label"] for l in lines] == ["positive", "negative"]
    assert abs(sum(lines[0]["probabilities"].values()) - 1) < 1e-3
    scores = dict(lines[0]["word_scores"])
    assert scores["wonderful"] > 0  # the decisive word lies in a kept window


def test_bad_input(trained, capsys):
    tmp_path, _ = trained
    model = _model(tmp_path)
    assert run.main(["text", "predict", "--model", model, ""]) == 1  # empty: reported, exit 1
    assert "empty text" in capsys.readouterr().err
    assert run.main(["text", "predict", "--model", model, "--json", "", "the film was wonderful"]) == 1
    lines = [json.loads(l) for l in capsys.readouterr().out.strip().splitlines()]  # one line per input, in order
    assert "skipped" in lines[0] and lines[1]["label"] == "positive"
    weird = b"caf\xe9 \xff\xfe wonderful".decode("utf-8", "surrogateescape")  # non-UTF-8 argv bytes
    assert run.main(["text", "predict", "--model", model, "--json", weird]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["label"] == "positive"
    long_text = " ".join(["the film was great"] * 25000)  # 100,000 words
    assert run.main(["text", "predict", "--model", model, "--json", long_text]) == 0
    captured = capsys.readouterr()
    assert "100,000 words" in captured.err and json.loads(captured.out.splitlines()[-1])["tokens"] == 1000
    assert run.main(["text", "predict", "--model", model, "--json", "zzqx blorf"]) == 0
    captured = capsys.readouterr()
    assert "none of the words" in captured.err and json.loads(captured.out.splitlines()[-1])["unknown_words"] == 2
    assert run.main(["text", "evaluate", "--model", model, "--data", str(tmp_path / "missing.txt")]) == 2


def test_init_model_warm_starts_and_refuses_a_mismatch(trained, tmp_path):
    from shared.errors import UserError
    source_dir, source_metrics = trained
    arch = next(source_dir.glob("*/model.keras")).parent.name
    args = _args(tmp_path, arch)
    args.epochs, args.learning_rate, args.init_model = 1, 1e-9, _model(source_dir)
    metrics, _, _ = train.train_once(args, "mr", _synthetic(400, 0), _synthetic(100, 1), args.out, verbose=0)
    # a (near) zero learning rate keeps the source's weights: its dev accuracy again
    assert abs(metrics["best_val_accuracy"] - source_metrics["best_val_accuracy"]) < 0.02
    with pytest.raises(UserError, match="vocabulary"):
        texts, labels = _synthetic(400, 0)
        train.train_once(args, "mr", (texts + ["a zebra"], np.append(labels, 1)), _synthetic(100, 1),
                         tmp_path / "other", verbose=0)


def test_freeze_conv_keeps_the_source_convolutions(trained, tmp_path):
    import keras
    source_dir, _ = trained
    arch = next(source_dir.glob("*/model.keras")).parent.name
    args = _args(tmp_path, arch)
    args.epochs, args.init_model, args.freeze = 1, _model(source_dir), "conv"
    train.train_once(args, "mr", _synthetic(400, 0), _synthetic(100, 1), args.out, verbose=0)
    source = keras.saving.load_model(_model(source_dir), compile=False)
    tuned = keras.saving.load_model(_model(tmp_path), compile=False)
    convs = [layer.name for layer in source.layers if layer.name.startswith("conv")]
    assert convs
    for name in convs:
        for before, after in zip(source.get_layer(name).get_weights(), tuned.get_layer(name).get_weights()):
            np.testing.assert_array_equal(after, before)
    assert not np.array_equal(source.get_layer("softmax").get_weights()[0], tuned.get_layer("softmax").get_weights()[0])


def test_crossval_writes_its_summary_after_every_fold(tmp_path, monkeypatch):
    """A run stopped after fold k reports k folds: crossval.json is there before the next fold trains."""
    from apps.text import data
    monkeypatch.setattr(data, "load_pool", lambda task, data_dir=None: _synthetic(150, 0))
    summary_before_fold = []
    train_once = train.train_once

    def recording_train_once(*args, **kwargs):
        path = tmp_path / "cv" / "crossval.json"
        summary_before_fold.append(json.loads(path.read_text())["protocol"] if path.exists() else None)
        return train_once(*args, **kwargs)
    monkeypatch.setattr(crossval, "train_once", recording_train_once)
    code = run.main(["text", "crossval", "--task", "mr", "--arch", "kim", "--embedding", "rand", "--extra-words", "0",
                     "--epochs", "1", "--folds", "5", "--run-folds", "3", "--patience", "1",
                     "--out", str(tmp_path / "cv")])
    assert code == 0
    assert summary_before_fold == [None, "1 of 5 CV folds", "2 of 5 CV folds"]
    summary = json.loads((tmp_path / "cv" / "crossval.json").read_text())
    accuracies = [f["test_accuracy"] for f in summary["folds"]]
    assert summary["protocol"] == "3 of 5 CV folds" and summary["patience"] == 1
    assert summary["accuracy"] == pytest.approx(np.mean(accuracies)) and summary["std"] == pytest.approx(np.std(accuracies))


def test_crossval_resume_keeps_finished_folds_and_runs_the_rest(tmp_path, monkeypatch, capsys):
    from apps.text import data
    monkeypatch.setattr(data, "load_pool", lambda task, data_dir=None: _synthetic(150, 0))
    argv = ["text", "crossval", "--task", "mr", "--arch", "kim", "--embedding", "rand", "--extra-words", "0",
            "--epochs", "1", "--folds", "4", "--out", str(tmp_path / "cv")]
    assert run.main(argv + ["--run-folds", "2"]) == 0
    first = json.loads((tmp_path / "cv" / "crossval.json").read_text())
    trained = []
    train_once = train.train_once
    monkeypatch.setattr(crossval, "train_once", lambda *a, **k: trained.append(a[4]) or train_once(*a, **k))
    assert run.main(argv + ["--epochs", "2", "--resume"]) == 2
    assert "was run with epochs 1, not 2" in capsys.readouterr().err and not trained
    assert run.main(argv + ["--learning-rate", "0.01", "--resume"]) == 2  # any option of the folds, not a few
    assert "was run with learning_rate 0.001, not 0.01" in capsys.readouterr().err and not trained
    assert run.main(argv + ["--resume"]) == 0
    assert [Path(out).name for out in trained] == ["fold3", "fold4"]
    summary = json.loads((tmp_path / "cv" / "crossval.json").read_text())
    assert summary["protocol"] == "4 of 4 CV folds" and summary["folds"][:2] == first["folds"]
    assert [f["fold"] for f in summary["folds"]] == [1, 2, 3, 4] and summary["seconds"] >= first["seconds"]


def test_benchmark_table_cells_say_how_many_folds():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "bench" / "text_benchmarks.py"
    spec = importlib.util.spec_from_file_location("text_benchmarks", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.cell({"protocol": "3 of 10 CV folds", "accuracy": 0.7891, "std": 0.0204}) == \
        "**78.9** ± 2.0 (3 of 10 folds)"
    assert bench.cell({"protocol": "test split", "accuracy": 0.902, "std": 0.0}) == "**90.2**"
    assert bench.cell(None) == "not run"


def test_ensemble_averages_members_and_explains(tmp_path, capsys):
    """Kim's CNN + the DCNN in one file: its probabilities are the members' mean; predict and
    visualize work on it; a model of another task is refused."""
    from apps.text.data import read_eval_file
    from shared.modelio import load_model
    paths = []
    for arch in ("kim", "dcnn"):
        args = _args(tmp_path, arch)
        train.train_once(args, "mr", _synthetic(400, 0), _synthetic(100, 1), args.out, verbose=0)
        paths.append(str(tmp_path / arch / "model.keras"))
    out = str(tmp_path / "ensemble.keras")
    assert run.main(["text", "ensemble", *paths, "--out", out]) == 0
    texts, labels = _synthetic(40, 2)
    data = tmp_path / "test.all"
    data.write_text("".join(f"{l} {t}\n" for t, l in zip(texts, labels)))
    texts, labels = read_eval_file(data, "mr", 2)
    probabilities = []
    for path in paths + [out]:
        model, meta = load_model(path, app="text")
        probabilities.append(predict.predict_probabilities(model, predict.encode_texts(texts, meta)[1]))
    np.testing.assert_allclose(probabilities[2], (probabilities[0] + probabilities[1]) / 2, atol=1e-5)
    (tokens,), (ids,) = predict.encode_texts(["the plot is awful"], meta)  # meta: the ensemble's
    explained, _, _ = predict.kmax_explainer(model, meta["preprocessing"])(tokens, ids)
    np.testing.assert_allclose(explained, np.asarray(model(np.array([ids], np.int32)))[0], atol=1e-6)
    capsys.readouterr()
    assert run.main(["text", "evaluate", "--model", out, "--data", str(data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 40 and result["accuracy"] == pytest.approx((probabilities[2].argmax(1) == labels).mean())
    assert run.main(["text", "predict", "--model", out, "--json", "--color", "never", "the plot is awful"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["label"] == "negative" and dict(line["word_scores"])["awful"] > 0 and line["top_ngrams"]
    assert run.main(["text", "visualize", "--model", out, "--out", str(tmp_path / "viz"), "--text",
                     "the film was wonderful", "--color", "never"]) == 0
    assert (tmp_path / "viz" / "saliency_kmax.png").exists()
    other = _args(tmp_path, "kim")
    other.out = str(tmp_path / "trec")
    train.train_once(other, "trec", _synthetic(100, 0), _synthetic(50, 1), other.out, verbose=0)
    assert run.main(["text", "ensemble", paths[0], other.out + "/model.keras", "--out", out + "2"]) == 2
    assert "its task differs" in capsys.readouterr().err


def test_cosine_learning_rate_decays_to_zero_over_the_run():
    optimizer = train.optimizer("adam", 0.01, decay_steps=100)
    assert float(optimizer.learning_rate) == pytest.approx(0.01)
    optimizer.iterations.assign(50)
    assert float(optimizer.learning_rate) == pytest.approx(0.005, abs=1e-6)
    optimizer.iterations.assign(100)
    assert float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-7)
    assert float(train.optimizer("adam", 0.01).learning_rate) == pytest.approx(0.01)


def test_a_binary_file_given_to_a_five_class_model_is_flagged(capsys):
    pre = {"class_names": ["0", "1", "2", "3", "4"], "task": "sst5"}
    cli._warn_if_only_binary_labels("stsa.binary.dev", np.array([0, 1] * 10), pre)
    assert "every label in stsa.binary.dev is 0 or 1, but this model has 5 classes" in capsys.readouterr().err
    cli._warn_if_only_binary_labels("fine.dev", np.array([0, 1, 4] * 10), pre)
    cli._warn_if_only_binary_labels("binary.dev", np.array([0, 1] * 10), {"class_names": ["n", "p"], "task": "sst2"})
    assert capsys.readouterr().err == ""


def _synthetic5(n, seed):
    """Five classes, SST-5 style: the one sentiment word's class (0 very negative ... 4 very positive)."""
    rng = np.random.default_rng(seed)
    filler = "the a film movie story plot actors scene was is and of".split()
    words_of = [["dreadful", "atrocious"], ["dull", "weak"], ["average", "ordinary"], ["nice", "good"],
                ["superb", "masterful"]]
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(5))
        words = list(rng.choice(filler, int(rng.integers(2, 10))))
        words.insert(int(rng.integers(len(words) + 1)), rng.choice(words_of[label]))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels, dtype=np.int32)


def test_collapse_turns_an_sst5_model_or_ensemble_into_an_sst2_model(tmp_path, capsys):
    from apps.text.data import read_eval_file
    from shared.layers import merge_class_probabilities
    from shared.modelio import load_model
    paths = []
    for arch in ("kim", "dcnn"):
        args = _args(tmp_path, arch)
        args.epochs = 6
        train.train_once(args, "sst5", _synthetic5(600, 0), _synthetic5(100, 1), args.out, verbose=0)
        paths.append(str(tmp_path / arch / "model.keras"))
    assert run.main(["text", "ensemble", *paths, "--out", str(tmp_path / "ensemble5.keras")]) == 0
    texts, labels = _synthetic5(200, 2)
    keep = labels != 2  # SST-2 has no neutral sentences
    data = tmp_path / "binary.dev"
    data.write_text("".join(f"{int(l > 2)} {t}\n" for t, l, k in zip(texts, labels, keep) if k))
    texts2, labels2 = read_eval_file(data, "sst2", 2)
    for source in (paths[0], str(tmp_path / "ensemble5.keras")):
        out = str(tmp_path / (Path(source).parent.name + "_sst2.keras"))
        assert run.main(["text", "collapse", "--model", source, "--out", out]) == 0
        fine, fine_meta = load_model(source, app="text")
        model, meta = load_model(out, app="text")
        assert meta["preprocessing"]["task"] == "sst2" and meta["preprocessing"]["class_names"] == ["negative",
                                                                                                   "positive"]
        p5 = predict.predict_probabilities(fine, predict.encode_texts(texts2, fine_meta)[1])
        p2 = predict.predict_probabilities(model, predict.encode_texts(texts2, meta)[1])
        expected = np.stack([p5[:, :2].sum(1), p5[:, 3:].sum(1)], axis=1)
        np.testing.assert_allclose(p2, expected / expected.sum(1, keepdims=True), atol=1e-5)
        np.testing.assert_allclose(np.asarray(merge_class_probabilities(p5, [[0, 1], [3, 4]])), p2, atol=1e-5)
        capsys.readouterr()
        assert run.main(["text", "evaluate", "--model", out, "--data", str(data), "--json"]) == 0
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert result["n"] == len(labels2) and result["accuracy"] >= 0.9  # the fine model learned the task
        (tokens,), (ids,) = predict.encode_texts(["the plot was atrocious"], meta)
        explained, scores, _ = predict.kmax_explainer(model, meta["preprocessing"])(tokens, ids)
        np.testing.assert_allclose(explained, np.asarray(model(np.array([ids], np.int32)))[0], atol=1e-6)
        assert run.main(["text", "predict", "--model", out, "--json", "--color", "never",
                         "the plot was atrocious"]) == 0
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert line["label"] == "negative" and set(line["probabilities"]) == {"negative", "positive"}
    # the class score visualize explains: each merged class's log-sum-exp of the fine logits (not the
    # log of a saturated probability, whose gradient vanishes)
    from scipy.special import logsumexp
    from shared.visualize import logits_model
    collapsed = str(tmp_path / "kim_sst2.keras")
    model, meta = load_model(collapsed, app="text")
    fine, _ = load_model(paths[0], app="text")
    batch = np.array([ids], np.int32)
    fine_logits = np.asarray(logits_model(fine)(batch))[0]
    np.testing.assert_allclose(np.asarray(logits_model(model)(batch))[0],
                               [logsumexp(fine_logits[:2]), logsumexp(fine_logits[3:])], atol=1e-4)
    assert run.main(["text", "visualize", "--model", collapsed, "--out", str(tmp_path / "viz"), "--text",
                     "the film was superb", "--color", "never"]) == 0
    assert (tmp_path / "viz" / "saliency_kmax.png").exists()
    # collapsed models ensemble like any SST-2 models (their outputs are already binary)
    both = str(tmp_path / "both.keras")
    assert run.main(["text", "ensemble", str(tmp_path / "kim_sst2.keras"), str(tmp_path / "kim_sst2.keras"),
                     "--out", both]) == 0
    model, meta = load_model(both, app="text")
    explained, _, _ = predict.kmax_explainer(model, meta["preprocessing"])(tokens, ids)
    np.testing.assert_allclose(explained, np.asarray(model(np.array([ids], np.int32)))[0], atol=1e-6)
    # only an SST-5 model has the classes to merge
    assert run.main(["text", "collapse", "--model", out, "--out", str(tmp_path / "again.keras")]) != 0
    assert "collapse takes an sst5 model" in capsys.readouterr().err


def test_init_model_of_another_task_transfers_the_shared_words_and_layers(trained, tmp_path, capsys):
    from apps.text.tokenize import Vocabulary
    from shared.modelio import load_model
    source_dir, _ = trained
    source, meta = load_model(_model(source_dir), app="text")
    theirs = meta["preprocessing"]["vocabulary"]
    vocab = Vocabulary(["zebra"] + theirs[2:][::-1])  # another order and one new word
    table = source.get_layer("embed").get_weights()[0]
    model = train.build(_args(tmp_path, source.name.split("_")[0]), len(vocab), 6,
                        np.zeros((len(vocab), table.shape[1])))
    fresh_zebra = model.get_layer("embed").get_weights()[0][vocab.index["zebra"]].copy()
    train.init_weights(model, _model(source_dir), "trec", vocab)  # a 6-class task from a 2-class "mr" model
    ours = model.get_layer("embed").get_weights()[0]
    for word in ("great", "awful", "the"):
        np.testing.assert_array_equal(ours[vocab.index[word]], table[theirs.index(word)])
    np.testing.assert_array_equal(ours[vocab.index["zebra"]], fresh_zebra)  # not in the source: left as it was
    convs = [layer.name for layer in source.layers if layer.name.startswith("conv")]
    assert convs
    for name in convs:
        for a, b in zip(model.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    out = capsys.readouterr().out
    assert "a mr model" in out and f"embed ({len(vocab) - 1} of {len(vocab)} words)" in out
    assert "fresh: softmax" in out  # 6 classes here, 2 there
