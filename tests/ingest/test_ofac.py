"""OFAC sanctioned-address lists: per-ticker counts, ticker → network mapping, evidence, bad files."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from chainsleuth.errors import InvalidInputError, MalformedFileError
from chainsleuth.ingest.ofac import OFAC_CONFIDENCE, ofac_tags, read_ofac

OFAC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ofac"


@pytest.fixture
def ofac_dir() -> Path:
    if not OFAC.is_dir():
        pytest.skip(f"shared OFAC data not found at {OFAC}")
    return OFAC


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_counts_per_ticker_match_the_files(ofac_dir: Path) -> None:
    snapshot = read_ofac(ofac_dir)
    txt_files = sorted(ofac_dir.glob("sanctioned_addresses_*.txt"))
    assert len(snapshot.addresses) == len(txt_files) >= 15
    for txt in txt_files:
        ticker = txt.stem.removeprefix("sanctioned_addresses_")
        expected = _lines(txt)
        assert snapshot.addresses[ticker] == list(dict.fromkeys(expected)), ticker
        assert json.loads((ofac_dir / f"{txt.stem}.json").read_text()) == expected
    assert snapshot.total == sum(len(_lines(txt)) for txt in txt_files)


def test_tags_carry_the_lists_evidence_and_map_tickers_to_networks(ofac_dir: Path) -> None:
    snapshot = read_ofac(ofac_dir, list_date=dt.date(2024, 9, 27))
    tags = ofac_tags(snapshot)
    assert {tag.category for tag in tags} == {"sanction"}
    assert {tag.source for tag in tags} == {"OFAC SDN list"}
    assert {tag.creator for tag in tags} == {"OFAC import"}
    assert {tag.confidence for tag in tags} == {OFAC_CONFIDENCE}
    assert {tag.confidence_level for tag in tags} == {60}
    assert {tag.lastmod for tag in tags} == {dt.date(2024, 9, 27)}
    by_network: dict[str, set[str]] = {}
    for tag in tags:
        by_network.setdefault(tag.network, set()).add(tag.address or "")
    xbt = set(snapshot.addresses["XBT"])
    assert xbt <= by_network["bitcoin"]
    eth = {address.lower() for address in snapshot.addresses["ETH"] + snapshot.addresses["USDC"]}
    assert eth <= by_network["ethereum"]
    usdt = snapshot.addresses["USDT"]
    assert {a.lower() for a in usdt if a.startswith("0x")} <= by_network["ethereum"]
    assert {a for a in usdt if a.startswith("T")} <= by_network["trx"]
    assert set(snapshot.addresses["TRX"]) <= by_network["trx"]
    assert set(snapshot.addresses["LTC"]) == by_network["ltc"]
    # One tag per (network, address); an address listed under several tickers names them all.
    assert len({(tag.network, tag.address) for tag in tags}) == len(tags)
    multi = [tag for tag in tags if "," in tag.label]
    assert multi
    assert all(json.loads(tag.context or "{}")["ofac_tickers"] for tag in multi)


def test_one_file_can_be_read_alone(ofac_dir: Path) -> None:
    snapshot = read_ofac(ofac_dir / "sanctioned_addresses_LTC.txt")
    assert list(snapshot.addresses) == ["LTC"]
    assert len(snapshot.addresses["LTC"]) == len(_lines(ofac_dir / "sanctioned_addresses_LTC.txt"))


def test_bad_inputs_are_refused_clearly(tmp_path: Path, ofac_dir: Path) -> None:
    with pytest.raises(InvalidInputError):
        read_ofac(tmp_path / "missing")
    with pytest.raises(InvalidInputError):
        read_ofac(tmp_path)  # no list files
    broken = tmp_path / "sanctioned_addresses_ETH.json"
    broken.write_text('[\n  "0xabc",\n  "0xdef"\n', encoding="utf-8")
    with pytest.raises(MalformedFileError) as caught:
        read_ofac(broken)
    assert caught.value.path == str(broken)
    assert caught.value.line == 4
    text = tmp_path / "txt" / "sanctioned_addresses_XBT.txt"
    text.parent.mkdir()
    text.write_text("1abc\n1def ghi\n", encoding="utf-8")
    with pytest.raises(MalformedFileError) as caught:
        read_ofac(text)
    assert caught.value.line == 2
    stale = tmp_path / "stale"
    stale.mkdir()
    shutil.copy(ofac_dir / "sanctioned_addresses_LTC.json", stale)
    (stale / "sanctioned_addresses_LTC.txt").write_text("Lonly\n", encoding="utf-8")
    with pytest.raises(MalformedFileError, match="different addresses"):
        read_ofac(stale)
