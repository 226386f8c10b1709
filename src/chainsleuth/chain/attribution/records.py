"""Tags and actors as plain values, independent of where they came from or are stored.

A :class:`TagRecord` is the unit of attribution: one claim ("this address is Huobi's", "this address is on the
OFAC list") together with its evidence: where the claim comes from (``source``), how far it can be trusted
(``confidence`` and its numeric level), who recorded it (``creator``), when, and through which channel
(``origin``: a TagPack, the OFAC list, or an analyst). Parsers produce records, the tag store persists them,
cluster resolution and exposure consume them; none of them ever drops the evidence.

Networks are normalised here once: GraphSense writes tickers (``BTC``, ``ETH``), the chain store uses chain
names (``bitcoin``, ``ethereum``). Tickers of chains we do not ingest stay as their lower-case ticker, so a
``ltc`` tag is kept and exported again even though no ``ltc`` chain exists in the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime

ORIGINS = ("tagpack", "ofac", "analyst")

#: GraphSense ticker → chainsleuth chain name, for the chains the chain store ingests.
NETWORK_NAMES = {"BTC": "bitcoin", "ETH": "ethereum"}
#: chain name → GraphSense ticker, for export.
NETWORK_TICKERS = {name: ticker for ticker, name in NETWORK_NAMES.items()}
#: Token tickers that GraphSense packs sometimes give as ``currency`` without a ``network``; their network is
#: told by the address format (0x… on Ethereum, T… on Tron).
TOKEN_TICKERS = frozenset({"USDT", "USDC", "DAI", "BUSD", "TUSD", "WBTC", "WETH", "PAX", "USDP"})

_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_TX_HASH = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_TRON_ADDRESS = re.compile(r"T[1-9A-HJ-NP-Za-km-z]{33}")
_BECH32_PREFIXES = ("bc1", "tb1", "bcrt1", "ltc1", "tltc1")
#: Bitcoin addresses, which is where Omni-layer USDT lives.
_BITCOIN_ADDRESS = re.compile(r"[13][1-9A-HJ-NP-Za-km-z]{25,34}|bc1[02-9ac-hj-np-z]{6,87}")


def normalize_network(value: str, address: str | None = None) -> str:
    """A GraphSense ``network``/``currency`` value (``BTC``, ``eth``) as our network name (``bitcoin``).

    A token ticker (``USDT``) is resolved to the chain its address lives on; anything else is kept as its
    lower-case ticker.
    """
    ticker = value.strip().upper()
    if ticker in NETWORK_NAMES:
        return NETWORK_NAMES[ticker]
    if value.strip().lower() in NETWORK_TICKERS:
        return value.strip().lower()
    if ticker in TOKEN_TICKERS and address is not None:
        if _EVM_ADDRESS.fullmatch(address.strip()):
            return "ethereum"
        if _TRON_ADDRESS.fullmatch(address.strip()):
            return "trx"
        if _BITCOIN_ADDRESS.fullmatch(address.strip()):
            return "bitcoin"
    return ticker.lower()


def network_ticker(network: str) -> str:
    """Our network name as the GraphSense ticker for export (``bitcoin`` → ``BTC``, ``ltc`` → ``LTC``)."""
    return NETWORK_TICKERS.get(network, network.upper())


def normalize_address(address: str) -> str:
    """The canonical spelling of an address, so that one address never has two keys.

    Hex (0x…) addresses and bech32 addresses are case-insensitive and stored lower-case (as the chain store
    does for account chains); base58 addresses are case-sensitive and kept as they are.
    """
    stripped = address.strip()
    if _EVM_ADDRESS.fullmatch(stripped) or stripped.lower().startswith(_BECH32_PREFIXES):
        return stripped.lower()
    return stripped


def normalize_tx_hash(tx_hash: str) -> str:
    """Transaction hashes are hex and therefore case-insensitive: lower-case, the 0x prefix kept as given."""
    stripped = tx_hash.strip()
    return stripped.lower() if _TX_HASH.fullmatch(stripped) else stripped


@dataclass(frozen=True)
class TagRecord:
    """One attribution claim with all its evidence (see the module docstring)."""

    network: str
    label: str
    source: str
    confidence: str
    confidence_level: int
    creator: str
    origin: str
    address: str | None = None
    tx_hash: str | None = None
    currency: str | None = None
    category: str | None = None
    abuse: str | None = None
    concepts: tuple[str, ...] = ()
    actor: str | None = None
    is_public: bool = False
    is_cluster_definer: bool | None = None
    tag_type: str | None = None
    context: str | None = None
    lastmod: date | None = None
    line: int | None = None
    #: Set when the record was read back from the store.
    id: int | None = None
    tagpack: str | None = None
    created_at: datetime | None = field(default=None, compare=False)

    @property
    def subject(self) -> str:
        """The address or transaction the tag is about."""
        return self.address if self.address is not None else (self.tx_hash or "")

    def dedup_key(self) -> tuple[str, ...]:
        """GraphSense's duplicate key within a pack: subject, currency, network, label, source (any case)."""
        parts = (self.subject, self.currency or "", self.network, self.label, self.source)
        return tuple(part.lower() for part in parts)

    def with_changes(self, **changes: object) -> TagRecord:
        return replace(self, **changes)  # type: ignore[arg-type]


def merged_concepts(concepts: list[str] | tuple[str, ...], category: str | None, abuse: str | None) -> tuple[str, ...]:
    """All concepts of a tag, with its category and abuse included (as GraphSense does), sorted and unique."""
    values = set(concepts)
    if category:
        values.add(category)
    if abuse:
        values.add(abuse)
    return tuple(sorted(values))


@dataclass(frozen=True)
class ActorRecord:
    """A real-world actor (an exchange, a ransomware group, a sanctioned person) tags may point to."""

    id: str
    label: str
    uri: str
    categories: tuple[str, ...]
    jurisdictions: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    context: str | None = None
    lastmod: date | None = None
    line: int | None = None


__all__ = [
    "NETWORK_NAMES",
    "NETWORK_TICKERS",
    "ORIGINS",
    "TOKEN_TICKERS",
    "ActorRecord",
    "TagRecord",
    "merged_concepts",
    "network_ticker",
    "normalize_address",
    "normalize_network",
    "normalize_tx_hash",
]
