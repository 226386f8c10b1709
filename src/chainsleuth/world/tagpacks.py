"""Public attribution as GraphSense TagPacks: one YAML file per source, in the shape of the official schema.

Header fields shared by all tags of a pack (title, creator, source, confidence, lastmod) are set once, like
the packs in the GraphSense repository; each tag carries its address, label, currency, network, category and,
for criminal addresses, an ``abuse`` concept.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import yaml

PACK_TITLES = {
    "exchanges": "Exchanges' hot and cold wallets (self-published and service data)",
    "services": "Payment processors, gambling and wallet services",
    "mixers": "Mixing services",
    "darknet_markets": "Darknet markets",
    "bridges": "Cross-chain bridges",
    "miners": "Mining pools (coinbase and block rewards)",
    "ransomware": "Ransomware payment addresses reported by victims",
    "sanctions": "Sanctioned addresses (authority list)",
    "scams": "Addresses reported as scams",
    "hacks": "Addresses of known hacks",
}
CURRENCY = {"bitcoin": "BTC", "ethereum": "ETH"}


def write_tagpacks(tags: list[dict[str, object]], out: Path, lastmod: dt.date) -> list[Path]:
    """Write ``tags`` grouped by pack; returns the files written (sorted)."""
    out.mkdir(parents=True, exist_ok=True)
    packs: dict[str, list[dict[str, object]]] = defaultdict(list)
    for entry in tags:
        packs[str(entry["pack"])].append(entry)
    paths = []
    for name in sorted(packs):
        entries = packs[name]
        confidence = str(entries[0]["confidence"])
        body: dict[str, object] = {
            "title": PACK_TITLES.get(name, name),
            "creator": "chainsleuth world simulator",
            "description": f"What the public knows about {name.replace('_', ' ')} in this simulated world.",
            "is_public": True,
            "lastmod": lastmod,
            "confidence": confidence,
            "tags": [],
        }
        tag_list: list[dict[str, object]] = []
        for entry in entries:
            item: dict[str, object] = {
                "address": entry["address"],
                "label": entry["label"],
                "source": entry["source"],
                "currency": CURRENCY[str(entry["chain"])],
                "network": CURRENCY[str(entry["chain"])],
                "category": entry["category"],
            }
            if entry.get("abuse"):
                item["abuse"] = entry["abuse"]
            if entry["confidence"] != confidence:
                item["confidence"] = entry["confidence"]
            tag_list.append(item)
        body["tags"] = tag_list
        path = out / f"{name}.yaml"
        with path.open("w", encoding="utf-8") as fh:
            yaml.safe_dump(body, fh, sort_keys=False, allow_unicode=True, width=200)
        paths.append(path)
    return paths
