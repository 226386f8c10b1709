"""The tag store on SQLite and PostgreSQL: importing every shared pack, idempotence, replacement, atomicity,
analysts' tags, bulk lookup, export and re-import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.chain.attribution.records import TagRecord
from chainsleuth.chain.attribution.store import (
    add_tag,
    export_tagpack,
    find_tags,
    import_actorpack,
    import_ofac,
    import_tagpack,
    list_packs,
    pack_files,
    tags_for,
)
from chainsleuth.chain.attribution.tagpack import ParsedTagPack, parse_tagpack
from chainsleuth.errors import InvalidInputError, MalformedFileError
from chainsleuth.store.models import Actor, Tag, TagPackRecord

from .conftest import OFAC, PACKS, SMALL_PACK

WritePack = Callable[[str, str], Path]


def tag_count(session: Session, **where: object) -> int:
    query = select(func.count()).select_from(Tag)
    for name, value in where.items():
        query = query.where(getattr(Tag, name) == value)
    return int(session.scalar(query) or 0)


def test_import_every_shared_pack_and_reimport_adds_nothing(
    session: Session, shared_packs: dict[str, ParsedTagPack], yaml_tag_counts: dict[str, int]
) -> None:
    reports = [import_tagpack(session, path, parsed=shared_packs[path.name]) for path in PACKS]
    for report in reports:
        name = Path(report.path).name
        assert report.status == "imported"
        assert report.in_file == yaml_tag_counts[name]
        assert report.imported + report.duplicates == yaml_tag_counts[name]
        pack_id = session.scalars(select(TagPackRecord.id).where(TagPackRecord.uri == report.uri)).one()
        assert tag_count(session, tagpack_id=pack_id) == report.imported, name
    total = tag_count(session)
    assert total == sum(report.imported for report in reports) == sum(yaml_tag_counts.values())

    again = [import_tagpack(session, path, parsed=shared_packs[path.name]) for path in PACKS]
    assert {report.status for report in again} == {"unchanged"}
    assert sum(report.imported for report in again) == 0
    assert tag_count(session) == total
    assert len(list_packs(session)) == len(PACKS)

    # Evidence survives the round trip through the database, including the line in the pack.
    found = tags_for(session, "BTC", ["1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEa"])["1JoktQJhCzuCQkt3GnQ8Xddcq4mUgNyXEa"]
    assert [(t.label, t.category, t.confidence, t.creator, t.line) for t in found] == [
        ("Bitstamp", "exchange", "web_crawl", "GraphSense Core Team", 8)
    ]
    assert found[0].tagpack is not None
    assert found[0].tagpack.endswith("hacks.yaml")
    assert found[0].created_at is not None
    assert found[0].lastmod is not None


def test_changed_pack_replaces_only_its_own_tags(session: Session, write_pack: WritePack) -> None:
    other = write_pack("other.yaml", SMALL_PACK.replace("Small test pack", "Other pack"))
    import_tagpack(session, other)
    path = write_pack("small.yaml", SMALL_PACK)
    first = import_tagpack(session, path)
    assert (first.status, first.imported) == ("imported", 3)
    path.write_text(SMALL_PACK.replace("Kraken.com", "Kraken").split("- address: '0xD0cC")[0], encoding="utf-8")
    second = import_tagpack(session, path)
    assert (second.status, second.imported, second.removed) == ("replaced", 2, 3)
    assert tag_count(session) == 5
    labels = {tag.label for tag in find_tags(session, tagpack_uri=str(path.resolve()))}
    assert labels == {"Huobi.com", "Kraken"}


@pytest.mark.parametrize(
    ("replace", "by"),
    [
        ("  category: exchange\n  actor: kraken", "  category: exchnage\n  actor: kraken"),
        ("  confidence: web_crawl", "  confidence: very_sure"),
        ("- address: 3G3VG4X1WquWjqXT27JRwrRoyZgdyWf1dT\n  label: Kraken.com\n", "- address: 3G3V\n"),
        ("  label: Kraken.com", "  label: [Kraken.com"),
    ],
    ids=["unknown-concept", "bad-confidence", "missing-label", "broken-yaml"],
)
def test_malformed_pack_leaves_the_store_unchanged(
    session: Session, write_pack: WritePack, replace: str, by: str
) -> None:
    path = write_pack("small.yaml", SMALL_PACK)
    import_tagpack(session, path)
    session.commit()
    before = (tag_count(session), [pack.sha256 for pack in list_packs(session)])
    path.write_text(SMALL_PACK.replace(replace, by, 1), encoding="utf-8")
    with pytest.raises(MalformedFileError) as caught:
        import_tagpack(session, path)
    assert caught.value.path == str(path)
    assert caught.value.line is not None
    session.commit()
    assert (tag_count(session), [pack.sha256 for pack in list_packs(session)]) == before


def test_analyst_tags_are_validated_and_keep_their_evidence(session: Session) -> None:
    fields = {
        "network": "bitcoin",
        "address": "1vdXJDiDSzeUAoM7eAcWZPhM9wEKmH8dG",
        "label": "Huobi deposit",
        "category": "exchange",
        "source": "case 2024-17, subpoena reply",
        "confidence": "forensic_investigation",
    }
    for bad, field in (
        ({"category": "exchnage"}, "category"),
        ({"abuse": "jaywalking"}, "abuse"),
        ({"confidence": "sure"}, "confidence"),
        ({"label": "  "}, "label"),
        ({"source": ""}, "source"),
        ({"tx_hash": "ab" * 32}, "address"),
        ({"context": "{not json"}, "context"),
    ):
        with pytest.raises(InvalidInputError) as caught:
            add_tag(session, creator="alice", **{**fields, **bad})
        assert caught.value.details["field"] == field
    with pytest.raises(InvalidInputError):
        add_tag(session, creator=" ", **fields)
    assert tag_count(session) == 0

    tag = add_tag(session, creator="alice", **fields)
    assert tag.id is not None
    assert tag.origin == "analyst"
    assert tag.creator == "alice"
    assert tag.confidence_level == 70
    assert tag.lastmod is not None
    assert tag.created_at is not None
    tx = add_tag(session, creator="bob", **{**fields, "address": None, "tx_hash": "AB" * 32})
    assert tx.tx_hash == "ab" * 32
    assert tx.address is None
    stored = tags_for(session, "bitcoin", [fields["address"]])[fields["address"]]
    assert [(t.label, t.source, t.creator) for t in stored] == [("Huobi deposit", fields["source"], "alice")]


def test_bulk_lookup_is_case_insensitive_for_hex_and_keyed_as_given(session: Session, write_pack: WritePack) -> None:
    import_tagpack(session, write_pack("small.yaml", SMALL_PACK))
    mixed = "0xD0cC2B24980CBCCA47EF755Da88B220a82291407"
    lower = mixed.lower()
    found = tags_for(session, "ethereum", [mixed, lower, "0x" + "0" * 40])
    assert set(found) == {mixed, lower}
    assert found[mixed][0].abuse == "phishing"
    assert found[mixed][0].confidence == "web_crawl"
    many = [f"1NotTagged{i:024d}" for i in range(1200)] + ["3G3VG4X1WquWjqXT27JRwrRoyZgdyWf1dT"]
    assert list(tags_for(session, "BTC", many)) == ["3G3VG4X1WquWjqXT27JRwrRoyZgdyWf1dT"]


def test_export_and_reimport_round_trip(session: Session, tmp_path: Path, write_pack: WritePack) -> None:
    import_tagpack(session, write_pack("small.yaml", SMALL_PACK))
    add_tag(
        session,
        creator="alice",
        network="ethereum",
        address="0x8589427373D6D84E98730D7795D8f6f8731FDA16",
        label="Tornado Cash",
        category="mixing_service",
        abuse="sanction",
        source="case 7",
        confidence="authority_data",
    )
    add_tag(
        session,
        creator="bob",
        network="bitcoin",
        address="bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        label="Victim wallet",
        category="victim",
        source="case 9",
        confidence="forensic_investigation",
        context='{"case": 9}',
    )
    out, count = export_tagpack(session, tmp_path / "all.yaml")
    assert count == 5
    parse_tagpack(out)  # the export is a valid TagPack
    analysts, analyst_count = export_tagpack(session, tmp_path / "analyst.yaml", origin="analyst")
    assert analyst_count == 2

    def key(tag: TagRecord) -> tuple[object, ...]:
        names = ("network", "address", "label", "category", "abuse", "source", "confidence", "creator")
        return (*(getattr(tag, name) for name in names), tag.concepts)

    before = sorted(key(tag) for tag in find_tags(session, origin="analyst"))
    report = import_tagpack(session, analysts, uri="reimport")
    assert (report.status, report.imported) == ("imported", 2)
    after = sorted(key(tag) for tag in find_tags(session, tagpack_uri="reimport"))
    assert after == before  # every tag keeps its own creator ("alice", "bob") through the file
    victim = find_tags(session, tagpack_uri="reimport", category="victim")[0]
    assert victim.context == '{"case": 9}'


def test_actorpack_import_upserts_actors(session: Session, write_pack: WritePack) -> None:
    text = """\
title: Actors
creator: Test Team
actors:
- id: huobi
  uri: https://www.huobi.com
  label: Huobi
  lastmod: 2024-01-01
  categories: [exchange]
  jurisdictions: [SC]
  context: {"twitter_handle": "HuobiGlobal"}
"""
    path = write_pack("test-actorpack.yaml", text)
    assert pack_files([path.parent])[0] == path
    report = import_actorpack(session, path)
    assert (report.kind, report.status, report.imported) == ("actorpack", "imported", 1)
    assert import_actorpack(session, path).status == "unchanged"
    actor = session.get(Actor, "huobi")
    assert actor is not None
    assert actor.categories == ["exchange"]
    assert actor.jurisdictions == ["SC"]


def test_ofac_import_is_idempotent(session: Session) -> None:
    if not OFAC.is_dir():
        pytest.skip("shared OFAC data not available")
    first = import_ofac(session, OFAC)
    assert first.status == "imported"
    assert first.imported > 600
    assert tag_count(session, origin="ofac") == first.imported
    assert import_ofac(session, OFAC).status == "unchanged"
    assert tag_count(session, origin="ofac") == first.imported
    hit = tags_for(session, "ethereum", ["0x8589427373D6D84E98730D7795D8f6f8731FDA16"])
    tags = next(iter(hit.values()))
    assert tags[0].category == "sanction"
    assert tags[0].creator == "OFAC import"
