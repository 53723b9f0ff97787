"""Training across processes: `train --distribute multi-worker` with two workers on
127.0.0.1 (TF_CONFIG), against one process trained on the same global batches; a worker
killed mid-run and both restarted with --resume; a worker whose peers never come."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import needs_data
from tests.conftest import REPO

FINGERPRINT = re.compile(r"worker (\d) of (\d): weights fingerprint ([0-9.e+-]+)")


def _ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start(argv, workers, env_extra=None, only=None):
    """Popen of `run.py argv` as each worker of a loopback cluster (or only worker `only`)."""
    addresses = [f"127.0.0.1:{port}" for port in _ports(workers)]
    processes = []
    for index in range(workers):
        if only is not None and index != only:
            continue
        config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "CUDA_VISIBLE_DEVICES": "", **(env_extra or {})}
        processes.append(subprocess.Popen([sys.executable, str(REPO / "run.py"), *argv], env=env, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    return processes


def _finish(processes, timeout=600):
    results = [process.communicate(timeout=timeout) for process in processes]
    for process, (out, err) in zip(processes, results):
        assert process.returncode == 0, err[-3000:]
    return [float(FINGERPRINT.search(out).group(3)) for out, _ in results]


IMAGE = ["image", "train", "--distribute", "multi-worker", "--arch", "lenet5", "--limit", "256", "--batch-size", "32",
         "--val-size", "200"]


@needs_data("image", "mnist")
def test_two_image_workers_train_what_one_process_trains_on_the_same_global_batches(tmp_path):
    two = _finish(_start([*IMAGE, "--epochs", "2", "--out", str(tmp_path / "two")], 2))
    one = _finish(_start([*IMAGE, "--epochs", "2", "--out", str(tmp_path / "one")], 1))
    assert two[0] == two[1]  # both workers hold the same weights
    assert two[0] == pytest.approx(one[0], rel=1e-5)  # and those of one process on the same global batches
    run = tmp_path / "two"
    assert {p.name for p in run.iterdir()} == {"model.keras", "config.json", "metrics.json", "log.csv", "tensorboard"}
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["distribute"]["workers"] == 2 and metrics["distribute"]["global_batch"] == 32
    assert len((run / "log.csv").read_text().splitlines()) == 3 and metrics["unfinished"] is False


@pytest.fixture(scope="module")
def go_records(tmp_path_factory):
    from conftest_go import prepared_random_games
    return prepared_random_games(tmp_path_factory.mktemp("distributed_go"), range(300, 310))[0]


def test_two_go_workers_train_what_one_process_trains(go_records, tmp_path):
    argv = ["go", "train", "--data", str(go_records), "--distribute", "multi-worker", "--layers", "3",
            "--filters", "8", "--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "16", "--val-positions", "32",
            "--measure-positions", "32", "--input-workers", "1", "--quiet"]
    two = _finish(_start([*argv, "--out", str(tmp_path / "two")], 2))
    one = _finish(_start([*argv, "--out", str(tmp_path / "one")], 1))
    assert two[0] == two[1] and two[0] == pytest.approx(one[0], rel=1e-5)
    assert (tmp_path / "two" / "model.keras").is_file()


@needs_data("image", "mnist")
def test_a_killed_worker_and_a_resume_lose_at_most_the_unfinished_epoch(tmp_path):
    out = tmp_path / "run"
    argv = [*IMAGE, "--limit", "1024", "--epochs", "6", "--out", str(out)]
    processes = _start(argv, 2)
    log = out / "log.csv"
    deadline = time.time() + 300
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 3):
        time.sleep(0.2)
    done_at_kill = len(log.read_text().splitlines()) - 1
    assert done_at_kill >= 2, "no epoch finished in time"
    processes[1].send_signal(signal.SIGKILL)
    processes[0].kill()  # its peer is gone: it cannot go on alone
    for process in processes:
        process.communicate(timeout=60)
    resumed = _start([*argv, "--resume"], 2)
    fingerprints = _finish(resumed)
    assert fingerprints[0] == fingerprints[1]
    rows = log.read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == list(range(6))  # every epoch once, in order
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run_this_run"] <= 6 - done_at_kill + 1 and metrics["last_epoch"] == 6


@needs_data("image", "mnist")
def test_a_worker_whose_peers_never_come_fails_clearly_in_bounded_time(tmp_path):
    started = time.time()
    (process,) = _start([*IMAGE, "--epochs", "1", "--out", str(tmp_path / "alone")], 2,
                        env_extra={"BEYOND_PIXELS_PEER_TIMEOUT": "8"}, only=1)
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0 and "could not reach its peers" in err
    assert time.time() - started < 90


@needs_data("image", "mnist")
def test_multi_worker_without_tf_config_says_what_to_set(tmp_path, capsys, monkeypatch):
    import run
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert run.main([*IMAGE, "--epochs", "1", "--out", str(tmp_path / "x")]) == 2
    assert "needs TF_CONFIG" in capsys.readouterr().err


@pytest.fixture(scope="module")
def small_fsdd(tmp_path_factory):
    """60 FSDD clips of three speakers, from the staged archive."""
    import tarfile
    from conftest import DATA
    folder = tmp_path_factory.mktemp("fsdd")
    with tarfile.open(DATA / "speech" / "fsdd_5speakers.tar.gz") as archive:
        for member in archive.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            digit, speaker, take = name[:-4].split("_") if name.endswith(".wav") else (None, None, None)
            if speaker in ("george", "jackson", "nicolas") and int(take) < 2:
                (folder / name).write_bytes(archive.extractfile(member).read())
    return folder


@needs_data("speech", "fsdd_5speakers.tar.gz")
def test_two_speech_workers_train_what_one_process_trains(small_fsdd, tmp_path):
    argv = ["speech", "train", "--dataset", "fsdd", "--data", str(small_fsdd), "--val-speakers", "nicolas",
            "--distribute", "multi-worker", "--epochs", "2", "--filters", "8", "8", "--hidden", "16",
            "--batch-size", "8", "--dropout", "0"]  # dropout draws differ per replica: off, to compare exactly
    two = _finish(_start([*argv, "--out", str(tmp_path / "two")], 2))
    one = _finish(_start([*argv, "--out", str(tmp_path / "one")], 1))
    # Sums of gradients over two replicas round differently from one batch's, and Adam turns that
    # rounding into whole steps where a gradient is near zero: equal to 1e-3, not bit for bit.
    assert two[0] == two[1] and two[0] == pytest.approx(one[0], rel=1e-3)


@needs_data("text", "sentence_benchmarks.tar.gz")
def test_two_text_workers_train_sentences_of_any_length(tmp_path):
    argv = ["text", "train", "--task", "sst2", "--no-phrases", "--limit", "320", "--embedding", "rand",
            "--mode", "rand", "--maps", "4", "--epochs", "2", "--batch-size", "32", "--distribute", "multi-worker",
            "--dropout", "0"]
    two = _finish(_start([*argv, "--out", str(tmp_path / "two")], 2))
    one = _finish(_start([*argv, "--out", str(tmp_path / "one")], 1))
    assert two[0] == two[1] and two[0] == pytest.approx(one[0], rel=1e-3)  # as for speech
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["distribute"]["workers"] == 2


@needs_data("image", "mnist")
def test_mirrored_trains_through_keras_fit(tmp_path):
    """MirroredStrategy over this machine's devices (here the CPU alone) runs Keras' own fit."""
    import run
    out = tmp_path / "mirrored"
    assert run.main(["image", "train", "--distribute", "mirrored", "--arch", "lenet5", "--limit", "256",
                     "--batch-size", "32", "--val-size", "200", "--epochs", "1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (out / "model.keras").is_file() and metrics["best_val_accuracy"] is not None
