"""Vectorised hex decoding of Arrow string arrays (no per-row Python), and 128-bit keys of hashes.

Ethereum ``input`` fields and transaction hashes arrive as hex text; decoding them row by row in Python would
be
the slowest step of an ingest of millions of rows, so these work on the Arrow buffers with numpy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _NIBBLE[_c] = 10 + _i

UInt64Array = npt.NDArray[np.uint64]
BoolArray = npt.NDArray[np.bool_]


def _string_buffers(array: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """Offsets (rebased to the data slice) and data bytes of a string array (nulls count as empty)."""
    array = array.cast(pa.large_string()) if array.type != pa.large_string() else array
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data_buffer = array.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    return offsets.astype(np.int64), data


def hash_keys(hashes: pa.Array, prefix: int = 0) -> tuple[UInt64Array, UInt64Array, BoolArray]:
    """Two uint64 words (the first 128 bits) of fixed-length hex hashes, and a mask of malformed rows.

    ``prefix`` characters (``0x``) are skipped. A row is malformed if it is null, not ``prefix + 64``
    characters
    long, or not hex; its words are zero.
    """
    n = len(hashes)
    if n == 0:
        empty = np.empty(0, dtype=np.uint64)
        return empty, empty.copy(), np.empty(0, dtype=bool)
    offsets, data = _string_buffers(hashes)
    width = prefix + 64
    lengths = np.diff(offsets)
    bad = lengths != width
    if hashes.null_count:
        bad |= np.asarray(hashes.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if not bad.any():
        block = data[offsets[0] : offsets[-1]].reshape(n, width)[:, prefix : prefix + 32]
        nibbles = _NIBBLE[block]
        bad = (nibbles == 255).any(axis=1)
        nibbles[bad] = 0
        packed = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
        words = np.ascontiguousarray(packed).view(">u8").astype(np.uint64)
        return words[:, 0].copy(), words[:, 1].copy(), bad
    starts = np.where(bad, offsets[0], offsets[:-1])
    if data.size < offsets[0] + width:
        data = np.concatenate([data, np.zeros(width, dtype=np.uint8)])
    index = starts[:, None] + prefix + np.arange(64)[None, :]
    nibbles = _NIBBLE[data[np.minimum(index, len(data) - 1)]]
    bad |= (nibbles == 255).any(axis=1)
    nibbles[bad] = 0
    packed = (nibbles[:, 0:32:2] << 4) | nibbles[:, 1:32:2]
    words = np.ascontiguousarray(packed).view(">u8").astype(np.uint64)
    return words[:, 0].copy(), words[:, 1].copy(), bad


def decode_hex_prefixed(values: pa.Array, skip_bytes: int = 0) -> tuple[pa.Array, BoolArray]:
    """Decode ``0x…`` hex strings to binary, dropping the first ``skip_bytes`` decoded bytes.

    Returns the binary array (null where the input is null or malformed) and the mask of malformed rows (odd
    length, missing ``0x``, non-hex characters). Rows shorter than ``skip_bytes`` give null.
    """
    fast = _decode_even(values, skip_bytes)
    if fast is not None:
        return fast
    n = len(values)
    offsets, data = _string_buffers(values)
    lengths = np.diff(offsets)
    nulls = (
        np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if values.null_count
        else np.zeros(n, dtype=bool)
    )
    bad = ((lengths % 2) != 0) | (lengths < 2)
    bad &= ~nulls
    chars = data[offsets[0] : offsets[-1]]
    starts = offsets[:-1] - offsets[0]
    ok_rows = ~bad & ~nulls
    has_prefix = np.zeros(n, dtype=bool)
    safe = ok_rows & (lengths >= 2)
    has_prefix[safe] = (chars[starts[safe]] == ord("0")) & (np.isin(chars[starts[safe] + 1], (ord("x"), ord("X"))))
    bad |= safe & ~has_prefix
    ok_rows = ~bad & ~nulls
    # Keep only the hex digits of well-formed rows (drop "0x"), then decode pairs.
    row_of_char = np.repeat(np.arange(n), lengths)
    position = np.arange(len(chars)) - np.repeat(starts, lengths)
    keep = ok_rows[row_of_char] & (position >= 2)
    digits = _NIBBLE[chars[keep]]
    digit_rows = row_of_char[keep]
    if digits.size and (digits == 255).any():
        bad_rows = np.unique(digit_rows[digits == 255])
        bad[bad_rows] = True
        ok_rows[bad_rows] = False
        keep_digits = ok_rows[digit_rows]
        digits = digits[keep_digits]
        digit_rows = digit_rows[keep_digits]
    decoded = (digits[0::2] << 4) | digits[1::2]
    byte_rows = digit_rows[0::2]
    counts = np.bincount(byte_rows, minlength=n)
    # Drop the first `skip_bytes` of every row.
    if skip_bytes:
        byte_start = np.cumsum(counts) - counts
        position_in_row = np.arange(len(decoded)) - np.repeat(byte_start, counts)
        keep_bytes = position_in_row >= skip_bytes
        decoded = decoded[keep_bytes]
        short = counts < skip_bytes
        counts = np.maximum(counts - skip_bytes, 0)
    else:
        short = np.zeros(n, dtype=bool)
    new_offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int32)
    valid = ok_rows & ~short
    validity = pa.array(valid).buffers()[1] if not valid.all() else None
    result = pa.Array.from_buffers(
        pa.binary(),
        n,
        [validity, pa.py_buffer(new_offsets.tobytes()), pa.py_buffer(decoded.astype(np.uint8).tobytes())],
        null_count=int(n - valid.sum()),
    )
    return result, bad


def _decode_even(values: pa.Array, skip_bytes: int) -> tuple[pa.Array, BoolArray] | None:
    """Fast path of :func:`decode_hex_prefixed` when every row is null or ``0x`` + hex of even length.

    Arrow slices off ``0x`` and the skipped bytes of every row (vectorised), which leaves the remaining hex
    digits of all rows contiguous in one buffer; ``bytes.fromhex`` decodes that buffer at C speed. Returns None
    (use the exact general path) when any row is malformed.
    """
    n = len(values)
    if n == 0:
        return None
    values = values.cast(pa.string()) if values.type != pa.string() else values
    has_prefix = pc.fill_null(pc.starts_with(values, "0x"), True)
    if has_prefix.true_count != n:
        return None
    digits = pc.utf8_slice_codeunits(values, 2 + 2 * skip_bytes)
    lengths = np.asarray(pc.fill_null(pc.binary_length(values), 0).to_numpy(zero_copy_only=False), np.int64)
    if (lengths % 2).any():
        return None
    digits = pa.concat_arrays([digits])  # compact: offsets start at 0, data holds exactly the digits
    offsets = np.frombuffer(digits.buffers()[1], dtype=np.int32)[: n + 1]
    data_buffer = digits.buffers()[2]
    hex_text = data_buffer.to_pybytes()[offsets[0] : offsets[-1]] if data_buffer is not None else b""
    try:
        decoded = bytes.fromhex(hex_text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    if 2 * len(decoded) != len(hex_text):  # fromhex skips whitespace: the rows would no longer line up
        return None
    nulls = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    valid = ~nulls & (lengths >= 2 + 2 * skip_bytes)
    new_offsets = ((offsets - offsets[0]) // 2).astype(np.int32)
    validity = None if valid.all() else pa.array(valid).buffers()[1]
    result = pa.Array.from_buffers(
        pa.binary(),
        n,
        [validity, pa.py_buffer(new_offsets.tobytes()), pa.py_buffer(decoded)],
        null_count=int(n - valid.sum()),
    )
    return result, np.zeros(n, dtype=bool)


def printable_text(binary: pa.Array) -> pa.Array:
    """The binary values that are non-empty printable ASCII, as strings; null otherwise (memos, bridge data).

    Only rows whose first byte is printable are examined byte by byte, so typical call data (ABI words that
    start with zero bytes) costs almost nothing.
    """
    n = len(binary)
    if n == 0:
        return pa.array([], type=pa.string())
    binary = binary.cast(pa.large_binary())
    offsets = np.frombuffer(binary.buffers()[1], dtype=np.int64)[binary.offset : binary.offset + n + 1]
    data_buffer = binary.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    lengths = np.diff(offsets)
    nulls = np.asarray(binary.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    candidates = np.flatnonzero((lengths > 0) & ~nulls)
    first = data[offsets[candidates]] if len(candidates) else np.empty(0, np.uint8)
    candidates = candidates[(first >= 0x20) & (first <= 0x7E)]
    ok = np.zeros(n, dtype=bool)
    for row in candidates.tolist():
        chunk = data[offsets[row] : offsets[row + 1]]
        ok[row] = bool(((chunk >= 0x20) & (chunk <= 0x7E)).all())
    text = binary.cast(pa.large_string(), safe=False).cast(pa.string())
    return pc.if_else(pa.array(ok), text, pa.scalar(None, type=pa.string()))
