"""TagPacks have the shape of GraphSense's schema and use its taxonomy."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml

TAXONOMY = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tagpacks" / "taxonomy"


def _packs(world: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((world / "tagpacks").glob("*.yaml"))]


@pytest.mark.skipif(not TAXONOMY.is_dir(), reason="GraphSense taxonomy not available")
def test_tagpacks_follow_the_graphsense_schema(tiny_world: Path) -> None:
    schema = yaml.safe_load((TAXONOMY / "tagpack_schema.yaml").read_text())
    concepts = set(yaml.safe_load((TAXONOMY / "concepts.yaml").read_text()))
    with (TAXONOMY / "confidence.csv").open() as fh:
        confidences = {row["id"] for row in csv.DictReader(fh)}
    header_fields, tag_fields = schema["header"], schema["tag"]
    for pack in _packs(tiny_world):
        for name, spec in header_fields.items():
            if spec.get("mandatory"):
                assert name in pack, name
        assert set(pack) <= set(header_fields) | set(tag_fields)
        for tag in pack["tags"]:
            merged = {**{k: v for k, v in pack.items() if k != "tags"}, **tag}
            assert set(tag) <= set(tag_fields)
            for name, spec in tag_fields.items():
                if spec.get("mandatory"):
                    assert name in merged, (name, tag)
            assert merged["confidence"] in confidences
            for key in ("category", "abuse"):
                if key in merged:
                    assert merged[key] in concepts, merged[key]


def test_tags_point_at_real_addresses(tiny_world: Path) -> None:
    with (tiny_world / "ground_truth" / "address_owners.csv").open() as fh:
        known = {row["address"] for row in csv.DictReader(fh)}
    tags = [t for pack in _packs(tiny_world) for t in pack["tags"]]
    assert len(tags) > 40
    assert all(t["address"] in known for t in tags)
    names = {p.stem for p in (tiny_world / "tagpacks").glob("*.yaml")}
    assert {"exchanges", "mixers", "darknet_markets", "ransomware", "sanctions", "scams", "bridges"} <= names
