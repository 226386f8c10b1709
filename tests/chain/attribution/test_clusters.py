"""Cluster resolution: every tag kept, conflicts flagged, the displayed label chosen by a stated rule."""

from __future__ import annotations

from datetime import date

import pytest

from chainsleuth.chain.attribution.clusters import attribute_cluster, resolve_to_clusters
from chainsleuth.chain.attribution.records import TagRecord


def tag(address: str | None, label: str, confidence: str, level: int, **fields: object) -> TagRecord:
    values: dict[str, object] = {
        "network": "bitcoin",
        "label": label,
        "source": f"source of {label}",
        "confidence": confidence,
        "confidence_level": level,
        "creator": "test",
        "origin": "tagpack",
        "address": address,
        **fields,
    }
    return TagRecord(**values)  # type: ignore[arg-type]


EXCHANGE = tag("a1", "Huobi.com", "service_data", 50, category="exchange", actor="huobi", lastmod=date(2021, 1, 1))
HACK = tag("a2", "Huobi hacker", "forensic", 50, abuse="service_hack", lastmod=date(2022, 6, 1))
SANCTION = tag("a3", "OFAC SDN list (XBT)", "authority_data", 60, category="sanction", lastmod=date(2020, 1, 1))
HUOBI_AGAIN = tag("a4", "huobi.com", "web_crawl", 20, category="exchange", actor="huobi")


def test_conflicting_tags_on_one_cluster_are_all_kept_and_flagged() -> None:
    clusters = resolve_to_clusters([EXCHANGE, HACK, SANCTION], {"a1": 7, "a2": 7, "a3": 7})
    assert list(clusters) == [7]
    result = clusters[7]
    assert set(result.tags) == {EXCHANGE, HACK, SANCTION}
    assert result.conflict
    assert result.categories == ("exchange", "sanction", "service_hack")
    assert any("categories differ" in text for text in result.conflicts)
    assert result.addresses == ("a1", "a2", "a3")
    # Highest confidence wins the display, whatever its date; the others are still there.
    assert (result.label, result.category, result.display_tag) == (
        "OFAC SDN list (XBT)",
        "sanction",
        SANCTION,
    )
    assert "highest confidence: authority_data (level 60)" in result.reason


def test_equal_confidence_is_decided_by_recency_then_label() -> None:
    result = attribute_cluster("c", [EXCHANGE, HACK])
    assert result.display_tag is HACK  # both level 50; the hack report is newer
    assert "most recent (2022-06-01)" in result.reason
    twin = tag("a5", "Alpha", "service_data", 50, category="exchange", lastmod=date(2021, 1, 1))
    tie = attribute_cluster("t", [EXCHANGE, twin])
    assert tie.label == "Alpha"
    assert "alphabetical" in tie.reason


def test_agreeing_tags_are_not_a_conflict() -> None:
    result = attribute_cluster("h", [EXCHANGE, HUOBI_AGAIN])
    assert not result.conflict
    assert result.conflicts == ()
    assert result.labels == ("Huobi.com",)  # spelling variants of one label count once
    assert result.label == "Huobi.com"
    assert result.category == "exchange"


def test_a_broader_and_a_narrower_category_do_not_conflict() -> None:
    protocol = tag("d1", "Uniswap", "forensic", 50, category="defi", actor="uniswap")
    dex = tag("d2", "Uniswap", "forensic", 50, category="defi_dex", actor="uniswap")
    result = attribute_cluster("u", [protocol, dex])
    assert not result.conflict
    assert result.categories == ("defi", "defi_dex")


def test_cluster_lookup_by_function_unclustered_addresses_and_tx_tags() -> None:
    tx_tag = tag(None, "Payout", "forensic", 50, tx_hash="ab" * 32, category="exchange")
    clusters = resolve_to_clusters(
        {"a1": [EXCHANGE], "a3": [SANCTION], "tx": [tx_tag]}, lambda address: 1 if address == "a1" else None
    )
    assert set(clusters) == {1, "a3"}  # a3 has no cluster: it is its own; the tx tag belongs to none
    assert clusters["a3"].reason.startswith("only tag")
    with pytest.raises(ValueError, match="no tags"):
        attribute_cluster("empty", [])
