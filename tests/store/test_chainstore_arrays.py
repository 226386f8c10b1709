"""Vectorised helpers of the chain store checked against plain Python: hex decoding, hash index."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from chainsleuth.store.chainstore.hexarrays import decode_hex_prefixed, hash_keys, printable_text
from chainsleuth.store.chainstore.txindex import TxHashIndex


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.binary(max_size=40)), max_size=30), st.integers(0, 5))
def test_decode_hex_matches_bytes_fromhex(values: list[bytes | None], skip: int) -> None:
    texts = [None if v is None else "0x" + v.hex() for v in values]
    decoded, bad = decode_hex_prefixed(pa.array(texts, pa.string()), skip_bytes=skip)
    expected = [None if v is None or len(v) < skip else v[skip:] for v in values]
    assert decoded.to_pylist() == expected
    assert not bad.any()


def test_decode_hex_flags_malformed_rows() -> None:
    _, bad = decode_hex_prefixed(pa.array(["0x", "0xzz", "abcd", "0x123", "0xAB"]))
    assert bad.tolist() == [False, True, True, True, False]


def test_printable_text_only_for_ascii() -> None:
    text = printable_text(pa.array([b"=:ETH:0xab", b"\x00\x01", b"", None], pa.binary()))
    assert text.to_pylist() == ["=:ETH:0xab", None, None, None]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=8))
def test_tx_hash_index_matches_a_dict(batch_sizes: list[int]) -> None:
    index, reference, next_id = TxHashIndex(), {}, 0
    for size in batch_sizes:
        hashes = [hashlib.sha256(f"{next_id + i}".encode()).hexdigest() for i in range(size)]
        k1, k2, bad = hash_keys(pa.array(hashes))
        assert not bad.any()
        index.add(k1, k2, np.arange(next_id, next_id + size, dtype=np.int64))
        reference.update({h: next_id + i for i, h in enumerate(hashes)})
        next_id += size
    queries = [*reference, hashlib.sha256(b"unknown").hexdigest()]
    q1, q2, _ = hash_keys(pa.array(queries))
    assert index.lookup(q1, q2).tolist() == [*reference.values(), -1]
    assert len(index) == next_id


def test_tx_hash_index_disambiguates_equal_first_words() -> None:
    index = TxHashIndex()
    k1 = np.array([7, 7, 7, 1], dtype=np.uint64)
    k2 = np.array([3, 1, 2, 9], dtype=np.uint64)
    index.add(k1, k2, np.array([10, 11, 12, 13], dtype=np.int64))
    found = index.lookup(np.array([7, 7, 7, 1, 7], dtype=np.uint64), np.array([1, 2, 3, 9, 4], dtype=np.uint64))
    assert found.tolist() == [11, 12, 10, 13, -1]
    index.drop_from(12)
    assert index.lookup(np.array([7, 7], dtype=np.uint64), np.array([1, 3], dtype=np.uint64)).tolist() == [
        11,
        10,
    ]


def test_hash_keys_flag_bad_hashes() -> None:
    _, _, bad = hash_keys(pa.array(["0x" + "a" * 64, "0x" + "g" * 64, "0x12", None]), prefix=2)
    assert bad.tolist() == [False, True, True, True]
