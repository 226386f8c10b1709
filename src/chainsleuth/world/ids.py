"""Deterministic identifiers: transaction and block hashes, mainnet-looking addresses, and the address book.

Identifiers are derived from the seed and a counter with SHA-256, never from a random stream, so adding an
address in one part of the simulator cannot shift the identifiers elsewhere. Address strings are derived on
demand from a compact integer index (with a bounded cache) instead of being held in memory: a 10M-transfer
world has millions of addresses and must stay in bounded memory.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

#: Bitcoin address types (the bitcoin-etl names) by their small-integer code.
BTC_TYPES = ("pubkeyhash", "scripthash", "witness_v0_keyhash")
P2PKH, P2SH, P2WPKH = 0, 1, 2

#: Address roles (ground_truth/address_owners.csv) by code.
ROLES = (
    "personal",
    "change",
    "deposit",
    "hot_wallet",
    "cold_wallet",
    "custody",
    "contract",
    "mining",
    "payment",
    "consolidation",
    "treasury",
    "relayer",
    "genesis",
)
ROLE = {name: code for code, name in enumerate(ROLES)}


def sha256_hex(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()


def base58check(version: int, payload: bytes) -> str:
    """Base58Check encoding as used by legacy bitcoin addresses."""
    data = bytes([version]) + payload
    data += hashlib.sha256(hashlib.sha256(data).digest()).digest()[:4]
    number = int.from_bytes(data, "big")
    chars: list[str] = []
    while number:
        number, rem = divmod(number, 58)
        chars.append(_B58[rem])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(chars))


_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
#: XOR of the generator terms for every 5-bit ``top`` value: one lookup instead of five tests per symbol.
_POLY_TABLE = tuple(
    sum_xor
    for sum_xor in (
        _GEN[0] * (top & 1)
        ^ _GEN[1] * (top >> 1 & 1)
        ^ _GEN[2] * (top >> 2 & 1)
        ^ _GEN[3] * (top >> 3 & 1)
        ^ _GEN[4] * (top >> 4 & 1)
        for top in range(32)
    )
)


def _bech32_polymod(values: list[int]) -> int:
    chk = 1
    table = _POLY_TABLE
    for value in values:
        chk = ((chk & 0x1FFFFFF) << 5) ^ value ^ table[chk >> 25]
    return chk


def segwit_v0_address(program: bytes, hrp: str = "bc") -> str:
    """BIP-173 bech32 address of a version-0 witness program."""
    acc, bits, data = 0, 0, [0]
    for byte in program:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _bech32_polymod([*expanded, *data, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32[d] for d in data + checksum)


class Hasher:
    """Seeded hash factory for transactions, blocks and keys."""

    def __init__(self, seed: int) -> None:
        self._seed = seed.to_bytes(8, "little")

    def hex(self, domain: bytes, number: int) -> str:
        return sha256_hex(self._seed, domain, number.to_bytes(8, "little"))

    def digest(self, domain: bytes, number: int) -> bytes:
        return hashlib.sha256(self._seed + domain + number.to_bytes(8, "little")).digest()


class AddressBook:
    """All addresses of one chain: compact arrays of owner, role and type; strings derived on demand."""

    def __init__(self, chain: str, hasher: Hasher, capacity: int = 1024) -> None:
        self.chain = chain
        self._hasher = hasher
        self._domain = b"addr:" + chain.encode()
        self.count = 0
        self.owner: npt.NDArray[np.int32] = np.zeros(capacity, dtype=np.int32)
        self.role: npt.NDArray[np.int8] = np.zeros(capacity, dtype=np.int8)
        self.kind: npt.NDArray[np.int8] = np.zeros(capacity, dtype=np.int8)
        #: free integer per address: the account index of our deposit addresses, -1 otherwise
        self.tag: npt.NDArray[np.int64] = np.full(capacity, -1, dtype=np.int64)
        self._cache: dict[int, str] = {}
        self._pinned: dict[int, str] = {}

    def new(self, owner: int, role: str, kind: int = P2WPKH) -> int:
        """Allocate an address for entity ``owner`` and return its index."""
        if self.count == len(self.owner):
            grow = len(self.owner) * 2
            self.owner = np.resize(self.owner, grow)
            self.role = np.resize(self.role, grow)
            self.kind = np.resize(self.kind, grow)
            tag = np.full(grow, -1, dtype=np.int64)
            tag[: self.count] = self.tag[: self.count]
            self.tag = tag
        idx = self.count
        self.owner[idx] = owner
        self.role[idx] = ROLE[role]
        self.kind[idx] = kind
        self.count += 1
        return idx

    def pin(self, idx: int, text: str) -> None:
        """Give an address a fixed string (the zero address, well-known contracts)."""
        self._pinned[idx] = text

    def text(self, idx: int) -> str:
        """The address string of index ``idx``."""
        cached = self._cache.get(idx)
        if cached is not None:
            return cached
        pinned = self._pinned.get(idx)
        if pinned is not None:
            return pinned
        key = self._hasher.digest(self._domain, idx)[:20]
        if self.chain == "ethereum":
            text = "0x" + key.hex()
        else:
            kind = int(self.kind[idx])
            if kind == P2PKH:
                text = base58check(0, key)
            elif kind == P2SH:
                text = base58check(5, key)
            else:
                text = segwit_v0_address(key)
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[idx] = text
        return text

    def key_hex(self, idx: int) -> str:
        """The 20-byte hash behind a bitcoin address (for its script)."""
        return self._hasher.digest(self._domain, idx)[:20].hex()
