"""Certificates of completion: issued when the course is complete, rendered as PDF, verifiable by anyone.

The verification code is ``CSC-<serial>-<MAC>``: the serial finds the row, the MAC (HMAC-SHA256 under the
academy key over serial, holder, course and date, 100 bits shown) proves the academy issued exactly that. A
guessed code fails on the MAC; a code copied onto another name fails because the row names the real holder; a
revoked certificate fails with its reason. The public check reveals only what is printed on the certificate.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.academy import keys as akeys
from chainsleuth.academy.base import SYSTEM, AcademyBase
from chainsleuth.errors import NotFoundError, PolicyViolationError
from chainsleuth.privacy import audit
from chainsleuth.privacy.policy import Actor
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.academy import AcademyCertificate, AcademyCohort, AcademyEnrolment

_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class CertificateCheck:
    """The answer of the public verification: who holds it, for which course, since when, and whether valid."""

    code: str
    valid: bool
    holder: str | None = None
    course: str | None = None
    date: str | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _by_serial(session: Session, serial: str) -> AcademyCertificate | None:
    return session.scalar(select(AcademyCertificate).where(AcademyCertificate.serial == serial))


def _certificate_dict(row: AcademyCertificate) -> dict[str, Any]:
    return {
        "serial": row.serial,
        "code": akeys.certificate_code(row.serial, row.mac),
        "holder": row.holder,
        "course": row.course,
        "date": row.issued_on,
        "score_percent": row.score_percent,
        "revoked": row.revoked,
    }


class CertificateWork(AcademyBase):
    """Issuing, rendering and verifying certificates (mixed into :class:`~chainsleuth.academy.service.Academy`)."""

    def issue_certificate(
        self, cohort: str, trainee: str, *, issued_by: str, waive_requirements: bool = False, actor: Actor = SYSTEM
    ) -> dict[str, Any]:
        """Issue (once) the certificate of a trainee who completed the course.

        ``waive_requirements`` lets an instructor certify someone who completed the course another way (say,
        offline); the waiver is written to the audit log.
        """
        progress = self.trainee_progress(cohort, trainee)
        if not progress["complete"] and not waive_requirements:
            raise PolicyViolationError(
                "the course is not complete: every quiz passed and every exercise graded above the pass mark",
                missing=progress["missing"],
                exercise_percent=progress["exercise_percent"],
            )
        with session_scope(self.engine) as session:
            enrolment = self._enrolment(session, cohort, trainee)
            existing = session.scalar(select(AcademyCertificate).where(AcademyCertificate.enrolment_id == enrolment.id))
            if existing is not None:
                return _certificate_dict(existing)
            serial = akeys.b32(secrets.token_bytes(10), 10)
            issued_on = self.clock().date().isoformat()
            holder, course = enrolment.display_name, self.course.title
            row = AcademyCertificate(
                serial=serial,
                enrolment_id=enrolment.id,
                holder=holder,
                course=course,
                issued_on=issued_on,
                score_percent=float(progress["exercise_percent"]),
                mac=akeys.certificate_mac(self.key, serial, holder, course, issued_on),
                issued_by=issued_by,
                revoked=False,
            )
            session.add(row)
            session.flush()
            audit.record(
                session,
                actor,
                "academy.certificate_issue",
                "academy_certificate",
                serial,
                None,
                {"cohort": cohort, "trainee": trainee, "waived": waive_requirements},
            )
            return _certificate_dict(row)

    def certificates(self, cohort: str) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(AcademyCertificate, AcademyEnrolment.trainee)
                .join(AcademyEnrolment, AcademyEnrolment.id == AcademyCertificate.enrolment_id)
                .join(AcademyCohort, AcademyCohort.id == AcademyEnrolment.cohort_id)
                .where(AcademyCohort.name == cohort)
            )
            # keyed by trainee (the login), not the holder's display name, which two trainees may share
            return [{**_certificate_dict(row), "trainee": trainee} for row, trainee in rows.tuples()]

    def certificate_of(self, cohort: str, trainee: str) -> dict[str, Any]:
        with session_scope(self.engine) as session:
            enrolment = self._enrolment(session, cohort, trainee)
            row = session.scalar(select(AcademyCertificate).where(AcademyCertificate.enrolment_id == enrolment.id))
            if row is None:
                raise NotFoundError("no certificate has been issued to this trainee", trainee=trainee)
            return _certificate_dict(row)

    def revoke_certificate(self, serial: str, reason: str, *, actor: Actor = SYSTEM) -> None:
        with session_scope(self.engine) as session:
            row = _by_serial(session, serial)
            if row is None:
                raise NotFoundError("no such certificate", serial=serial)
            row.revoked = True
            audit.record(
                session, actor, "academy.certificate_revoke", "academy_certificate", serial, None, {"reason": reason}
            )

    def verify_certificate(self, code: str) -> CertificateCheck:
        """Check a verification code: valid only if it is well-formed, known, untampered and not revoked."""
        parsed = akeys.parse_certificate_code(code)
        if parsed is None:
            return CertificateCheck(code=code, valid=False, reason="not a certificate code")
        serial, mac = parsed
        with session_scope(self.engine) as session:
            row = _by_serial(session, serial)
            if row is None:
                return CertificateCheck(code=code, valid=False, reason="no certificate with this code")
            expected = akeys.certificate_mac(self.key, row.serial, row.holder, row.course, row.issued_on)
            if not (akeys.same(mac, row.mac) and akeys.same(row.mac, expected)):
                return CertificateCheck(code=code, valid=False, reason="the code does not match this certificate")
            if row.revoked:
                return CertificateCheck(
                    code=code, valid=False, holder=row.holder, course=row.course, date=row.issued_on, reason="revoked"
                )
            return CertificateCheck(code=code, valid=True, holder=row.holder, course=row.course, date=row.issued_on)

    def certificate_pdf(self, serial: str) -> bytes:
        """The certificate as a one-page PDF (A4 landscape) with its verification code."""
        with session_scope(self.engine) as session:
            row = _by_serial(session, serial)
            if row is None:
                raise NotFoundError("no such certificate", serial=serial)
            data = _certificate_dict(row)
        return render_certificate_pdf(data)


def _pdf() -> tuple[FPDF, str]:
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_title("chainsleuth academy certificate")
    regular, bold = _FONT_DIR / "DejaVuSans.ttf", _FONT_DIR / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():  # Unicode names when the system has the font; Latin-1 otherwise
        pdf.add_font("DejaVu", "", str(regular))
        pdf.add_font("DejaVu", "B", str(bold))
        return pdf, "DejaVu"
    return pdf, "Helvetica"


def _text(font: str, value: str) -> str:
    return value if font == "DejaVu" else value.encode("latin-1", "replace").decode("latin-1")


def render_certificate_pdf(data: dict[str, Any]) -> bytes:
    """Render a certificate (``_certificate_dict`` shape) as PDF bytes."""
    pdf, font = _pdf()
    pdf.add_page()
    pdf.set_draw_color(30, 60, 110)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    lines = [
        (28, "B", 40, "chainsleuth academy"),
        (22, "", 60, "Certificate of completion"),
        (14, "", 80, "This certifies that"),
        (26, "B", 96, data["holder"]),
        (14, "", 114, "has completed the course"),
        (18, "B", 128, data["course"]),
        (12, "", 144, f"with an exercise score of {data['score_percent']:.0f} %, on {data['date']}."),
        (11, "", 170, f"Verification code: {data['code']}"),
        (
            9,
            "",
            180,
            "Verify at /academy/verify?code=CODE on the issuing platform, or with "
            "`chainsleuth academy certificate verify CODE`.",
        ),
    ]
    for size, style, y, text in lines:
        pdf.set_font(font, style, size)
        pdf.set_xy(10, y)
        pdf.cell(277, 10, _text(font, text), align="C")
    return bytes(pdf.output())
