"""Certificates: issued only on completion, PDF with holder, course and code, verifiable; tampering fails."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from chainsleuth.academy.service import Academy
from chainsleuth.errors import PolicyViolationError
from tests.academy.conftest import COHORT, complete_course


def test_certificate_pdf_holds_holder_course_and_a_code_that_verifies(academy: Academy) -> None:
    with pytest.raises(PolicyViolationError, match="not complete"):
        academy.issue_certificate(COHORT, "alice", issued_by="instructor")
    complete_course(academy, "alice")
    progress = academy.trainee_progress(COHORT, "alice")
    assert progress["complete"]
    assert progress["exercise_percent"] == 100
    certificate = academy.issue_certificate(COHORT, "alice", issued_by="instructor")
    assert academy.issue_certificate(COHORT, "alice", issued_by="instructor") == certificate  # issued once
    # the cohort list names the trainee (login), not only the display name two trainees could share
    listed = [c for c in academy.certificates(COHORT) if c["serial"] == certificate["serial"]]
    assert [(c["trainee"], c["holder"]) for c in listed] == [("alice", "Alice Ångström")]
    text = "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(academy.certificate_pdf(certificate["serial"]))).pages
    )
    assert "Alice Ångström" in text
    assert academy.course.title in text
    assert certificate["code"] in text
    check = academy.verify_certificate(certificate["code"])
    assert check.valid
    assert check.holder == "Alice Ångström"
    assert check.course == academy.course.title
    assert check.date == "2026-11-22"
    assert academy.verify_certificate(certificate["code"].lower()).valid  # codes are read case-insensitively


def test_tampered_guessed_and_revoked_codes_fail(academy: Academy) -> None:
    certificate = academy.issue_certificate(COHORT, "bob", issued_by="instructor", waive_requirements=True)
    code = certificate["code"]
    last = code[-1]
    tampered = code[:-1] + ("A" if last != "A" else "B")
    assert not academy.verify_certificate(tampered).valid
    assert academy.verify_certificate(tampered).holder is None  # a wrong code reveals nothing
    serial = certificate["serial"]
    other_serial = code.replace(serial, "A" * len(serial))
    assert academy.verify_certificate(other_serial).reason == "no certificate with this code"
    assert not academy.verify_certificate("hello").valid
    other_key = Academy(academy.engine, academy.dir, "another-secret")
    assert not other_key.verify_certificate(code).valid  # a code is only valid under the academy's own key
    academy.revoke_certificate(serial, "issued in error")
    revoked = academy.verify_certificate(code)
    assert not revoked.valid
    assert revoked.reason == "revoked"
