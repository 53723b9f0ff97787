"""Reader for the IDX files of MNIST and Fashion-MNIST (gzip-compressed or not).

An IDX file is a big-endian header, two zero bytes, a type code (0x08 = uint8),
the number of dimensions, one uint32 per dimension, then the data. Every check
fails with a message that names the file and what is wrong.
"""
import gzip
import math
import struct
import zlib

import numpy as np

from shared.errors import UserError

_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
           0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path, expect_ndim=None):
    """The array stored in IDX file `path`; gzip is detected from the content."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as error:
            raise UserError(f"{path}: truncated or corrupt gzip data ({error})") from None
    if len(raw) < 4:
        raise UserError(f"{path}: only {len(raw)} bytes, too short for an IDX header")
    magic = struct.unpack(">I", raw[:4])[0]
    dtype_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\0\0" or dtype_code not in _DTYPES or ndim == 0:
        raise UserError(f"{path}: bad magic number 0x{magic:08x}; not an IDX file "
                        f"(expected 0x000008NN, e.g. 0x00000803 for images, 0x00000801 for labels)")
    if expect_ndim is not None and ndim != expect_ndim:
        raise UserError(f"{path}: magic number 0x{magic:08x} declares {ndim} dimension(s), "
                        f"expected {expect_ndim}")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise UserError(f"{path}: header declares {ndim} dimensions but the file ends after {len(raw)} bytes")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = _DTYPES[dtype_code]
    expected = math.prod(shape) * dtype.itemsize
    found = len(raw) - header_size
    if found != expected:
        raise UserError(f"{path}: header says shape {tuple(shape)} ({expected:,} data bytes) "
                        f"but the file holds {found:,} data bytes")
    return np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)


def write_idx(path, array):
    """Write `array` as an (uncompressed, or gzip if `path` ends in .gz) IDX file."""
    array = np.asarray(array)
    codes = {v: k for k, v in _DTYPES.items()}
    dtype = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    header = bytes([0, 0, codes[dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(dtype).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(payload)
