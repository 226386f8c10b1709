"""Migration 0009: clear case notes, report XML and evidence files written before it are encrypted by it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text

from chainsleuth.cases import evidence
from chainsleuth.config import Settings, get_settings
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.migrate import alembic_config, upgrade_to_head
from chainsleuth.store.models.cases import CaseNote, StrReport

NOTE = "Called Jane Placeholder, born 1980-02-03, passport X1234567"
XML = "<report><first_name>Jane</first_name><passport_number>X1234567</passport_number></report>"
DOCUMENT = b"scan of passport X1234567"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The process settings' data directory (what ``chainsleuth db upgrade`` uses), pointed at a temporary one."""
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


@pytest.fixture
def at_0008(empty_database_url: str) -> Iterator[Engine]:
    engine = create_engine_for(empty_database_url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0008")
    try:
        yield engine
    finally:
        engine.dispose()


def _seed_clear_rows(engine: Engine, data_dir: Path) -> None:
    folder = data_dir / "evidence" / "case-1"
    folder.mkdir(parents=True)
    (folder / "abc-passport.pdf").write_bytes(DOCUMENT)
    digest = hashlib.sha256(DOCUMENT).hexdigest()
    with engine.begin() as c:
        c.execute(text("INSERT INTO cases (id, title, description, status, priority, queue, created_by, created_at, "
                       "updated_at, version) VALUES (1, 't', '', 'open', 'medium', 'q', 'x', :t, :t, 1)"),
                  {"t": "2026-11-22 10:00:00+00:00"})  # fmt: skip
        c.execute(text("INSERT INTO case_notes (case_id, author, created_at, body) VALUES (1, 'x', :t, :b)"),
                  {"t": "2026-11-22 10:00:00+00:00", "b": NOTE})  # fmt: skip
        c.execute(text("INSERT INTO str_reports (case_id, status, report_code, entity_reference, revision, xml, "
                       "sha256, valid, validation_errors, event_ids, reason, action_taken, indicators, drafted_by, "
                       "drafted_at, submission_count, version) VALUES (1, 'drafted', 'STR', 'R1', 1, :x, 'h', :v, "
                       "'[]', '[]', 'r', 'a', '[]', 'x', :t, 0, 1)"),
                  {"x": XML, "v": True, "t": "2026-11-22 10:00:00+00:00"})  # fmt: skip
        c.execute(text("INSERT INTO case_evidence (case_id, kind, title, sha256, size_bytes, media_type, filename, "
                       "storage_path, added_by, added_at) VALUES (1, 'document', 'scan', :h, :n, 'application/pdf', "
                       "'passport.pdf', 'evidence/case-1/abc-passport.pdf', 'x', :t)"),
                  {"h": digest, "n": len(DOCUMENT), "t": "2026-11-22 10:00:00+00:00"})  # fmt: skip


def test_upgrade_encrypts_notes_reports_and_documents(at_0008: Engine, data_dir: Path) -> None:
    _seed_clear_rows(at_0008, data_dir)
    upgrade_to_head(at_0008)
    with at_0008.connect() as c:
        body = c.execute(text("SELECT body FROM case_notes")).scalar_one()
        xml = c.execute(text("SELECT xml FROM str_reports")).scalar_one()
        path, key = c.execute(text("SELECT storage_path, data_key FROM case_evidence")).one()
    assert body.startswith("v1:")
    assert xml.startswith("v1:")
    assert key.startswith("v1:")
    assert not (data_dir / "evidence/case-1/abc-passport.pdf").exists()  # the clear file is gone
    assert DOCUMENT not in (data_dir / path).read_bytes()
    settings = Settings(data_dir=data_dir)
    with session_scope(at_0008) as s:
        assert s.get(CaseNote, 1).body == NOTE  # type: ignore[union-attr]
        assert s.get(StrReport, 1).xml == XML  # type: ignore[union-attr]
        checks = [evidence.check(row, settings) for row in evidence.list_evidence(s, 1)]
    assert [c.ok for c in checks] == [True]


def test_upgrade_of_an_empty_database_needs_no_key(
    empty_database_url: str, test_master_key: bytes, data_dir: Path
) -> None:
    from chainsleuth.privacy.keyring import set_default_master_key

    set_default_master_key(None)  # nothing to convert: the (missing) key file is never read
    try:
        assert upgrade_to_head(empty_database_url) == "0010"
    finally:
        set_default_master_key(test_master_key)
