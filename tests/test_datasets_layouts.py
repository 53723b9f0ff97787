"""Every kind of dataset fetched by name from a server on 127.0.0.1, built here in its
published layout (a handful of files each), through the registry and the apps' readers;
each app then trains a step on what was fetched. Never the internet: the registry's
addresses are pointed at the loopback server."""
import dataclasses
import gzip
import hashlib
import io
import json
import struct
import tarfile
import zipfile

import numpy as np
import pytest

import run
from conftest import needs_data
from datasets import registry
from shared.errors import UserError
from test_datasets_registry import _Server
from conftest_go import random_sgf  # at import: it reads tests.conftest, which sets $BEYOND_PIXELS_DATA


def _tar(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _zip(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in sorted(files.items()):
            archive.writestr(name, body)
    return buffer.getvalue()


def _wav(seed, seconds, rate):
    """A tone whose pitch depends on `seed`, with a little noise: distinct, readable clips."""
    import soundfile
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    wave = 0.4 * np.sin(2 * np.pi * (200 + 37 * (seed % 20)) * t) + 0.02 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    soundfile.write(buffer, wave.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture
def publish(tmp_path, monkeypatch):
    """publish(name, {file name: bytes}): dataset `name`'s files served on 127.0.0.1, its
    registry entry pointing there with their checksums (same algorithm) and sizes; no local
    data folder, an empty cache."""
    server = _Server({})
    monkeypatch.delenv(registry.DATA_ENV, raising=False)
    monkeypatch.delenv(registry.OFFLINE_ENV, raising=False)
    monkeypatch.setenv(registry.CACHE_ENV, str(tmp_path / "cache"))

    def publish_dataset(name, bodies):
        dataset = registry.DATASETS[name]
        files = []
        for remote in dataset.files:
            body, path = bodies[remote.name], f"/{name}/{remote.name}"
            server.files[path] = body
            algorithm = remote.checksum.split(":")[0]
            files.append(dataclasses.replace(remote, url=server.url(path), size=len(body),
                                             checksum=f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"))
        monkeypatch.setitem(registry.DATASETS, name, dataclasses.replace(dataset, files=tuple(files)))
    yield publish_dataset
    server.server.shutdown()


# ------------------------------------------------------------------ speech
def _fsdd_release(speakers=("jackson", "theo"), takes=(0, 5, 10, 11)):
    return _tar({f"free-spoken-digit-dataset-1.0.9/recordings/{digit}_{speaker}_{take}.wav":
                 _wav(digit + 3 * s, 0.3, 8000)
                 for digit in range(10) for s, speaker in enumerate(speakers) for take in takes})


def test_fsdd_release_by_name_its_standard_split_and_a_training_run(publish, tmp_path, capsys):
    from apps.speech import data
    publish("speech-fsdd", {"free-spoken-digit-dataset-1.0.9.tar.gz": _fsdd_release()})
    train, val, test = data.standard_split("fsdd")
    takes = lambda items: sorted({data.fsdd_take(i[0]) for i in items})  # noqa: E731
    assert (len(train), len(val), len(test)) == (40, 20, 20)
    assert takes(train) == [10, 11] and takes(val) == [5] and takes(test) == [0]
    out = tmp_path / "run"
    assert run.main(["speech", "train", "--dataset", "fsdd", "--split", "standard", "--epochs", "1",
                     "--filters", "8", "8", "--hidden", "16", "--out", str(out)]) == 0
    capsys.readouterr()
    assert run.main(["speech", "evaluate", "--model", str(out / "model.keras"), "--split", "standard", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.0 <= metrics["accuracy"] <= 1.0 and "standard test split" in metrics["data"]


def test_speech_commands_release_gives_the_12_class_protocol(publish):
    from apps.speech import data
    words = {"yes": 8, "no": 8, "cat": 30}  # two keywords and one other word, clips per word
    files = {f"{word}/{i:08x}_nohash_0.wav": _wav(i, 0.25, 16000) for word, n in words.items() for i in range(n)}
    files["_background_noise_/white_noise.wav"] = _wav(99, 3.0, 16000)
    files["validation_list.txt"] = b"yes/00000000_nohash_0.wav\ncat/00000001_nohash_0.wav\n"
    files["testing_list.txt"] = b"no/00000002_nohash_0.wav\n"
    publish("speech-commands-v2", {"speech_commands_v0.02.tar.gz": _tar(files)})
    publish("speech-commands-v2-test", {"speech_commands_test_set_v0.02.tar.gz": _tar({
        "yes/000000aa_nohash_0.wav": _wav(1, 0.25, 16000), "_silence_/0.wav": _wav(2, 1.0, 16000),
        "_unknown_/cat_000000bb_nohash_0.wav": _wav(3, 0.25, 16000)})})
    train, val, test = data.standard_split("commands")
    classes = lambda items: [data.COMMANDS_CLASSES[i[1]] for i in items]  # noqa: E731
    keywords = [c for c in classes(train) if c in ("yes", "no")]
    assert len(keywords) == 14  # 16 keyword clips less one validation and one testing clip
    assert classes(train).count("_unknown_") == classes(train).count("_silence_") == 2  # ceil(10% of 14)
    assert "no" not in classes(val) and classes(val).count("yes") == 1
    assert [i for i in train + val if str(i[0]).endswith("no/00000002_nohash_0.wav")] == []  # a testing-list clip
    assert sorted(classes(test)) == ["_silence_", "_unknown_", "yes"]
    import soundfile
    silence = [i[0] for i in train if data.COMMANDS_CLASSES[i[1]] == "_silence_"]
    assert all(soundfile.info(path).frames == 16000 for path in silence)


def test_timit_manifest_matches_the_local_copy_file_for_file():
    dataset = registry.DATASETS["speech-timit-nltk-sample"]
    assert len(dataset.files) == 580 and all(f.url.endswith(f.name[len("timit/"):]) for f in dataset.files)
    copy = registry.locate(dataset, dataset.local_copies[0])
    if copy is None:
        pytest.skip("the staged TIMIT archive is not here")
    with tarfile.open(copy) as archive:
        members = {m.name: m.size for m in archive.getmembers() if m.isfile()}
    assert members == {f.name: f.size for f in dataset.files}


# ------------------------------------------------------------------ text
_TREES = ["(4 (3 (2 a) (4 gorgeous)) (3 (2 ,) (4 witty)))", "(0 (1 (2 a) (0 dreadful)) (1 mess))",
          "(3 (2 it) (3 (3 works) (2 .)))", "(1 (2 it) (1 (1 drags) (2 .)))", "(2 (2 a) (2 film))"]


def test_sst_release_with_its_test_split_trains_and_evaluates(publish, tmp_path, capsys):
    trees = "\n".join(_TREES).encode() + b"\n"
    kim = b"1 a gorgeous , witty\n0 a dreadful mess\n"
    publish("text-sst", {"sst/trainDevTestTrees_PTB.zip": _zip({
        "trees/train.txt": trees * 4, "trees/dev.txt": trees, "trees/test.txt": trees}),
        **{f"sst/stsa.{kind}.{split}": kim for kind in ("fine", "binary") for split in ("train", "dev")}})
    from apps.text import data
    splits = data.load_task("sst2")
    assert len(splits["test"][0]) == 4 and list(splits["test"][1]) == [1, 0, 1, 0]  # neutral dropped
    out = tmp_path / "sst2"
    assert run.main(["text", "train", "--task", "sst2", "--embedding", "rand", "--epochs", "1", "--maps", "4",
                     "--out", str(out)]) == 0
    capsys.readouterr()
    assert run.main(["text", "evaluate", "--model", str(out / "model.keras"), "--data", "test", "--json"]) == 0
    assert 0.0 <= json.loads(capsys.readouterr().out.strip().splitlines()[-1])["accuracy"] <= 1.0


def test_the_staged_copy_has_no_test_split_and_says_where_it_is(tmp_path, monkeypatch, capsys):
    """A local copy is read first; evaluating on `test` then says to fetch the release."""
    bundle = _tar({"sst/trees/train.txt": "\n".join(_TREES * 4).encode(), "sst/trees/dev.txt": _TREES[0].encode()})
    (tmp_path / "data" / "text").mkdir(parents=True)
    (tmp_path / "data" / "text" / "sentence_benchmarks.tar.gz").write_bytes(bundle)
    copy = registry.LocalCopy("sentence_benchmarks.tar.gz", "sha256:" + hashlib.sha256(bundle).hexdigest(), len(bundle))
    monkeypatch.setitem(registry.DATASETS, "text-sst", dataclasses.replace(registry.DATASETS["text-sst"],
                                                                           local_copies=(copy,)))
    monkeypatch.setenv(registry.DATA_ENV, str(tmp_path / "data"))
    monkeypatch.setenv(registry.CACHE_ENV, str(tmp_path / "cache"))
    folder = registry.dataset_dir("text-sst")
    assert (folder / "sst/trees/train.txt").is_file() and not (folder / "sst/trees/test.txt").exists()
    middle = len(bundle) // 2
    corrupt = bundle[:middle] + bytes([bundle[middle] ^ 1]) + bundle[middle + 1:]
    (tmp_path / "data" / "text" / "sentence_benchmarks.tar.gz").write_bytes(corrupt)
    with pytest.raises(UserError, match="sentence_benchmarks.tar.gz: sha256 is"):
        registry.dataset_dir("text-sst")


def test_named_word_vectors_are_fetched_verified_and_kept_as_keyed_vectors(publish):
    from apps.text import embeddings
    text = b"3 4\nthe 0.1 0.2 0.3 0.4\nmovie 1 0 0 0\ngood 0 1 0 0\n"
    publish("glove-wiki-gigaword-50", {"glove-wiki-gigaword-50.gz": gzip.compress(text)})  # md5, as gensim-data
    publish("glove-840b-300d", {"glove.840B.300d.zip": _zip({"glove.840B.300d.txt": text.split(b"\n", 1)[1]})})
    embeddings.load_named_vectors.cache_clear()
    vectors = embeddings.get_vectors("glove-6b-50d")
    assert vectors.index_to_key == ["the", "movie", "good"] and np.allclose(vectors["the"], [0.1, 0.2, 0.3, 0.4])
    stanford = embeddings.get_vectors("glove-840b-300d")  # text without a header, inside a zip (sha1)
    assert stanford.vector_size == 4 and np.allclose(stanford["good"], [0, 1, 0, 0])
    embeddings.load_named_vectors.cache_clear()
    registry.DATASETS.pop("glove-wiki-gigaword-50")  # no second download: the saved KeyedVectors load
    assert embeddings.get_vectors("glove-6b-50d")["movie"][0] == 1.0


# ------------------------------------------------------------------ image and Go
def _idx(array, dtype_code):
    header = struct.pack(">BBBB", 0, 0, dtype_code, array.ndim)  # IDX magic: 0, 0, type, dimensions
    return gzip.compress(header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes())


def test_mnist_release_by_name_and_a_training_run(publish, tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(96) % 10
    images = (rng.random((96, 28, 28)) * 40).astype(np.uint8)
    for i, label in enumerate(labels):  # a bright bar whose row says the class: learnable
        images[i, 2 + 2 * label:4 + 2 * label, 4:24] = 255
    publish("mnist", {"train-images-idx3-ubyte.gz": _idx(images[:80], 0x08),
                      "train-labels-idx1-ubyte.gz": _idx(labels[:80], 0x08),
                      "t10k-images-idx3-ubyte.gz": _idx(images[80:], 0x08),
                      "t10k-labels-idx1-ubyte.gz": _idx(labels[80:], 0x08)})
    out = tmp_path / "image"
    assert run.main(["image", "train", "--dataset", "mnist", "--arch", "lenet5", "--epochs", "1", "--val-size", "16",
                     "--batch-size", "16", "--out", str(out)]) == 0
    assert (out / "model.keras").is_file() and json.loads((out / "metrics.json").read_text())


def test_kgs_archives_by_name_prepared_and_trained_on(publish, tmp_path):
    dataset = registry.DATASETS["go-kgs"]
    bodies = {}
    for n, remote in enumerate(dataset.files):
        stem = remote.name[:-len(".tar.gz")]
        bodies[remote.name] = _tar({f"{stem}/{stem}{g}.sgf": random_sgf(100 + 2 * n + g) for g in range(2)})
    publish("go-kgs", bodies)
    records = tmp_path / "records"
    assert run.main(["go", "prepare", "--source", "kgs", "--out", str(records), "--val-fraction", "0.2"]) == 0
    out = tmp_path / "go"
    assert run.main(["go", "train", "--data", str(records), "--layers", "3", "--filters", "8", "--epochs", "1",
                     "--steps-per-epoch", "2", "--batch-size", "16", "--val-positions", "32",
                     "--measure-positions", "32", "--out", str(out), "--quiet"]) == 0
    assert (out / "model.keras").is_file()


def test_registry_entries_have_addresses_checksums_and_sizes(capsys):
    assert run.main(["data", "list", "--json"]) == 0
    for entry in json.loads(capsys.readouterr().out):
        assert entry["licence"] and entry["citation"], entry["name"]
        assert entry["files"] or entry["local_copies"], entry["name"]
        for file in entry["files"]:
            assert file["url"].startswith(("https://", "http://")) and file["size"] > 0
            assert file["sha256"] or file.get("md5") or file.get("sha1"), file["name"]


@needs_data("go", "pro", "aeb_pro_19x19_67014.tar.gz")
def test_a_dataset_with_only_a_local_copy_is_found_or_explained(tmp_path, monkeypatch):
    assert registry.fetch("go-pro")[0].name == "aeb_pro_19x19_67014.tar.gz"
    monkeypatch.delenv(registry.DATA_ENV)
    with pytest.raises(UserError, match="no published file can be pinned .* place aeb_pro_19x19_67014.tar.gz"):
        registry.fetch("go-pro", data_dir=tmp_path)
