"""The dataset registry: local folders first, checksums always, downloads that verify,
and an offline error that says what to fetch and where to put it."""
import hashlib
import http.server
import threading

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
    lengths = {"sha256": 64, "sha1": 40, "md5": 32}
    for dataset in registry.DATASETS.values():
        assert dataset.files or dataset.local_copies, dataset.name
        for remote in dataset.files + dataset.local_copies:
            algorithm, digest = remote.checksum.split(":")
            assert len(digest) == lengths[algorithm] and int(digest, 16) >= 0, (dataset.name, remote.name)
            assert remote.size > 0
        for remote in dataset.files:
            assert remote.url.startswith(("https://", "http://")), (dataset.name, remote.name)
            assert remote.unpack in ("none", "tar", "zip")
        sha256 = [r for r in dataset.files if r.checksum.startswith("sha256:")]
        assert len(sha256) == len(dataset.files) or dataset.subdir == "text/vectors", dataset.name


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


class _Server:
    """An HTTP server on 127.0.0.1 serving `files` ({path: bytes}); a path in `cut` is sent
    with its full Content-Length but only its first half, then the connection is closed."""

    def __init__(self, files):
        self.files, self.cut = files, set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2] if self.path in outer.cut else body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_port}{path}"


@pytest.fixture
def served(tmp_path, monkeypatch):
    server = _Server({"/toy.bin": PAYLOAD})
    remote = registry.RemoteFile("toy.bin", server.url("/toy.bin"),
                                 "sha256:" + hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD))
    monkeypatch.setitem(registry.DATASETS, "toy", registry.Dataset("toy", "misc/toy", "a toy", "CC0", (remote,)))
    monkeypatch.delenv(registry.DATA_ENV, raising=False)
    monkeypatch.setenv(registry.CACHE_ENV, str(tmp_path / "cache"))
    yield server
    server.server.shutdown()


def test_download_verifies_and_caches(tmp_path, served):
    path = registry.fetch_file("toy", "toy.bin")
    assert path == tmp_path / "cache/misc/toy/toy.bin" and path.read_bytes() == PAYLOAD
    served.files["/toy.bin"] = b"changed upstream"  # the cached, verified copy is reused
    assert registry.fetch_file("toy", "toy.bin").read_bytes() == PAYLOAD


def test_a_corrupt_download_names_the_file_and_both_checksums_and_is_not_kept(tmp_path, served):
    corrupt = PAYLOAD[:100] + b"X" + PAYLOAD[101:]
    served.files["/toy.bin"] = corrupt
    with pytest.raises(UserError) as error:
        registry.fetch_file("toy", "toy.bin")
    message = str(error.value)
    assert "toy.bin" in message and hashlib.sha256(PAYLOAD).hexdigest() in message
    assert hashlib.sha256(corrupt).hexdigest() in message
    assert list((tmp_path / "cache/misc/toy").iterdir()) == []


def test_an_interrupted_download_leaves_nothing_and_the_next_one_completes(tmp_path, served):
    served.cut.add("/toy.bin")
    with pytest.raises(UserError, match="could not download"):
        registry.fetch_file("toy", "toy.bin")
    assert list((tmp_path / "cache/misc/toy").iterdir()) == []
    served.cut.clear()
    assert registry.fetch_file("toy", "toy.bin").read_bytes() == PAYLOAD


def test_offline_forbids_downloads(served, monkeypatch):
    monkeypatch.setenv(registry.OFFLINE_ENV, "1")
    with pytest.raises(UserError, match="BEYOND_PIXELS_OFFLINE forbids downloading"):
        registry.fetch_file("toy", "toy.bin")


def test_data_command_lists_fetches_verifies_and_locates(tmp_path, served, capsys):
    import json

    import run
    assert run.main(["data", "list", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert listed["toy"]["licence"] == "CC0" and listed["toy"]["local_copies"] == [] and listed["toy"]["files"] == [
        {"name": "toy.bin", "url": served.url("/toy.bin"), "sha256": hashlib.sha256(PAYLOAD).hexdigest(),
         "size": len(PAYLOAD)}]
    assert {"mnist", "go-kgs", "speech-fsdd", "text-sst", "speech-commands-v2", "glove-wiki-gigaword-300"} <= set(listed)
    assert run.main(["data", "where", "toy"]) == 0
    assert "not here" in capsys.readouterr().out
    assert run.main(["data", "fetch", "toy"]) == 0
    cached = tmp_path / "cache/misc/toy/toy.bin"
    assert str(cached) in capsys.readouterr().out
    assert run.main(["data", "verify", "toy"]) == 0 and "ok" in capsys.readouterr().out
    cached.write_bytes(PAYLOAD[:-1] + b"?")
    assert run.main(["data", "verify", "toy"]) == 1 and "bad" in capsys.readouterr().out
    assert run.main(["data", "fetch", "nothing"]) == 2
    assert "unknown dataset nothing" in capsys.readouterr().err


def test_unknown_dataset():
    with pytest.raises(UserError, match="unknown dataset 'nope'"):
        registry.fetch("nope")
