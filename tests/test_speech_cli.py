"""End to end through run.py: train, evaluate --json, predict (clips, long files,
bad files), saliency PNG, and the TIMIT frame path."""
import json

import numpy as np
import pytest
import soundfile as sf

import run
from apps.speech.cli import register
from shared.cli import parse_command
from tests.conftest import needs_data

pytestmark = needs_data("speech", "fsdd_5speakers.tar.gz")


@pytest.fixture(scope="module")
def small_fsdd(tmp_path_factory):
    """60 FSDD clips of 3 speakers, linked into a folder in the original layout."""
    from apps.speech import data
    root = tmp_path_factory.mktemp("fsdd") / "recordings"
    root.mkdir()
    for path, digit, speaker in data.fsdd_items(data.default_root("fsdd")):
        take = int(path.stem.split("_")[-1])
        if speaker in ("george", "jackson", "lucas") and take < 2:
            (root / path.name).symlink_to(path)
    return root


@pytest.fixture(scope="module")
def trained(small_fsdd, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "lucas",
                     "--epochs", "2", "--filters", "8", "8", "--hidden", "16", "--augment-copies", "1",
                     "--out", str(out)])
    assert code == 0
    return out


def test_train_writes_model_config_and_metrics(trained):
    config = json.loads((trained / "config.json").read_text())
    assert config["val_speakers"] == ["lucas"] and config["train_speakers"] == ["george", "jackson"]
    assert config["train_examples"] == 80 and config["val_examples"] == 20  # 40 clips + 40 augmented
    assert (trained / "model.keras").is_file() and (trained / "metrics.json").is_file()


def test_evaluate_json_last_line(trained, small_fsdd, tmp_path, capsys):
    png = tmp_path / "confusion.png"
    assert run.main(["speech", "evaluate", "--model", str(trained / "model.keras"), "--data", str(small_fsdd),
                     "--val-speakers", "lucas", "--json", "--confusion", str(png)]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["n"] == 20 and 0.0 <= result["accuracy"] <= 1.0 and result["speakers"] == 1
    assert png.stat().st_size > 1000
    assert result["overlap"]["items"] == 0 and "warning" not in captured.err  # lucas was held out


def test_evaluate_on_a_training_speaker_warns(trained, small_fsdd, capsys):
    assert run.main(["speech", "evaluate", "--model", str(trained / "model.keras"), "--data", str(small_fsdd),
                     "--val-speakers", "george", "lucas", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["overlap"] == {"what": "clips", "checked": True, "items": 20, "of": 40, "examples": ["george"]}
    assert "20 of the 40 clips scored (50.0%) were in the training data" in captured.err


def test_predict_clips_long_recordings_and_bad_files(trained, small_fsdd, tmp_path, capsys):
    clip = sorted(small_fsdd.iterdir())[0]
    long_file = tmp_path / "long.ogg"  # 40 s, stereo, 22.05 kHz: predicted in windows
    rng = np.random.default_rng(0)
    sf.write(long_file, (0.1 * rng.normal(size=(40 * 22050, 2))).astype(np.float32), 22050, format="OGG")
    not_audio = tmp_path / "readme.wav"
    not_audio.write_text("hello")
    silent = tmp_path / "silent.flac"
    sf.write(silent, np.zeros(8000, np.float32), 8000, format="FLAC")
    (tmp_path / "x.mp3").write_bytes(b"ID3" + bytes(200))
    code = run.main(["speech", "predict", "--model", str(trained / "model.keras"), "--json",
                     str(clip), str(long_file), str(not_audio), str(silent), str(tmp_path / "x.mp3")])
    captured = capsys.readouterr()
    assert code == 1
    lines = [json.loads(line) for line in captured.out.strip().splitlines()]
    assert len(lines) == 2
    assert lines[0]["top"][0]["label"] in [str(d) for d in range(10)]
    assert len(lines[1]["windows"]) == 79  # windows of 1 s every 0.5 s over 40 s
    assert "not a readable audio file" in captured.err and "silent" in captured.err
    assert "unsupported audio format" in captured.err and "3 of 5 files" in captured.err


def test_saliency_png(trained, small_fsdd, tmp_path):
    out = tmp_path / "s.png"
    assert run.main(["speech", "saliency", "--model", str(trained / "model.keras"),
                     str(sorted(small_fsdd.iterdir())[0]), "--out", str(out)]) == 0
    assert out.stat().st_size > 1000


def test_another_apps_model_is_refused(tmp_path, capsys):
    import keras

    from shared.modelio import save_model
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = save_model(model, tmp_path / "image.keras", app="image")
    assert run.main(["speech", "predict", "--model", str(path), "x.wav"]) == 2
    assert "model of the 'image' app" in capsys.readouterr().err


@needs_data("speech", "nltk_timit_sample_14speakers.tar.gz")
def test_timit_frames_train_and_predict_a_phone_sequence(tmp_path, capsys):
    from apps.speech import data
    root = data.default_root("timit")
    out = tmp_path / "timit"
    assert run.main(["speech", "train", "--dataset", "timit", "--val-speakers", "dr1-fvmh0", "--limit", "6",
                     "--epochs", "1", "--filters", "8", "8", "--hidden", "16", "--out", str(out)]) == 0
    capsys.readouterr()
    assert run.main(["speech", "predict", "--model", str(out / "model.keras"), "--json",
                     str(root / "timit" / "dr1-fvmh0" / "si836.wav")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["frames"] > 100 and all(p["phone"] in data.TIMIT_CLASSES for p in result["phones"])


def test_cv_holds_each_speaker_out_once_and_no_val_trains_on_all(small_fsdd, tmp_path, capsys):
    out = tmp_path / "cv"
    assert run.main(["speech", "cv", "--dataset", "fsdd", "--data", str(small_fsdd), "--epochs", "2",
                     "--filters", "4", "4", "--hidden", "8", "--placement", "fit", "--vad-db", "55",
                     "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [f["fold"] for f in summary["per_fold"]] == ["george", "jackson", "lucas"]
    assert all(f["n"] == 20 for f in summary["per_fold"]) and summary["n"] == 60
    assert 1 <= summary["chosen_epochs"] <= 2 and len(summary["mean_val_accuracy_per_epoch"]) == 2
    for fold in summary["per_fold"]:
        config = json.loads((out / f"fold-{fold['fold']}" / "config.json").read_text())
        assert config["val_speakers"] == [fold["fold"]] and fold["fold"] not in config["train_speakers"]
        assert config["features"]["placement"] == "fit" and config["features"]["vad_db"] == 55
    final = tmp_path / "all"
    assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--no-val", "--epochs", "1",
                     "--filters", "4", "4", "--hidden", "8", "--out", str(final)]) == 0
    config = json.loads((final / "config.json").read_text())
    assert config["train_speakers"] == ["george", "jackson", "lucas"] and config["val_examples"] == 0
    assert json.loads((final / "metrics.json").read_text())["saved_epoch"] == 1


def test_cv_stops_at_its_time_budget_and_resumes_fold_by_fold(small_fsdd, tmp_path, capsys, monkeypatch):
    from shared import training
    ticks = iter(range(0, 10 ** 9, 1000))  # a clock on which every reading is 1000 s after the last
    monkeypatch.setattr(training, "clock", lambda: next(ticks))
    out = tmp_path / "cv"
    command = ["speech", "cv", "--dataset", "fsdd", "--data", str(small_fsdd), "--epochs", "2", "--filters", "4", "4",
               "--hidden", "8", "--out", str(out), "--json"]
    # a budget smaller than one epoch: the first fold stops after its first epoch, resumable
    assert run.main(command + ["--time-budget", "0.0001"]) == 0
    assert "--resume to continue" in capsys.readouterr().out
    first = out / "fold-george"
    assert (first / "backup").is_dir() and len(training.read_log(first / "log.csv")["val_accuracy"]) == 1
    assert not (first / "fold.json").exists() and not (out / "cv.json").exists()
    # --resume continues that fold from its checkpoint (epoch 2 only) and runs the others
    assert run.main(command + ["--resume"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [f["fold"] for f in summary["per_fold"]] == ["george", "jackson", "lucas"] and summary["resumed_folds"] == []
    assert all(len(f["val_accuracy_per_epoch"]) == 2 for f in summary["per_fold"])
    assert len(training.read_log(first / "log.csv")["val_accuracy"]) == 2 and not (first / "backup").exists()
    metrics = json.loads((first / "metrics.json").read_text())
    assert metrics["epochs_run_this_run"] == 1 and metrics["history"]["val_accuracy"] == \
        summary["per_fold"][0]["val_accuracy_per_epoch"]
    # every fold recorded: resuming again trains nothing and reports the same folds
    assert run.main(command + ["--resume"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["resumed_folds"] == ["george", "jackson", "lucas"] and again["per_fold"] == summary["per_fold"]
    # a recorded fold is not mixed with other options
    assert run.main(command[:-1] + ["--epochs", "3", "--resume", "--json"]) != 0
    assert "fold-george/fold.json: was run with epochs 2, not 3" in capsys.readouterr().err


def test_cv_folds_partition_speakers():
    from apps.speech.crossval import cv_folds
    items = [(f"{s}_{i}.wav", 0, s) for s in ("a", "b", "c", "d", "e", "f", "g") for i in range(2)]
    assert [name for name, _ in cv_folds(items, 0)] == list("abcdefg")
    groups = [set(g) for _, g in cv_folds(items, 3)]
    assert set().union(*groups) == set("abcdefg") and sum(len(g) for g in groups) == 7


def test_vtlp_and_masks_change_only_the_augmented_variants(small_fsdd, tmp_path):
    out = tmp_path / "vtlp"
    assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "lucas",
                     "--epochs", "1", "--filters", "4", "4", "--hidden", "8", "--augment-copies", "1",
                     "--vtlp", "0.9", "1.1", "--freq-masks", "1", "--freq-mask-bands", "5", "--time-masks", "1",
                     "--time-mask-frames", "10", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["feature_augment"] == {"vtlp": [0.9, 1.1], "freq_masks": 1, "freq_mask_bands": 5,
                                         "time_masks": 1, "time_mask_frames": 10}
    assert config["train_examples"] == 80 and config["val_examples"] == 20


def test_speaker_norm_train_evaluate_predict(small_fsdd, tmp_path, capsys):
    out = tmp_path / "norm"
    assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "lucas",
                     "--epochs", "1", "--filters", "4", "4", "--hidden", "8", "--augment-copies", "1",
                     "--speaker-norm", "--out", str(out)]) == 0
    from shared.modelio import read_metadata
    pre = read_metadata(out / "model.keras")["preprocessing"]
    assert pre["features"]["speaker_norm"] and len(pre["speaker_stats"]["mean"]) == 40
    scores = []
    for flags in ([], ["--lone-clips"]):
        capsys.readouterr()
        assert run.main(["speech", "evaluate", "--model", str(out / "model.keras"), "--data", str(small_fsdd),
                         "--val-speakers", "lucas", "--json"] + flags) == 0
        scores.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert scores[0]["n"] == scores[1]["n"] == 20
    clips = [str(p) for p in sorted(small_fsdd.glob("*_lucas_*.wav"))]
    outputs = []
    for flags in ([], ["--same-speaker"]):
        capsys.readouterr()
        assert run.main(["speech", "predict", "--model", str(out / "model.keras"), "--json"] + flags + clips) == 0
        outputs.append([json.loads(line)["top"][0]["probability"]
                        for line in capsys.readouterr().out.strip().splitlines()])
    assert len(outputs[0]) == len(outputs[1]) == 20 and outputs[0] != outputs[1]  # other statistics
    assert run.main(["speech", "train", "--dataset", "timit", "--speaker-norm", "--epochs", "1",
                     "--out", str(tmp_path / "t")]) == 2
    assert "--speaker-norm: for clip datasets" in capsys.readouterr().err


def test_init_model_copies_the_matching_layers_and_checks_the_features(trained, small_fsdd, tmp_path, capsys):
    out = tmp_path / "warm"
    capsys.readouterr()
    assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "lucas",
                     "--epochs", "1", "--filters", "8", "8", "--hidden", "12", "--init-model",
                     str(trained / "model.keras"), "--out", str(out)]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("init:"))
    assert "conv1_conv" in line and "conv2_bn" in line and "fresh: head_dense1, head_softmax" in line
    assert "band_norm" not in line  # adapted on this run's data, never copied
    assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "lucas",
                     "--epochs", "1", "--filters", "8", "8", "--hidden", "16", "--init-model",
                     str(trained / "model.keras"), "--init-layers", "conv", "--out", str(tmp_path / "conv")]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("init:"))
    assert "(conv1_conv, conv1_bn, conv2_conv, conv2_bn); fresh: head_dense1, head_softmax" in line
    assert run.main(["speech", "train", "--init-layers", "conv", "--out", str(tmp_path / "x")]) == 2
    assert "--init-layers: give the model" in capsys.readouterr().err
    assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "lucas",
                     "--epochs", "1", "--filters", "8", "8", "--sample-rate", "16000", "--init-model",
                     str(trained / "model.keras"), "--out", str(tmp_path / "bad")]) == 2
    assert "its features differ: sample_rate 8000 (this run: 16000) (see --sample-rate)" in capsys.readouterr().err


def test_freeze_conv_keeps_the_copied_convolutions(trained, small_fsdd, tmp_path, capsys):
    from shared.modelio import load_model
    out = tmp_path / "frozen"
    assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "lucas",
                     "--epochs", "1", "--filters", "8", "8", "--hidden", "16", "--init-model",
                     str(trained / "model.keras"), "--freeze", "conv", "--out", str(out)]) == 0
    assert "freeze conv: 4 layers frozen (conv1_conv, conv1_bn, conv2_conv, conv2_bn)" in capsys.readouterr().out
    source, _ = load_model(trained / "model.keras")
    tuned, _ = load_model(out / "model.keras")
    for name in ("conv1_conv", "conv1_bn", "conv2_conv", "conv2_bn"):
        for before, after in zip(source.get_layer(name).get_weights(), tuned.get_layer(name).get_weights()):
            np.testing.assert_array_equal(after, before)
    assert not np.array_equal(source.get_layer("head_dense1").get_weights()[0],
                              tuned.get_layer("head_dense1").get_weights()[0])  # copied, and trained on
    config = json.loads((out / "config.json").read_text())
    assert config["freeze"] == "conv" and config["frozen_layers"][0] == "conv1_conv"


def test_sample_rate_sets_the_band_edge():
    from apps.speech.train import feature_config
    parse = run.build_parser().parse_args
    config = feature_config(parse(["speech", "train", "--dataset", "commands", "--sample-rate", "8000"]))
    assert (config.sample_rate, config.fmax) == (8000, 4000.0)
    assert feature_config(parse(["speech", "train", "--dataset", "commands"])).sample_rate == 16000
    from shared.errors import UserError
    with pytest.raises(UserError, match="--sample-rate 500: too low"):
        feature_config(parse(["speech", "train", "--sample-rate", "500"]))


def test_extra_train_clips_join_every_training_split_and_never_validation(small_fsdd, tmp_path, capsys):
    from apps.speech import data
    extra = tmp_path / "extra"
    extra.mkdir()
    for path, digit, speaker in data.fsdd_items(data.default_root("fsdd")):
        if speaker == "nicolas" and int(path.stem.split("_")[-1]) < 1:
            (extra / path.name).symlink_to(path)
    out = tmp_path / "cv"
    assert run.main(["speech", "cv", "--dataset", "fsdd", "--data", str(small_fsdd), "--epochs", "1",
                     "--filters", "4", "4", "--hidden", "8", "--extra-train", str(extra),
                     "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [f["fold"] for f in summary["per_fold"]] == ["george", "jackson", "lucas"] and summary["n"] == 60
    for fold in summary["per_fold"]:
        config = json.loads((out / f"fold-{fold['fold']}" / "config.json").read_text())
        assert config["train_examples"] == 40 + 10 and config["extra_train_clips"] == 10
        assert "nicolas" not in config["val_speakers"] + config["train_speakers"]
    # the speaker-norm stand-in statistics are the dataset's speakers', extra voices or not
    from shared.modelio import read_metadata
    stats = []
    for name, more in (("plain", []), ("more", ["--extra-train", str(extra)])):
        assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--no-val", "--epochs",
                         "1", "--filters", "4", "4", "--hidden", "8", "--speaker-norm", *more,
                         "--out", str(tmp_path / name)]) == 0
        stats.append(read_metadata(tmp_path / name / "model.keras")["preprocessing"]["speaker_stats"])
    for key in ("mean", "std"):  # equal up to float32 summation order (another voice would move them by far more)
        np.testing.assert_allclose(stats[0][key], stats[1][key], rtol=1e-4, atol=1e-4)
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "0_george_99.wav").symlink_to(next(small_fsdd.glob("0_george_*")))
    assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--extra-train", str(clash),
                     "--no-val", "--epochs", "1", "--out", str(tmp_path / "t")]) != 0
    assert "speakers also in the dataset: george" in capsys.readouterr().err


def test_fsdd_extra_train_reads_the_digits_of_a_speech_commands_folder(small_fsdd, tmp_path):
    from apps.speech import data
    from apps.speech.train import extra_train_items
    commands = tmp_path / "commands"
    for name in ("six/0c40e715_nohash_0.wav", "_unknown_/eight_5170b77f_nohash_2.wav", "yes/0c40e715_nohash_0.wav"):
        (commands / name).parent.mkdir(parents=True, exist_ok=True)
        (commands / name).symlink_to(next(small_fsdd.glob("0_george_*")))
    items = data.fsdd_items(small_fsdd)
    args = parse_command(register, ["train", "--dataset", "fsdd", "--extra-train", commands])
    extra = extra_train_items(args, items)
    assert sorted(digit for _, digit, _ in extra) == [6, 8]
    assert {speaker for *_, speaker in extra} == {data.COMMANDS_DIGITS_SPEAKER}
    args.dataset = "commands"  # a Commands model reads the same folder as keywords and unknown words
    assert len(extra_train_items(args, [])) == 3


def test_cv_seeds_scores_the_ensemble_that_speech_ensemble_builds(trained, small_fsdd, tmp_path, capsys):
    out = tmp_path / "cv"
    assert run.main(["speech", "cv", "--dataset", "fsdd", "--data", str(small_fsdd), "--epochs", "1", "--seeds", "2",
                     "--filters", "4", "4", "--hidden", "8", "--placement", "fit", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["seeds"] == 2 and len(summary["per_fold"]) == 3
    assert summary["ensemble_accuracy"] == pytest.approx(np.mean([f["ensemble_accuracy"] for f in summary["per_fold"]]))
    members = [out / "fold-jackson" / f"seed-{s}" / "model.keras" for s in (1234, 1235)]
    assert all(json.loads((m.parent / "config.json").read_text())["seed"] == s for m, s in zip(members, (1234, 1235)))
    ensemble = tmp_path / "ensemble.keras"
    assert run.main(["speech", "ensemble", *map(str, members), "--out", str(ensemble)]) == 0
    # with one epoch, the saved models are the last-epoch models the cv scored
    assert run.main(["speech", "evaluate", "--model", str(ensemble), "--data", str(small_fsdd),
                     "--val-speakers", "jackson", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    fold = next(f for f in summary["per_fold"] if f["fold"] == "jackson")
    assert scored["n"] == 20 and scored["accuracy"] == pytest.approx(fold["ensemble_accuracy"])
    assert run.main(["speech", "saliency", "--model", str(ensemble), str(next(small_fsdd.glob("3_*"))),
                     "--out", str(tmp_path / "s.png")]) == 0 and (tmp_path / "s.png").is_file()



def test_an_ensemble_of_fit_and_centre_models_reads_each_clip_both_ways(trained, small_fsdd, tmp_path, capsys):
    from apps.speech import audio, features
    from apps.speech.predict import framed_probabilities, load_speech_model, mean_over_framings
    from shared.ensemble import members
    small = ["--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "lucas", "--epochs", "1",
             "--filters", "4", "4", "--hidden", "8"]
    assert run.main(["speech", "train", *small, "--placement", "fit", "--out", str(tmp_path / "fit")]) == 0
    centre, fit = trained / "model.keras", tmp_path / "fit" / "model.keras"
    mixed, shipped = tmp_path / "mixed.keras", tmp_path / "shipped.keras"
    assert run.main(["speech", "ensemble", str(fit), str(centre), "--out", str(mixed)]) == 0
    assert run.main(["speech", "export", "--model", str(mixed), "--tta-vad-db", "25", "60",
                     "--out", str(shipped)]) == 0
    model, pre, config = load_speech_model(shipped)
    assert [i["placement"] for i in pre["input_features"]] == ["fit", "centre"] and config.placement == "fit"
    clip = next(small_fsdd.glob("3_lucas_*"))
    assert run.main(["speech", "predict", "--model", str(shipped), "--json", "--top", "10", str(clip)]) == 0
    top = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["top"]
    fit_net, centre_net = members(model)
    read_fit = np.stack([features.file_features(clip, framing) for framing in features.vote_configs(config, (25, 60))])
    read_centre = features.file_features(clip, features.FeatureConfig.from_dict(pre["input_features"][1]))[None]
    # each network weighs the same: the fit one averaged over its two framings, the centre one read once
    expected = (fit_net.predict(read_fit, verbose=0).mean(axis=0) + centre_net.predict(read_centre, verbose=0)[0]) / 2
    assert {t["label"]: t["probability"] for t in top} == {
        pre["class_names"][i]: pytest.approx(float(p), abs=1e-4) for i, p in enumerate(expected)}
    # each network runs on its own input, once per distinct framing of it: the fit one twice, the centre one once
    assert pre["member_inputs"] == [0, 1]
    y = audio.load_audio(clip, config.sample_rate)
    fed = []

    def prepared(framing, index):
        fed.append((framing.placement, framing.vad_db, index))
        return features.clip_features(y, framing)[None]
    np.testing.assert_allclose(mean_over_framings(model, pre, prepared)[0], expected, atol=1e-5)
    assert fed == [("fit", 25, 0), ("fit", 60, 0), ("centre", 40, 1)]
    # a file without member_inputs (written before they were recorded) runs the whole ensemble per framing
    before = {k: v for k, v in pre.items() if k != "member_inputs"}
    np.testing.assert_allclose(framed_probabilities(model, before, [y])[0], expected, atol=1e-5)
    assert run.main(["speech", "evaluate", "--model", str(shipped), "--data", str(small_fsdd),
                     "--val-speakers", "lucas", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 20
    assert run.main(["speech", "saliency", "--model", str(shipped), str(clip), "--out", str(tmp_path / "s.png")]) == 0
    # other features than the placement are refused
    assert run.main(["speech", "train", *small, "--n-mels", "20", "--out", str(tmp_path / "narrow")]) == 0
    assert run.main(["speech", "ensemble", str(fit), str(tmp_path / "narrow" / "model.keras"),
                     "--out", str(tmp_path / "bad.keras")]) != 0
    assert "features differs" in capsys.readouterr().err


def test_a_speaker_norm_ensemble_of_two_placements_normalises_each_input_with_its_own_statistics(
        small_fsdd, tmp_path, capsys):
    from apps.speech import features
    from apps.speech.predict import load_speech_model
    from shared.ensemble import members
    from shared.modelio import read_metadata
    small = ["--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "lucas", "--epochs", "1",
             "--filters", "4", "4", "--hidden", "8", "--speaker-norm"]
    for placement in ("fit", "centre"):
        assert run.main(["speech", "train", *small, "--placement", placement, "--out", str(tmp_path / placement)]) == 0
    paths = [tmp_path / p / "model.keras" for p in ("fit", "centre")]
    mixed = tmp_path / "mixed.keras"
    assert run.main(["speech", "ensemble", *map(str, paths), "--out", str(mixed)]) == 0
    model, pre, _ = load_speech_model(mixed)
    own = [read_metadata(p)["preprocessing"]["speaker_stats"] for p in paths]
    assert own[0]["mean"] != pytest.approx(own[1]["mean"])  # a word fitted to the window has other band means
    assert pre["input_speaker_stats"] == own and pre["speaker_stats"] == own[0]
    configs = [features.FeatureConfig.from_dict(d) for d in pre["input_features"]]
    clips = sorted(small_fsdd.glob("*_lucas_*.wav"))
    read = [np.stack([features.file_features(c, config) for c in clips]) for config in configs]

    def expected(normalised):  # each network weighs the same
        return np.mean([net.predict(x, verbose=0) for net, x in zip(members(model), normalised)], axis=0)
    lone = expected([features.apply_speaker_statistics(x, s["mean"], s["std"]) for x, s in zip(read, own)])
    same = expected([features.normalise_by_speaker(x, ["lucas"] * len(clips)) for x in read])
    capsys.readouterr()
    for flags, reference in (([], lone), (["--same-speaker"], same)):
        assert run.main(["speech", "predict", "--model", str(mixed), "--json", "--top", "10", *flags,
                         *map(str, clips)]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        for line, probs in zip(lines, reference, strict=True):
            assert {t["label"]: t["probability"] for t in json.loads(line)["top"]} == {
                pre["class_names"][i]: pytest.approx(float(p), abs=1e-4) for i, p in enumerate(probs)}
    truth = [c.name.split("_")[0] for c in clips]
    for flags, reference in (([], same), (["--lone-clips"], lone)):
        assert run.main(["speech", "evaluate", "--model", str(mixed), "--data", str(small_fsdd),
                         "--val-speakers", "lucas", "--json", *flags]) == 0
        scored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert scored["accuracy"] == pytest.approx(
            np.mean([pre["class_names"][i] == t for i, t in zip(reference.argmax(1), truth)]))


def test_cv_tta_at_the_training_threshold_is_the_plain_last_epoch_accuracy(small_fsdd, tmp_path, capsys):
    assert run.main(["speech", "cv", "--dataset", "fsdd", "--data", str(small_fsdd), "--epochs", "1", "--filters", "4",
                     "4", "--hidden", "8", "--placement", "fit", "--speaker-norm", "--tta-vad-db", "40",
                     "--out", str(tmp_path / "cv"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for fold in summary["per_fold"]:  # one framing, the one trained on: the same features, the same model
        assert fold["tta_accuracy"] == pytest.approx(fold["last_val_accuracy"], abs=1e-6)


def test_tta_vad_db_cv_scores_what_an_exported_ensemble_predicts(trained, small_fsdd, tmp_path, capsys):
    from apps.speech import features
    from apps.speech.predict import load_speech_model
    out = tmp_path / "cv"
    assert run.main(["speech", "cv", "--dataset", "fsdd", "--data", str(small_fsdd), "--epochs", "1", "--seeds", "2",
                     "--filters", "4", "4", "--hidden", "8", "--placement", "fit", "--tta-vad-db", "25", "40", "60",
                     "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["ensemble_tta_accuracy"] == pytest.approx(
        np.mean([f["ensemble_tta_accuracy"] for f in summary["per_fold"]]))
    for key in ("ensemble_accuracy", "ensemble_tta_accuracy"):  # smaller ensembles: seed 1234 alone, then both
        assert len(summary[f"{key}_by_seeds"]) == 2 and summary[f"{key}_by_seeds"][1] == pytest.approx(summary[key])
    assert summary["ensemble_accuracy_by_seeds"][0] == pytest.approx(np.mean(
        [json.loads((out / f"fold-{f['fold']}" / "seed-1234" / "metrics.json").read_text())["history"]
         ["val_accuracy"][-1] for f in summary["per_fold"]]))
    members = [str(out / "fold-lucas" / f"seed-{s}" / "model.keras") for s in (1234, 1235)]
    ensemble, shipped = tmp_path / "ensemble.keras", tmp_path / "shipped.keras"
    assert run.main(["speech", "ensemble", *members, "--out", str(ensemble)]) == 0
    assert run.main(["speech", "export", "--model", str(ensemble), "--tta-vad-db", "25", "40", "60",
                     "--out", str(shipped)]) == 0
    assert run.main(["speech", "evaluate", "--model", str(shipped), "--data", str(small_fsdd),
                     "--val-speakers", "lucas", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    fold = next(f for f in summary["per_fold"] if f["fold"] == "lucas")
    assert scored["accuracy"] == pytest.approx(fold["ensemble_tta_accuracy"]) and scored["tta_vad_db"] == [25, 40, 60]
    # predict: a clip's probabilities are the mean over the three framings of it
    clip = next(small_fsdd.glob("3_lucas_*"))
    assert run.main(["speech", "predict", "--model", str(shipped), "--json", "--top", "10", str(clip)]) == 0
    top = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["top"]
    model, pre, config = load_speech_model(shipped)
    x = np.stack([features.file_features(clip, framing) for framing in features.vote_configs(config, (25, 40, 60))])
    expected = model.predict(x, verbose=0).mean(axis=0)
    assert {t["label"]: t["probability"] for t in top} == {
        pre["class_names"][i]: pytest.approx(float(p), abs=1e-4) for i, p in enumerate(expected)}
    # the trim threshold frames the word only with placement fit
    assert run.main(["speech", "export", "--model", str(trained / "model.keras"), "--tta-vad-db", "30",
                     "--out", str(tmp_path / "bad.keras")]) != 0
    assert "--placement fit" in capsys.readouterr().err
    assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--tta-vad-db", "30",
                     "--out", str(tmp_path / "bad")]) != 0
    assert "--placement fit" in capsys.readouterr().err


def test_predict_same_speaker_normalises_each_framing_with_its_own_statistics(small_fsdd, tmp_path, capsys):
    from apps.speech import features
    from apps.speech.predict import load_speech_model
    out, shipped = tmp_path / "norm", tmp_path / "shipped.keras"
    assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "lucas",
                     "--epochs", "1", "--filters", "4", "4", "--hidden", "8", "--placement", "fit",
                     "--speaker-norm", "--out", str(out)]) == 0
    assert run.main(["speech", "export", "--model", str(out / "model.keras"), "--tta-vad-db", "20", "60",
                     "--out", str(shipped)]) == 0
    clips = sorted(small_fsdd.glob("*_lucas_*.wav"))
    capsys.readouterr()
    assert run.main(["speech", "predict", "--model", str(shipped), "--json", "--top", "10", "--same-speaker",
                     *map(str, clips)]) == 0
    predicted = [{t["label"]: t["probability"] for t in json.loads(line)["top"]}
                 for line in capsys.readouterr().out.strip().splitlines()]
    # the reference: each framing of all the speaker's clips normalised by their own statistics (as `evaluate`)
    model, pre, config = load_speech_model(shipped)
    expected = np.mean([model.predict(features.normalise_by_speaker(
        np.stack([features.file_features(c, framing) for c in clips]), ["lucas"] * len(clips)), verbose=0)
        for framing in features.vote_configs(config, (20, 60))], axis=0)
    assert len(predicted) == len(clips) == 20
    for probs, reference in zip(predicted, expected):
        assert probs == {pre["class_names"][i]: pytest.approx(float(p), abs=1e-4) for i, p in enumerate(reference)}
    capsys.readouterr()
    assert run.main(["speech", "evaluate", "--model", str(shipped), "--data", str(small_fsdd), "--val-speakers",
                     "lucas", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    labels = [pre["class_names"][i] for i in expected.argmax(1)]
    assert scored["accuracy"] == pytest.approx(np.mean([l == c.name.split("_")[0] for l, c in zip(labels, clips)]))


def test_label_smoothing_and_mixup_train_on_soft_labels(small_fsdd, tmp_path):
    out = tmp_path / "soft"
    assert run.main(["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "lucas",
                     "--epochs", "2", "--filters", "8", "8", "--hidden", "16", "--label-smoothing", "0.1",
                     "--mixup", "0.2", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["label_smoothing"] == 0.1 and config["mixup"] == 0.2
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]["val_accuracy"]) == 2  # validated on one-hot labels of the held-out speaker
    with pytest.raises(SystemExit):  # argparse: "expected a fraction between 0 and 1"
        run.main(["speech", "train", "--label-smoothing", "1.5", "--out", str(tmp_path / "x")])


def test_cv_ensemble_averages_the_members_of_several_cv_runs(small_fsdd, tmp_path, capsys):
    common = ["speech", "cv", "--dataset", "fsdd", "--data", str(small_fsdd), "--epochs", "1", "--filters", "4", "4",
              "--hidden", "8", "--placement", "fit", "--json"]
    assert run.main(common + ["--seeds", "2", "--out", str(tmp_path / "a")]) == 0
    two_seeds = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert run.main(common + ["--seed", "7", "--filters", "6", "6", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    # one run alone: its own ensemble of two seeds
    assert run.main(["speech", "cv-ensemble", str(tmp_path / "a"), "--json"]) == 0
    alone = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert alone["accuracy"] == pytest.approx(two_seeds["ensemble_accuracy"]) and alone["read_at"] == "last_epoch"
    # both runs: three members per fold, the mean of their saved probabilities
    assert run.main(["speech", "cv-ensemble", str(tmp_path / "a"), str(tmp_path / "b"), "--json"]) == 0
    both = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expected = []
    for fold in ("george", "jackson", "lucas"):
        a, b = (np.load(tmp_path / run_dir / f"fold-{fold}" / "val_probabilities.npz") for run_dir in "ab")
        members = np.concatenate([a["last_epoch"], b["last_epoch"]])
        assert len(members) == 3 and len(both["per_fold"][f"fold-{fold}"]["member_accuracies"]) == 3
        expected.append(np.mean(members.mean(0).argmax(1) == a["labels"]))
    assert both["accuracy"] == pytest.approx(np.mean(expected)) and both["n"] == 60
    # a run with test-time framings is read at them, one without at its last epoch (as their models read clips)
    assert run.main(common + ["--tta-vad-db", "30", "50", "--out", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    assert run.main(["speech", "cv-ensemble", str(tmp_path / "b"), str(tmp_path / "c"), "--json"]) == 0
    mixed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert mixed["read_at"] == ["last_epoch", "framings"]
    b, c = (np.load(tmp_path / run_dir / "fold-lucas" / "val_probabilities.npz") for run_dir in "bc")
    assert mixed["per_fold"]["fold-lucas"]["accuracy"] == pytest.approx(
        np.mean((b["last_epoch"][0] + c["framings"][0]).argmax(1) == b["labels"]))
    assert run.main(["speech", "cv-ensemble", str(tmp_path)]) == 2  # not a cv folder: a clear error
    assert "val_probabilities.npz" in capsys.readouterr().err


def test_cv_warns_when_the_init_model_heard_the_held_out_speakers(trained, small_fsdd, tmp_path, capsys):
    # the init model was trained on george and jackson: their folds are scored on voices it learned
    assert run.main(["speech", "cv", "--dataset", "fsdd", "--data", str(small_fsdd), "--epochs", "1",
                     "--filters", "8", "8", "--hidden", "16", "--init-model", str(trained / "model.keras"),
                     "--init-layers", "conv", "--out", str(tmp_path / "cv"), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    by_fold = {f["fold"]: f["overlap"]["items"] for f in summary["per_fold"]}
    assert by_fold == {"george": 20, "jackson": 20, "lucas": 0}
    assert summary["overlap"]["items"] == 40 and summary["overlap"]["of"] == 60
    assert captured.err.count("were in the training data of fold") == 2
