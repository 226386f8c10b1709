"""goAML reports: every generated report validates against the shared XSD; filing state machine; four-eyes."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine, select

from chainsleuth.cases import service
from chainsleuth.cases.goaml import filing
from chainsleuth.cases.goaml.config import load_config
from chainsleuth.cases.goaml.translit import split_name, to_ascii
from chainsleuth.cases.goaml.validate import validate
from chainsleuth.errors import (
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    PolicyViolationError,
)
from chainsleuth.privacy import audit
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import AuditEntry, Customer
from tests.cases.conftest import ANALYST, NOW, OFFICER, OFFICER2, SENIOR, make_alert

SHARED_XSD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "goaml" / "goAMLSchema-5.0.2.xsd"
ALL_MONEY = ["E0000000002", "E0000000003", "E0000000004", "E0000000005", "E0000000006", "E0000000007",
             "E0000000008"]  # fmt: skip


def _shared_schema() -> etree.XMLSchema:
    if not SHARED_XSD.is_file():
        pytest.fail(f"the shared goAML schema is missing at {SHARED_XSD}")
    return etree.XMLSchema(etree.parse(str(SHARED_XSD)))


def _assert_valid(xml: str) -> etree._Element:
    schema = _shared_schema()
    document = etree.fromstring(xml.encode("utf-8"))
    assert schema.validate(document), [str(e) for e in schema.error_log]
    return document


def test_transliteration() -> None:
    assert to_ascii("Łukasz Żółć") == "Lukasz Zolc"
    assert to_ascii("Jürgen Groß") == "Jurgen Gross"
    assert to_ascii("Дмитрий Шостакович") == "Dmitrii Shostakovich"
    assert to_ascii("Æsa Þórðardóttir") == "AEsa Thordardottir"
    assert split_name("Дмитрий") == ("-", None, "Dmitrii")
    assert split_name("José María de la Cruz") == ("Jose", "Maria de la", "Cruz")


@pytest.mark.parametrize(
    ("names", "events"),
    [
        ({"C0000001": "Alice Example"}, ["E0000000002", "E0000000006"]),
        ({"C0000001": "Łukasz Żółć", "C0000002": "Jürgen Groß"}, ALL_MONEY),
        ({"C0000002": "Дмитрий", "C0000001": "李小龍"}, ALL_MONEY),
    ],
)
def test_reports_validate_against_shared_xsd(loaded: Engine, names: dict[str, str], events: list[str]) -> None:
    with session_scope(loaded) as s:
        for customer_id, name in names.items():
            customer = s.get(Customer, customer_id)
            assert customer is not None
            customer.full_name = name
    alert = make_alert(loaded, events)
    with session_scope(loaded) as s:
        case = service.create_from_alerts(s, SENIOR, [alert], now=NOW)
        report = filing.draft_report(s, SENIOR, case.id, reason="Funds from a mixer, withdrawn within hours.",
                                     action="Account frozen; funds preserved.", now=NOW)  # fmt: skip
        assert report.valid, report.validation_errors
        document = _assert_valid(report.xml)
    tx_numbers = document.xpath("//transaction/transactionnumber/text()")
    assert "0x0303030303030303030303030303030303030303030303030303030303030303" in tx_numbers or len(events) == 2
    for name in document.xpath("//first_name/text() | //last_name/text() | //account_name/text()"):
        assert name.isascii()
    if "Łukasz Żółć" in names.values():
        assert "Lukasz" in document.xpath("//first_name/text()")
        assert "Łukasz Żółć" in document.xpath("//full_name_frn/text()")
    if "E0000000007" in events:  # a withdrawal: the destination wallet is the counterparty account number
        assert document.xpath("//t_to/to_account/account/text()")[0].startswith("0x")
    assert document.xpath("//report_indicators/indicator/text()") == ["CRYMX"]


def test_filing_state_machine_and_four_eyes(loaded: Engine) -> None:
    alert = make_alert(loaded, ALL_MONEY)
    with session_scope(loaded) as s:
        case = service.create_from_alerts(s, SENIOR, [alert], now=NOW)
        report = filing.draft_report(s, OFFICER, case.id, reason="r", action="a", indicators=["UHWLT"], now=NOW)
        with pytest.raises(PolicyViolationError, match="four-eyes"):
            filing.approve_report(s, OFFICER, report.id, report.version, now=NOW)
        with pytest.raises(PermissionDeniedError):
            filing.approve_report(s, SENIOR, report.id, report.version, now=NOW)
        with pytest.raises(PolicyViolationError):
            filing.submit_report(s, OFFICER2, report.id, report.version, now=NOW)
        filing.approve_report(s, OFFICER2, report.id, report.version, now=NOW)
        filing.approve_report(s, OFFICER2, report.id, 1, now=NOW)  # twice: no-op
        filing.submit_report(s, OFFICER2, report.id, report.version, now=NOW)
        filing.record_rejection(s, OFFICER2, report.id, report.version, fiu_reason="missing indicator", now=NOW)
        assert report.status == "rejected"
        assert report.fiu_reason == "missing indicator"
        filing.redraft(s, SENIOR, report.id, report.version, indicators=["UHWLT", "CRYMX"], now=NOW)
        assert report.revision == 2
        assert report.status == "drafted"
        filing.approve_report(s, OFFICER, report.id, report.version, now=NOW)
        filing.submit_report(s, OFFICER, report.id, report.version, now=NOW)
        filing.acknowledge(s, OFFICER, report.id, report.version, fiu_ref_number="FIU-2026-1", now=NOW)
        assert report.status == "acknowledged"
        assert report.submission_count == 2
        _assert_valid(report.xml)
        report_id = report.id
    with session_scope(loaded) as s:
        logged = [
            e.action
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.object_id == str(report_id), AuditEntry.object_type == "str_report")
            )
        ]
        assert logged == ["report.drafted", "report.approved", "report.approve_repeat", "report.submitted",
                          "report.rejected", "report.redrafted", "report.approved", "report.resubmitted",
                          "report.acknowledged"]  # fmt: skip
        reveals = s.scalars(select(AuditEntry).where(AuditEntry.action == "customer.reveal")).all()
        assert reveals
        assert all(e.purpose == "str_filing" and "goAML report" in e.details for e in reveals)


def test_invalid_report_cannot_be_approved(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, SENIOR, title="no transactions", now=NOW)
        report = filing.draft_report(s, SENIOR, case.id, reason="r", action="a", event_ids=["E0000000001"], now=NOW)
        assert not report.valid
        assert any("transaction" in e for e in report.validation_errors)
        with pytest.raises(PolicyViolationError, match="invalid report") as refused:
            filing.approve_report(s, OFFICER, report.id, report.version, now=NOW)
        assert refused.value.details["errors"]
        assert validate(report.xml.encode()) == report.validation_errors


def test_redraft_checks_indicators_and_events_like_draft(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, SENIOR, title="redraft input", now=NOW)
        report = filing.draft_report(s, SENIOR, case.id, reason="r", action="a", event_ids=["E0000000002"], now=NOW)
        with pytest.raises(InvalidInputError, match="indicators") as bad_code:
            filing.redraft(s, SENIOR, report.id, report.version, indicators=["NOPE0"], now=NOW)
        assert bad_code.value.details["indicators"] == ["NOPE0"]
        with pytest.raises(NotFoundError, match="ledger events") as missing:
            filing.redraft(s, SENIOR, report.id, report.version, event_ids=["E9999999999"], now=NOW)
        assert missing.value.details["event_ids"] == ["E9999999999"]


def test_wrong_role_cannot_draft(loaded: Engine) -> None:
    with session_scope(loaded) as s:
        case = service.create_case(s, ANALYST, title="x", now=NOW)
        with pytest.raises(PermissionDeniedError):
            filing.draft_report(s, ANALYST, case.id, reason="r", action="a", now=NOW)


def test_config_override_and_bad_codes(tmp_path: Path) -> None:
    custom = tmp_path / "goaml.toml"
    custom.write_text('[reporting_entity]\nrentity_id = 42\n[codes]\nreport_code = "SAR"\n', encoding="utf-8")
    config = load_config(custom, use_environment=False)
    assert config.reporting_entity.rentity_id == 42
    assert config.codes.report_code == "SAR"
    assert config.codes.funds["crypto"] == "CRPTC"  # the rest comes from the shipped example
    custom.write_text('[codes.funds]\ncrypto = "BITCOIN"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="BITCOIN"):
        load_config(custom, use_environment=False)


def test_unknown_events_are_refused(loaded: Engine) -> None:
    from chainsleuth.errors import NotFoundError

    with session_scope(loaded) as s:
        case = service.create_case(s, SENIOR, title="typo", now=NOW)
        with pytest.raises(NotFoundError, match="no such ledger events"):
            filing.draft_report(s, SENIOR, case.id, reason="r", action="a", event_ids=["E404"], now=NOW)


def test_bank_references_are_revealed_through_the_privacy_layer(loaded: Engine) -> None:
    """A fiat movement's bank reference goes into the report only through an audited, purpose-bound reveal."""
    alert = make_alert(loaded, ["E0000000004", "E0000000010"])
    with session_scope(loaded) as s:
        case = service.create_from_alerts(s, SENIOR, [alert], now=NOW)
        report = filing.draft_report(s, SENIOR, case.id, reason="r", action="a", now=NOW)
        assert "bankref-7f3a" in report.xml
        reveals = [e for e in audit.tail(s, 20) if e.action == "ledger.reveal"]
    assert sorted(e.object_id or "" for e in reveals) == ["E0000000004", "E0000000010"]
    assert {e.purpose for e in reveals} == {"str_filing"}
    assert all("bankref" not in e.details for e in reveals)
