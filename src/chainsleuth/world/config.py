"""World configuration: sizes, seeds and the derived scale of every part of the simulation.

A world is defined by its seed and its target number of on-chain transfers (a bitcoin transaction, an
ethereum transaction or a token transfer). Everything else -- number of customers, days simulated, block
intervals -- is derived here, in one place, so that a size always means the same world.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from chainsleuth.errors import InvalidInputError

#: Named sizes: target number of on-chain transfers.
SIZE_PRESETS: dict[str, int] = {
    "tiny": 5_000,
    "small": 50_000,
    "demo": 200_000,
    "1m": 1_000_000,
    "10m": 10_000_000,
}

FORMATS = ("jsonl", "csv")
GENERATOR_VERSION = "1.1.0"  # 1.1: ethereum-etl CSV column sets, receipts.csv, coinjoins.csv
#: Smallest world that still has room for every typology.
MIN_TRANSFERS = 2_000
MAX_TRANSFERS = 100_000_000


def parse_size(size: str | int) -> int:
    """Turn a preset (``tiny``, ``1m``...) or a number (``250000``, ``3m``, ``2k``) into a transfer count."""
    if isinstance(size, int):
        value = size
    else:
        text = size.strip().lower().replace("_", "")
        if text in SIZE_PRESETS:
            return SIZE_PRESETS[text]
        multiplier = 1
        if text.endswith("k"):
            multiplier, text = 1_000, text[:-1]
        elif text.endswith("m"):
            multiplier, text = 1_000_000, text[:-1]
        try:
            value = int(float(text) * multiplier) if text else -1
        except ValueError:
            raise InvalidInputError(
                f"unknown world size {size!r}: use one of {', '.join(SIZE_PRESETS)} or a number of transfers",
                size=size,
            ) from None
    if not MIN_TRANSFERS <= value <= MAX_TRANSFERS:
        raise InvalidInputError(
            f"world size must be between {MIN_TRANSFERS:,} and {MAX_TRANSFERS:,} transfers",
            size=size,
        )
    return value


def size_label(transfers: int) -> str:
    """The preset name of a transfer count, or the count itself."""
    for name, value in SIZE_PRESETS.items():
        if value == transfers:
            return name
    return str(transfers)


@dataclass(frozen=True)
class WorldConfig:
    """Everything that determines a world. Two equal configs generate byte-identical directories."""

    transfers: int
    seed: int = 1
    fmt: str = "jsonl"
    customers: int | None = None
    days: int | None = None
    start: dt.date = field(default=dt.date(2024, 1, 1))

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise InvalidInputError(f"unknown format {self.fmt!r}: use jsonl or csv", format=self.fmt)
        if self.seed < 0 or self.seed >= 2**63:
            raise InvalidInputError("seed must be a non-negative 63-bit integer", seed=self.seed)
        if self.customers is not None and not 50 <= self.customers <= 20_000_000:
            raise InvalidInputError("customers must be between 50 and 20,000,000", customers=self.customers)
        if self.days is not None and not 30 <= self.days <= 3_650:
            raise InvalidInputError("days must be between 30 and 3,650", days=self.days)

    @classmethod
    def from_size(cls, size: str | int, seed: int = 1, fmt: str = "jsonl", customers: int | None = None) -> WorldConfig:
        """Build a config from a preset name or transfer count."""
        return cls(transfers=parse_size(size), seed=seed, fmt=fmt, customers=customers)

    @property
    def n_customers(self) -> int:
        """Ordinary customers of our exchange (criminal stories add a few dozen more)."""
        if self.customers is not None:
            return self.customers
        return max(150, self.transfers // 25)

    @property
    def n_days(self) -> int:
        """Simulated days: long enough for dormancy and multi-week stories even in tiny worlds."""
        if self.days is not None:
            return self.days
        if self.transfers <= 10_000:
            return 120
        if self.transfers <= 100_000:
            return 180
        return 365

    @property
    def start_ts(self) -> int:
        """Unix seconds of the first simulated instant (midnight UTC of ``start``)."""
        return int(dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC).timestamp())

    @property
    def end_ts(self) -> int:
        return self.start_ts + self.n_days * 86_400

    @property
    def n_persons(self) -> int:
        """Background people (not our customers) who use other exchanges, services and each other."""
        return max(300, self.transfers // 12)

    @property
    def btc_block_seconds(self) -> int:
        """Bitcoin block interval: 10 minutes, stretched in small worlds so blocks are not mostly coinbase."""
        span = self.n_days * 86_400
        return max(600, span // max(1, self.transfers // 20))

    @property
    def eth_block_seconds(self) -> int:
        """Ethereum slot length: 12 seconds, stretched in small worlds (only non-empty blocks are written)."""
        span = self.n_days * 86_400
        return max(12, span // max(1, self.transfers // 4))
