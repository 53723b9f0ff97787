"""The dataset registry: local folders first, checksums always, downloads that verify,
and an offline error that says what to fetch and where to put it."""
import hashlib
import http.server
import threading
from functools import partial

import pytest

from conftest import needs_data
from datasets import registry
from shared.errors import UserError

PAYLOAD = b"beyond pixels test payload\n" * 100


@pytest.fixture
def toy_dataset(monkeypatch):
    remote = registry.RemoteFile("toy.bin", "http://127.0.0.1:1/toy.bin",
                                 "sha256:" + hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD))
    dataset = registry.Dataset("toy", "misc/toy", "a toy", "CC0", (remote,))
    monkeypatch.setitem(registry.DATASETS, "toy", dataset)
    return dataset


def test_every_entry_is_complete():
    for dataset in registry.DATASETS.values():
        for remote in dataset.files:
            algorithm, digest = remote.checksum.split(":")
            assert algorithm in ("sha256", "md5") and len(digest) == {"sha256": 64, "md5": 32}[algorithm]
            assert remote.size > 0
            assert remote.url == "" or remote.url.startswith(("https://", "http://"))


@needs_data("image", "mnist", "train-labels-idx1-ubyte.gz")
def test_team_data_folder_is_found_and_verified():
    path = registry.fetch_file("mnist", "train-labels-idx1-ubyte.gz")
    assert path.parent.name == "mnist" and path.stat().st_size == 28881


def test_data_dir_searched_by_subdir_then_by_name(tmp_path, toy_dataset):
    (tmp_path / "toy.bin").write_bytes(PAYLOAD)
    assert registry.fetch_file("toy", "toy.bin", data_dir=tmp_path) == tmp_path / "toy.bin"
    (tmp_path / "misc" / "toy").mkdir(parents=True)
    (tmp_path / "misc" / "toy" / "toy.bin").write_bytes(PAYLOAD)
    assert registry.fetch_file("toy", "toy.bin", data_dir=tmp_path) == tmp_path / "misc/toy/toy.bin"


def test_wrong_checksum_and_size_name_the_file(tmp_path, toy_dataset):
    (tmp_path / "toy.bin").write_bytes(PAYLOAD[:-1] + b"?")
    with pytest.raises(UserError, match=r"toy.bin: sha256 is [0-9a-f]+, expected"):
        registry.fetch_file("toy", "toy.bin", data_dir=tmp_path)
    (tmp_path / "toy.bin").write_bytes(PAYLOAD[:10])
    with pytest.raises(UserError, match="expected 2,700 bytes .* found 10"):
        registry.fetch_file("toy", "toy.bin", data_dir=tmp_path)


def test_offline_error_says_where_to_put_the_file(tmp_path, toy_dataset, monkeypatch):
    monkeypatch.delenv(registry.DATA_ENV, raising=False)
    with pytest.raises(UserError, match=r"could not download http://127.0.0.1:1/toy.bin .* "
                                        r"place it at BEYOND_PIXELS_DATA/misc/toy/toy.bin"):
        registry.fetch_file("toy", "toy.bin", data_dir=tmp_path / "empty")


def test_download_verifies_and_caches(tmp_path, toy_dataset, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    (served / "toy.bin").write_bytes(PAYLOAD)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = toy_dataset.files[0]
        url = f"http://127.0.0.1:{server.server_port}/toy.bin"
        monkeypatch.setitem(registry.DATASETS, "toy", registry.Dataset(
            "toy", "misc/toy", "a toy", "CC0", (registry.RemoteFile("toy.bin", url, remote.checksum, remote.size),)))
        monkeypatch.delenv(registry.DATA_ENV, raising=False)
        monkeypatch.setenv(registry.CACHE_ENV, str(tmp_path / "cache"))
        path = registry.fetch_file("toy", "toy.bin")
        assert path == tmp_path / "cache/misc/toy/toy.bin" and path.read_bytes() == PAYLOAD
        (served / "toy.bin").write_bytes(b"changed upstream")  # the cached, verified copy is reused
        assert registry.fetch_file("toy", "toy.bin").read_bytes() == PAYLOAD
        path.unlink()
        with pytest.raises(UserError):  # a corrupt download never lands in the cache
            registry.fetch_file("toy", "toy.bin")
        assert list((tmp_path / "cache/misc/toy").iterdir()) == []
    finally:
        server.shutdown()


def test_unknown_dataset():
    with pytest.raises(UserError, match="unknown dataset 'nope'"):
        registry.fetch("nope")
