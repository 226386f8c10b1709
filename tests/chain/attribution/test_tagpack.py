"""TagPack parsing and validation (file and line on every error) and export, without a database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from chainsleuth.chain.attribution.records import normalize_address, normalize_network
from chainsleuth.chain.attribution.tagpack import ParsedTagPack, parse_tagpack, write_tagpack
from chainsleuth.errors import MalformedFileError

from .conftest import PACKS, SMALL_PACK

WritePack = Callable[[str, str], Path]


def test_every_shared_pack_parses_with_the_yaml_tag_count(
    shared_packs: dict[str, ParsedTagPack], yaml_tag_counts: dict[str, int]
) -> None:
    assert len(shared_packs) == len(PACKS) >= 8
    for name, pack in shared_packs.items():
        assert pack.total == yaml_tag_counts[name], name
        assert len(pack.tags) + pack.duplicates == pack.total, name
        assert all(tag.label and tag.source and tag.confidence and tag.creator for tag in pack.tags), name


def test_header_fields_are_inherited(shared_packs: dict[str, ParsedTagPack]) -> None:
    ransomware = shared_packs["ransomware.yaml"]
    tag = ransomware.tags[0]
    assert (tag.network, tag.currency, tag.abuse, tag.confidence, tag.confidence_level) == (
        "bitcoin",
        "BTC",
        "ransomware",
        "forensic",
        50,
    )
    assert tag.source == "https://zenodo.org/record/1238041#.XLQwopMzZR4"
    assert tag.creator == "Paquet-Clouston et al."
    assert "ransomware" in tag.concepts
    assert tag.line == 10
    usdt = shared_packs["usdt_blacklist.yaml"].tags[0]
    assert (usdt.network, usdt.category, usdt.label) == ("ethereum", "black_list", "USDT_blacklisted")
    assert usdt.context is not None
    assert "USDT" in usdt.context


def test_a_pack_without_confidence_gets_the_lowest_level_with_a_warning(
    shared_packs: dict[str, ParsedTagPack],
) -> None:
    scams = shared_packs["etherscamdb_tagpack.yaml"]
    assert {tag.confidence for tag in scams.tags} == {"unknown"}
    assert any("confidence" in warning for warning in scams.warnings)


def test_networks_and_addresses_are_normalised() -> None:
    assert normalize_network("BTC") == "bitcoin"
    assert normalize_network("eth") == "ethereum"
    assert normalize_network("ethereum") == "ethereum"
    assert normalize_network("LTC") == "ltc"
    assert normalize_network("USDT", "0x38735f03b30FbC022DdD06ABED01F0Ca823C6a94") == "ethereum"
    assert normalize_network("USDT", "TX5GV4DyfxNB3rPkzZJhmqZ1efVmL4rEqG") == "trx"
    assert normalize_network("USDT", "3LtcaPbCj87CwJHnRX3vh7c2y9RZQqeSy8") == "bitcoin"  # Omni layer
    assert normalize_address("0xD0cC2B24980CBCCA47EF755Da88B220a82291407") == (
        "0xd0cc2b24980cbcca47ef755da88b220a82291407"
    )
    assert normalize_address("BC1QXY2KGDYGJRSQTZQ2N0YRF2493P83KKFJHX0WLH") == (
        "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"
    )
    assert normalize_address("1vdXJDiDSzeUAoM7eAcWZPhM9wEKmH8dG") == "1vdXJDiDSzeUAoM7eAcWZPhM9wEKmH8dG"


def test_duplicates_within_a_pack_are_skipped_and_counted(write_pack: WritePack) -> None:
    text = SMALL_PACK + "- address: 1vdXJDiDSzeUAoM7eAcWZPhM9wEKmH8dG\n  label: HUOBI.COM\n  category: exchange\n"
    pack = parse_tagpack(write_pack("dup.yaml", text))
    assert (pack.total, len(pack.tags), pack.duplicates) == (4, 3, 1)
    assert any("duplicate" in warning for warning in pack.warnings)


def _error(path: Path) -> MalformedFileError:
    with pytest.raises(MalformedFileError) as caught:
        parse_tagpack(path)
    error = caught.value
    assert error.path == str(path)
    assert str(path) in str(error)
    return error


@pytest.mark.parametrize(
    ("replace", "by", "line", "words"),
    [
        (
            "  category: exchange\n  actor: kraken",
            "  category: exchnage\n  actor: kraken",
            15,
            "unknown concept",
        ),
        ("  confidence: web_crawl", "  confidence: very_sure", 21, "unknown confidence"),
        ("  abuse: phishing", "  concepts: [phishing, not_a_concept]", 20, "not_a_concept"),
        (
            "- address: 3G3VG4X1WquWjqXT27JRwrRoyZgdyWf1dT\n  label: Kraken.com\n",
            "- address: 3G3V\n",
            13,
            "label",
        ),
        ("  actor: huobi", "  actor: huobi\n  tx_hash: ab12", 9, "mutually exclusive"),
        ("  actor: huobi", "  actor: huobi\n  colour: red", 13, "not allowed"),
        ("  actor: huobi", "  actor: huobi\n  is_cluster_definer: 'yes'", 13, "true or false"),
        ("  actor: huobi", "  actor: huobi\n  label: Other", 13, "duplicate key"),
        ("  label: Kraken.com", "  label: [Kraken.com", 15, "line 14"),
        ("lastmod: 2024-01-15", "lastmod: last tuesday", 7, "date"),
        ("confidence: service_data", "confidence: maybe", 5, "unknown confidence"),
    ],
)
def test_malformed_packs_name_file_and_line(
    write_pack: WritePack, replace: str, by: str, line: int, words: str
) -> None:
    assert replace in SMALL_PACK
    path = write_pack("bad.yaml", SMALL_PACK.replace(replace, by, 1))
    error = _error(path)
    assert error.line == line, str(error)
    assert words in str(error)


def test_missing_header_fields_and_non_mapping_packs(write_pack: WritePack) -> None:
    assert "title" in str(_error(write_pack("a.yaml", SMALL_PACK.replace("title: Small test pack\n", ""))))
    assert "'tags'" in str(_error(write_pack("b.yaml", "title: x\ncreator: y\n")))
    assert _error(write_pack("c.yaml", "- just\n- a list\n")).line == 1
    assert _error(write_pack("d.yaml", "")).line == 1
    assert "tag has neither" in str(_error(write_pack("e.yaml", SMALL_PACK + "- label: no subject\n")))
    binary = write_pack("f.yaml", "")
    binary.write_bytes(b"title: x\ncreator: \xff\xfe\n")
    assert _error(binary).line == 2


def test_export_round_trip(shared_packs: dict[str, ParsedTagPack], tmp_path: Path) -> None:
    for name in ("walletexplorer.yaml", "usdt_blacklist.yaml", "etherscamdb_tagpack.yaml"):
        original = shared_packs[name]
        out = write_tagpack(tmp_path / name, title=original.title, creator=original.creator, tags=original.tags)
        again = parse_tagpack(out)
        assert again.total == len(original.tags)
        strip = [tag.with_changes(line=None) for tag in original.tags]
        assert [tag.with_changes(line=None) for tag in again.tags] == strip, name


def test_export_factors_shared_fields_into_the_header(write_pack: WritePack, tmp_path: Path) -> None:
    pack = parse_tagpack(write_pack("small.yaml", SMALL_PACK))
    out = write_tagpack(tmp_path / "out.yaml", title="t", creator="c", tags=pack.tags[:2])
    text = out.read_text(encoding="utf-8")
    assert text.count("source: https://example.org/list") == 1
    assert "tags:\n- address: 1vdXJDiDSzeUAoM7eAcWZPhM9wEKmH8dG" in text
