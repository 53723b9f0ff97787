"""The IDX reader on hand-made files: good files, wrong magic, wrong counts, truncation."""
import gzip

import numpy as np
import pytest

from apps.image.data import load_pair
from apps.image.idx import read_idx, write_idx
from shared.errors import UserError


def test_round_trip_gzip_and_plain(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        write_idx(tmp_path / name, images)
        np.testing.assert_array_equal(read_idx(tmp_path / name, expect_ndim=3), images)


def test_header_is_the_published_format(tmp_path):
    write_idx(tmp_path / "labels", np.array([7, 2, 1], np.uint8))
    raw = (tmp_path / "labels").read_bytes()
    assert raw[:8] == bytes.fromhex("00000801 00000003".replace(" ", ""))
    assert raw[8:] == bytes([7, 2, 1])


def test_wrong_magic_names_file_and_number(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(bytes.fromhex("12345678") + bytes(8))
    with pytest.raises(UserError, match=r"bad\.idx: bad magic number 0x12345678"):
        read_idx(path)


def test_wrong_number_of_dimensions(tmp_path):
    write_idx(tmp_path / "labels", np.zeros(5, np.uint8))
    with pytest.raises(UserError, match="declares 1 dimension.*expected 3"):
        read_idx(tmp_path / "labels", expect_ndim=3)


def test_count_mismatch_between_header_and_data(tmp_path):
    path = tmp_path / "short.idx"
    write_idx(path, np.zeros((4, 2, 2), np.uint8))
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(UserError, match=r"shape \(4, 2, 2\) \(16 data bytes\) but the file holds 13"):
        read_idx(path)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "t.idx.gz"
    write_idx(path, np.zeros((50, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(UserError, match="t.idx.gz: truncated or corrupt gzip"):
        read_idx(path)


def test_images_and_labels_must_agree(tmp_path):
    write_idx(tmp_path / "images.gz", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "labels.gz", np.zeros(2, np.uint8))
    with pytest.raises(UserError, match="3 images but .* 2 labels"):
        load_pair(tmp_path / "images.gz", tmp_path / "labels.gz")


def test_label_out_of_range(tmp_path):
    write_idx(tmp_path / "images.gz", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "labels.gz", np.array([1, 12], np.uint8))
    with pytest.raises(UserError, match="label 12 out of range"):
        load_pair(tmp_path / "images.gz", tmp_path / "labels.gz")


def test_not_gzip_not_idx(tmp_path):
    path = tmp_path / "notes.txt.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"hello world, not an idx file")
    with pytest.raises(UserError, match="bad magic number"):
        read_idx(path)
