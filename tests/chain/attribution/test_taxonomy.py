"""The packaged taxonomies: GraphSense's files, loaded into concepts, levels, types and countries."""

from __future__ import annotations

from importlib import resources

import pytest

from chainsleuth.chain.attribution.taxonomy import FILES, get_taxonomy, load_taxonomy

from .conftest import TAGPACKS


def test_packaged_files_are_the_graphsense_files_with_their_licence() -> None:
    packaged = resources.files("chainsleuth.chain.attribution.taxonomy")
    assert "MIT License" in packaged.joinpath("LICENSE").read_text(encoding="utf-8")
    if not (TAGPACKS / "taxonomy").is_dir():
        pytest.skip("shared taxonomy not available")
    for name in (*FILES, "LICENSE"):
        assert packaged.joinpath(name).read_bytes() == (TAGPACKS / "taxonomy" / name).read_bytes(), name


def test_concepts_have_labels_descriptions_and_parents() -> None:
    taxonomy = get_taxonomy()
    assert len(taxonomy.concepts) >= 90
    sanction = taxonomy.concepts["sanction"]
    assert sanction.label
    assert sanction.description
    assert sanction.parent
    assert taxonomy.concepts["concept"].parent is None
    assert "ransomware" in taxonomy.descendants("behaviour") or "ransomware" in taxonomy.descendants("concept")
    assert taxonomy.ancestors("ransomware")[-1] == "concept"
    assert "exchange" in taxonomy.descendants("entity")


def test_confidence_levels_are_numeric_and_ordered() -> None:
    taxonomy = get_taxonomy()
    assert taxonomy.confidence_level("authority_data") == 60
    assert taxonomy.confidence_level("ownership") == 100
    assert taxonomy.confidence_level("unknown") == 5  # the CSV writes " 5"
    assert taxonomy.lowest_confidence.id == "unknown"


def test_flat_taxonomies() -> None:
    taxonomy = get_taxonomy()
    assert set(taxonomy.tag_types) == {"actor", "event", "attribute", "mention"}
    assert set(taxonomy.tag_subjects) == {"address", "tx"}
    assert taxonomy.countries["AT"].label == "Austria"
    assert taxonomy.check_terms("country", ["AT", "XX"]) == ["XX"]


def test_schemas_know_mandatory_fields() -> None:
    taxonomy = get_taxonomy()
    assert set(taxonomy.tagpack_schema.mandatory("header")) == {"title", "creator", "tags"}
    assert {"label", "source", "confidence"} <= set(taxonomy.tagpack_schema.mandatory("tag"))
    assert taxonomy.tagpack_schema.section("tag")["category"].taxonomies == ("concept",)
    assert "categories" in taxonomy.actorpack_schema.mandatory("actor")


def test_loaded_once_and_loadable_from_a_directory() -> None:
    assert get_taxonomy() is get_taxonomy()
    if (TAGPACKS / "taxonomy").is_dir():
        assert load_taxonomy(TAGPACKS / "taxonomy").confidence == get_taxonomy().confidence
