"""Academy fixtures: two trainees' worlds generated once per session, and an academy over each database.

Generating a trainee world (simulate, split off the answer key, ingest into its own stores) takes a few seconds,
so the worlds of ``alice`` and ``bob`` in cohort ``c1`` are made once, on a throw-away SQLite database, and every
test's academy adopts them (same secret, so the same seeds and tokens: ``generate_worlds`` reuses them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chainsleuth.academy.service import Academy
from chainsleuth.api.app import create_app
from chainsleuth.config import Settings
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.migrate import upgrade_to_head
from chainsleuth.store.users import create_user

SECRET = "academy-test-secret"
COHORT = "c1"
PASSWORD = "academy-password-1"
TRAINEES = {"alice": "Alice Ångström", "bob": "Bob Example"}


@dataclass
class Clock:
    """A settable clock, so time limits are tested without waiting."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


def _setup(academy: Academy) -> None:
    academy.create_cohort(COHORT, "Cohort one", "instructor")
    for trainee, name in TRAINEES.items():
        academy.enrol(COHORT, trainee, name)
    academy.generate_worlds(COHORT)


@pytest.fixture(scope="session")
def academy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("academy")
    engine = create_engine_for(f"sqlite:///{root / 'generate.db'}")
    try:
        upgrade_to_head(engine)
        _setup(Academy(engine, root / "academy", SECRET))
    finally:
        engine.dispose()
    return root / "academy"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))


@pytest.fixture
def academy(engine: Engine, academy_dir: Path, clock: Clock) -> Academy:
    """An academy on a fresh database (SQLite and PostgreSQL) with cohort c1, alice and bob, worlds ready."""
    created = Academy(engine, academy_dir, SECRET, clock=clock)
    _setup(created)
    return created


@pytest.fixture
def client(academy: Academy, engine: Engine, fast_password_hashing: None) -> Iterator[TestClient]:
    settings = Settings(data_dir=academy.dir.parent, database_url=str(engine.url), secret_key=SECRET, demo=True)
    with session_scope(engine) as session:
        for username, role in (("alice", "analyst"), ("bob", "analyst"), ("instructor", "senior_analyst"),
                               ("other-teacher", "senior_analyst")):  # fmt: skip
            create_user(session, username=username, password=PASSWORD, role=role, display_name=username)
    with TestClient(create_app(settings, engine=engine)) as test_client:
        yield test_client


def key_of(academy_dir: Path, trainee: str, exercise: str) -> dict[str, Any]:
    from chainsleuth.academy.worlds import trainee_world

    keys: dict[str, Any] = trainee_world(academy_dir, COHORT, trainee).answer_keys()
    return dict(keys[exercise])


def perfect_answer(academy: Academy, trainee: str, exercise: str) -> dict[str, Any]:
    """The answer a trainee who solved the exercise completely would send."""
    key = key_of(academy.dir, trainee, exercise)
    answer: dict[str, Any] = {
        "token": academy.token(COHORT, trainee),
        "accounts": key["accounts"],
        "amount_usd": key["amount_usd"],
        "path": key["path"],
    }
    if exercise == "freeze-request":
        answer = {
            "token": academy.token(COHORT, trainee),
            "legal_basis": "Section 261 Criminal Code (money laundering), order of the public prosecutor",
            "account": key["accounts"][0],
            "amount_usd": key["amount_usd"],
            "justification": f"Stolen bitcoin traced from the victim through transaction {key['path'][0]} "
            f"and {key['path'][-1]} into this account's deposit address.",
            "deadline": (academy.clock() + timedelta(days=30)).date().isoformat(),
        }
    return answer


def complete_course(academy: Academy, trainee: str, *, skip: tuple[str, ...] = ()) -> None:
    """Pass every quiz and solve every exercise (but those in ``skip``) perfectly."""
    for module in academy.course.modules:
        academy.submit_quiz(COHORT, trainee, module.id, {q.id: q.answer for q in module.quiz})
    for exercise in academy.course.exercises:
        if exercise not in skip:
            academy.start_exercise(COHORT, trainee, exercise)
            academy.submit(COHORT, trainee, exercise, perfect_answer(academy, trainee, exercise))
