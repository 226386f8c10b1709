"""Fixtures of the attribution tests: the shared GraphSense data, sessions on both databases, small packs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from chainsleuth.chain.attribution.tagpack import ParsedTagPack, parse_tagpack
from chainsleuth.store.db import session_factory

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
TAGPACKS = SHARED / "tagpacks"
PACKS = sorted((TAGPACKS / "packs").glob("*.yaml"))
OFAC = SHARED / "ofac"


def require_shared() -> None:
    if not PACKS or not OFAC.is_dir():
        pytest.skip(f"shared data not found under {SHARED}")


@pytest.fixture(scope="session")
def shared_packs() -> dict[str, ParsedTagPack]:
    """Every shared TagPack, parsed once for the whole session (the parse is what the import tests reuse)."""
    require_shared()
    return {path.name: parse_tagpack(path) for path in PACKS}


@pytest.fixture(scope="session")
def yaml_tag_counts() -> dict[str, int]:
    """The number of tags in each shared pack, counted by plain PyYAML (the reference)."""
    require_shared()
    counts = {}
    for path in PACKS:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        counts[path.name] = len(data["tags"])
    return counts


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on a fresh migrated database (SQLite and PostgreSQL); rolled back at the end."""
    with session_factory(engine)() as created:
        yield created
        created.rollback()


@pytest.fixture
def write_pack(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write YAML text to a file in tmp_path and return its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


SMALL_PACK = """\
title: Small test pack
creator: Test Team
description: Three tags for tests
currency: BTC
confidence: service_data
source: https://example.org/list
lastmod: 2024-01-15
tags:
- address: 1vdXJDiDSzeUAoM7eAcWZPhM9wEKmH8dG
  label: Huobi.com
  category: exchange
  actor: huobi
- address: 3G3VG4X1WquWjqXT27JRwrRoyZgdyWf1dT
  label: Kraken.com
  category: exchange
  actor: kraken
- address: '0xD0cC2B24980CBCCA47EF755Da88B220a82291407'
  currency: ETH
  label: myelherwallel.com
  abuse: phishing
  confidence: web_crawl
  source: https://cryptoscamdb.org/
"""
