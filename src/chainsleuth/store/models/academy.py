"""Teach: academy cohorts, enrolments, quiz results, exercise attempts, submissions and certificates.

Why these tables look the way they do:

* trainees are identified by a ``trainee`` string (normally the platform username of a law-enforcement officer,
  but a cohort may enrol people who only ever work offline with the CLI), so no new user role is needed: being
  enrolled in a cohort *is* the trainee flag, and the ``academy.learn`` / ``academy.teach`` permissions decide
  who may take or run courses;
* ``world_seed`` is stored although it is derivable (HMAC of cohort and trainee under the academy key): the
  instructor can see which world a trainee worked on even after the key is rotated;
* every submission is kept, refused ones included (with the reason), because a refused answer from another
  trainee's world is exactly what an instructor wants to see;
* a certificate stores only its serial and the MAC of its contents; the verification code printed on the PDF
  is serial plus MAC, so a code cannot be guessed and a changed holder, course or date no longer verifies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.store.models.base import Base, one_of
from chainsleuth.store.types import UTCDateTime, utcnow

WORLD_STATUSES = ("pending", "ready", "failed")
ATTEMPT_STATUSES = ("started", "submitted", "expired")
SUBMISSION_STATUSES = ("graded", "refused")


class AcademyCohort(Base):
    """A group of trainees taking the same courses and exercises, run by an instructor."""

    __tablename__ = "academy_cohorts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    instructor: Mapped[str] = mapped_column(String(64))
    world_size: Mapped[str] = mapped_column(String(16), server_default=text("'tiny'"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AcademyEnrolment(Base):
    """One trainee in one cohort, with the seed of their own simulated world."""

    __tablename__ = "academy_enrolments"
    __table_args__ = (
        UniqueConstraint("cohort_id", "trainee"),
        one_of("world_status", WORLD_STATUSES),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("academy_cohorts.id"), index=True)
    trainee: Mapped[str] = mapped_column(String(64), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    world_seed: Mapped[int] = mapped_column(BigInteger)
    world_status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AcademyQuizResult(Base):
    """A graded quiz of one course module (every try is kept; progress counts the best)."""

    __tablename__ = "academy_quiz_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("academy_enrolments.id"), index=True)
    module_id: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AcademyAttempt(Base):
    """A trainee working one exercise: when the clock started, the deadline, hints taken, the final score."""

    __tablename__ = "academy_attempts"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "exercise_id"),
        one_of("status", ATTEMPT_STATUSES),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("academy_enrolments.id"), index=True)
    exercise_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'started'"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hints_used: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)


class AcademySubmission(Base):
    """One answer sent for an attempt: graded (with its feedback) or refused (with the reason)."""

    __tablename__ = "academy_submissions"
    __table_args__ = (one_of("status", SUBMISSION_STATUSES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("academy_attempts.id"), index=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)
    feedback: Mapped[dict[str, Any]] = mapped_column(JSON)


class AcademyCertificate(Base):
    """A certificate of completion; ``mac`` binds serial, holder, course and date to the academy key."""

    __tablename__ = "academy_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(32), unique=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("academy_enrolments.id"), index=True)
    holder: Mapped[str] = mapped_column(String(200))
    course: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[str] = mapped_column(String(10))
    score_percent: Mapped[float] = mapped_column(Float)
    mac: Mapped[str] = mapped_column(String(64))
    issued_by: Mapped[str] = mapped_column(String(64))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
