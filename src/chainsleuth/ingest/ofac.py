"""OFAC sanctioned digital-currency addresses as attribution tags.

Reads the per-ticker lists that 0xB10C/ofac-sanctioned-digital-currency-addresses extracts nightly from the
US Treasury SDN list: ``sanctioned_addresses_<TICKER>.txt`` (one address a line) or ``.json`` (a JSON
array). Either a directory holding such files or one file is accepted; when a directory has both a ``.txt``
and a ``.json`` for a ticker, the ``.json`` is read and the ``.txt`` is checked to hold the same addresses
(a disagreement is an error: one of them is truncated or stale).

The list's tickers are asset tickers, not networks: ``XBT`` is Bitcoin, ``USDT``/``USDC`` are tokens on
Ethereum (and USDT also on Tron and Bitcoin's Omni layer, told apart by the address format), ``ARB``/``BSC``
are EVM chains. Every address becomes a tag with category ``sanction``, source "OFAC SDN list", confidence
``authority_data`` (the taxonomy's level for data published by public authorities) and creator
"OFAC import".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from chainsleuth.chain.attribution.records import TagRecord, normalize_address, normalize_network
from chainsleuth.chain.attribution.taxonomy import Taxonomy, get_taxonomy
from chainsleuth.errors import InvalidInputError, MalformedFileError

OFAC_SOURCE = "OFAC SDN list"
OFAC_SOURCE_URL = "https://sanctionssearch.ofac.treas.gov/"
OFAC_CREATOR = "OFAC import"
OFAC_CONFIDENCE = "authority_data"
OFAC_CATEGORY = "sanction"
_FILE = re.compile(r"sanctioned_addresses_([A-Z0-9]+)\.(txt|json)")

#: OFAC ticker → (GraphSense currency, network ticker). Tokens are given the chain they live on; the address
#: format can still move USDT to Tron or Bitcoin (see :func:`normalize_network`).
TICKERS: dict[str, tuple[str, str]] = {
    "XBT": ("BTC", "BTC"),
    "BTC": ("BTC", "BTC"),
    "ETH": ("ETH", "ETH"),
    "USDT": ("USDT", "USDT"),
    "USDC": ("USDC", "USDC"),
    "ETC": ("ETC", "ETC"),
    "ARB": ("ETH", "ARB"),
    "BSC": ("BNB", "BSC"),
    "TRX": ("TRX", "TRX"),
    "LTC": ("LTC", "LTC"),
    "BCH": ("BCH", "BCH"),
    "BSV": ("BSV", "BSV"),
    "BTG": ("BTG", "BTG"),
    "DASH": ("DASH", "DASH"),
    "XMR": ("XMR", "XMR"),
    "XRP": ("XRP", "XRP"),
    "XVG": ("XVG", "XVG"),
    "ZEC": ("ZEC", "ZEC"),
}


@dataclass
class OfacList:
    """The addresses of one OFAC snapshot, per ticker, and the fingerprint of the files read."""

    path: str
    sha256: str
    list_date: dt.date
    addresses: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(values) for values in self.addresses.values())


def _read_txt(path: Path) -> list[str]:
    addresses = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if any(char.isspace() for char in line) or not line.isprintable():
            raise MalformedFileError(f"{path}:{number}: not an address: {line!r}", path=str(path), line=number)
        addresses.append(line)
    return addresses


def _read_json(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedFileError(
            f"{path}:{error.lineno}: not valid JSON: {error.msg}", path=str(path), line=error.lineno
        ) from error
    if not isinstance(data, list) or not all(isinstance(item, str) and item.strip() for item in data):
        raise MalformedFileError(f"{path}: expected a JSON array of address strings", path=str(path), line=1)
    return [item.strip() for item in data]


def read_ofac(path: str | Path, *, list_date: dt.date | None = None) -> OfacList:
    """Read an OFAC list directory (or one list file); the list date defaults to the newest file's mtime."""
    root = Path(path)
    if root.is_dir():
        candidates = sorted(p for p in root.iterdir() if _FILE.fullmatch(p.name))
    elif root.is_file():
        if not _FILE.fullmatch(root.name):
            raise InvalidInputError(f"{root}: not a sanctioned_addresses_<TICKER>.txt/.json file", path=str(root))
        candidates = [root]
    else:
        raise InvalidInputError(f"{root}: no such file or directory", path=str(root))
    if not candidates:
        raise InvalidInputError(f"{root}: no sanctioned_addresses_<TICKER>.txt/.json files", path=str(root))
    by_ticker: dict[str, dict[str, Path]] = {}
    for candidate in candidates:
        match = _FILE.fullmatch(candidate.name)
        assert match is not None
        by_ticker.setdefault(match.group(1), {})[match.group(2)] = candidate
    digest = hashlib.sha256()
    result = OfacList(path=str(root), sha256="", list_date=list_date or dt.date.min)
    newest = 0.0
    for ticker in sorted(by_ticker):
        files = by_ticker[ticker]
        addresses = _read_json(files["json"]) if "json" in files else _read_txt(files["txt"])
        if "json" in files and "txt" in files:
            other = _read_txt(files["txt"])
            if sorted(set(other)) != sorted(set(addresses)):
                raise MalformedFileError(
                    f"{files['txt']} and {files['json']} list different addresses ({len(other)} vs "
                    f"{len(addresses)}); one of them is truncated or stale",
                    path=str(files["txt"]),
                )
        unique = list(dict.fromkeys(addresses))
        result.addresses[ticker] = unique
        for used in files.values():
            result.files.append(str(used))
            newest = max(newest, used.stat().st_mtime)
        digest.update(f"{ticker}\n".encode())
        digest.update("\n".join(sorted(unique)).encode())
    result.sha256 = digest.hexdigest()
    if list_date is None:
        result.list_date = dt.datetime.fromtimestamp(newest, dt.UTC).date()
    return result


def ofac_tags(snapshot: OfacList, *, taxonomy: Taxonomy | None = None) -> list[TagRecord]:
    """One ``sanction`` tag per listed address and network, with the list's evidence.

    The same Ethereum address can be listed under ETH and USDT: it gets one tag whose label and context
    name every ticker it was listed under, so that screening counts it once and loses nothing.
    """
    tax = taxonomy or get_taxonomy()
    level = tax.confidence_level(OFAC_CONFIDENCE)
    listed: dict[tuple[str, str], list[str]] = {}
    currencies: dict[tuple[str, str], str] = {}
    for ticker, addresses in snapshot.addresses.items():
        currency, network_ticker = TICKERS.get(ticker, (ticker, ticker))
        for raw in addresses:
            key = (normalize_network(network_ticker, raw), normalize_address(raw))
            listed.setdefault(key, []).append(ticker)
            currencies.setdefault(key, currency)
    tags: list[TagRecord] = []
    for (network, address), tickers in listed.items():
        tags.append(
            TagRecord(
                network=network,
                currency=currencies[(network, address)],
                address=address,
                label=f"OFAC SDN list ({', '.join(tickers)})",
                source=OFAC_SOURCE,
                confidence=OFAC_CONFIDENCE,
                confidence_level=level,
                category=OFAC_CATEGORY,
                concepts=(OFAC_CATEGORY,),
                creator=OFAC_CREATOR,
                origin="ofac",
                is_public=True,
                lastmod=snapshot.list_date,
                context=json.dumps({"ofac_tickers": tickers, "url": OFAC_SOURCE_URL}),
            )
        )
    return tags


__all__ = [
    "OFAC_CATEGORY",
    "OFAC_CONFIDENCE",
    "OFAC_CREATOR",
    "OFAC_SOURCE",
    "TICKERS",
    "OfacList",
    "ofac_tags",
    "read_ofac",
]
