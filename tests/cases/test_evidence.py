"""Evidence: hashes recorded and verified, documents stored under the data dir and size-limited."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import Engine, update

from chainsleuth.cases import evidence, service
from chainsleuth.chain.tracing import TraceResult
from chainsleuth.config import Settings
from chainsleuth.errors import IntegrityError, PayloadTooLargeError, PermissionDeniedError
from chainsleuth.privacy import audit
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import CaseEvidence
from chainsleuth.store.models.users import Role
from tests.cases.conftest import ANALYST, NOW, actor


def _Trace() -> TraceResult:  # noqa: N802  (reads like the result it builds)
    return TraceResult(source="bc1qsource", direction="forward", policy="haircut", hops=3, traced_value=1.5,
                       traced_asset="BTC", terminals=[], shares={"service": 0.4}, dropped_share=0.0, terminal_count=0,
                       edges_visited=12, elapsed_ms=1.0)  # fmt: skip


def test_evidence_hashes_detect_modification(loaded: Engine, settings: Settings) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, ANALYST, title="evidence", now=NOW)
        trace = evidence.add_result(s, ANALYST, case.id, case.version, "trace", _Trace(), title="trace", now=NOW)
        exposure = evidence.add_result(s, ANALYST, case.id, case.version, "exposure", {"tier": "high"},
                                       title="exposure", now=NOW)  # fmt: skip
        extract = evidence.add_ledger_extract(s, ANALYST, case.id, case.version, ["E0000000004", "E0000000001"],
                                              now=NOW)  # fmt: skip
        assert "bank_reference" not in (extract.content or "")
        assert "203.0.113.5" not in (extract.content or "")
        doc = evidence.add_document(s, ANALYST, case.id, case.version, b"police report", filename="../rep ort.pdf",
                                    media_type="application/pdf", settings=settings, now=NOW)  # fmt: skip
        assert doc.storage_path is not None
        assert doc.storage_path.startswith("evidence/case-")
        stored = (settings.data_dir / doc.storage_path).read_bytes()
        assert b"police report" not in stored
        assert "rep_ort" not in doc.storage_path
        assert doc.sha256 == hashlib.sha256(b"police report").hexdigest()  # the hash of the clear document
        assert evidence.read_evidence(s, ANALYST, doc.id, settings=settings)[1] == b"police report"
        checks = evidence.verify_evidence(s, ANALYST, case.id, settings=settings)
        assert all(c.ok for c in checks)
        assert len(checks) == 4
        case_id, doc_id, trace_id = case.id, doc.id, trace.id
        assert exposure.sha256 != trace.sha256
        assert '"policy":"haircut"' in (trace.content or "")
    (settings.data_dir / doc.storage_path).write_bytes(b"police report (edited) " * 4)
    with session_scope(loaded) as s:
        s.execute(update(CaseEvidence).where(CaseEvidence.id == trace_id).values(content='{"source":"other"}'))
    with session_scope(loaded) as s:
        bad = {c.evidence_id: c for c in evidence.verify_evidence(s, ANALYST, case_id, settings=settings) if not c.ok}
        assert set(bad) == {doc_id, trace_id}
        assert bad[doc_id].problem is not None
        assert "fails authentication" in bad[doc_id].problem
        assert "does not match" in (bad[trace_id].problem or "")


def test_reading_evidence_is_audited_and_needs_case_read(loaded: Engine, settings: Settings) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, ANALYST, title="read", now=NOW)
        doc = evidence.add_document(s, ANALYST, case.id, case.version, b"statement", filename="s.txt",
                                    settings=settings, now=NOW)  # fmt: skip
        row, data = evidence.read_evidence(s, ANALYST, doc.id, settings=settings)
        assert (row.id, data) == (doc.id, b"statement")
        (entry,) = audit.tail(s, 1)
        assert (entry.action, entry.object_id, entry.actor) == ("evidence.read", str(doc.id), ANALYST.username)
        with pytest.raises(PermissionDeniedError):
            evidence.read_evidence(s, actor(Role.ADMIN), doc.id, settings=settings)


def test_a_document_swapped_with_another_fails_authentication(loaded: Engine, settings: Settings) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, ANALYST, title="swap", now=NOW)
        first = evidence.add_document(s, ANALYST, case.id, case.version, b"first", filename="a.txt",
                                      settings=settings, now=NOW)  # fmt: skip
        second = evidence.add_document(s, ANALYST, case.id, case.version, b"second", filename="b.txt",
                                       settings=settings, now=NOW)  # fmt: skip
        assert first.storage_path
        assert second.storage_path
        a, b = settings.data_dir / first.storage_path, settings.data_dir / second.storage_path
        a.write_bytes(b.read_bytes())
        with pytest.raises(IntegrityError):
            evidence.read_evidence(s, ANALYST, first.id, settings=settings)


def test_document_over_the_limit_is_refused(loaded: Engine, settings: Settings) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, ANALYST, title="big", now=NOW)
        with pytest.raises(PayloadTooLargeError):
            evidence.add_document(s, ANALYST, case.id, case.version, b"x" * 2048, filename="big.bin",
                                  settings=settings, now=NOW)  # fmt: skip
    leftovers = list((settings.data_dir / "evidence").rglob("*"))
    assert [p for p in leftovers if p.is_file()] == []
