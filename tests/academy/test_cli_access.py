"""``--as`` on the academy CLI: a trainee acts only for themselves, an instructor only on their own cohorts;
certificates can be revoked from the command line (SQLite: the CLI is a thin layer over the tested API)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from chainsleuth.academy.service import Academy
from chainsleuth.cli.academy_cmd import app as academy_cli
from chainsleuth.config import get_settings
from chainsleuth.errors import PermissionDeniedError
from tests.academy.conftest import COHORT, PASSWORD, SECRET, complete_course


@pytest.fixture
def cli(client: TestClient, academy: Academy, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner on the test database; ``client`` created the users alice, bob, instructor and other-teacher."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI is exercised once; the API it calls is tested on both databases")
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(academy.dir.parent))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", str(engine.url))
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", SECRET)
    monkeypatch.setenv("CHAINSLEUTH_PASSWORD", PASSWORD)
    get_settings.cache_clear()  # each test has its own database
    yield CliRunner()
    get_settings.cache_clear()


def test_a_trainee_cannot_act_for_another(cli: CliRunner, academy: Academy) -> None:
    refused = cli.invoke(academy_cli, ["exercise", "start", COHORT, "alice", "phone-theft", "--as", "bob"])
    assert refused.exit_code != 0
    assert isinstance(refused.exception, PermissionDeniedError)
    assert academy.trainee_progress(COHORT, "alice")["exercises"]["phone-theft"] is None
    own = cli.invoke(academy_cli, ["exercise", "start", COHORT, "bob", "phone-theft", "--as", "bob"])
    assert own.exit_code == 0, own.output
    assert json.loads(own.stdout)["status"] == "started"


def test_only_the_cohorts_instructor_sees_its_progress(cli: CliRunner) -> None:
    other = cli.invoke(academy_cli, ["cohort", "progress", COHORT, "--as", "other-teacher"])
    assert isinstance(other.exception, PermissionDeniedError)
    mine = cli.invoke(academy_cli, ["cohort", "progress", COHORT, "--as", "instructor"])
    assert mine.exit_code == 0, mine.output
    assert {row["trainee"] for row in json.loads(mine.stdout)} == {"alice", "bob"}
    enrol = cli.invoke(academy_cli, ["cohort", "enrol", COHORT, "mallory", "--name", "M", "--as", "other-teacher"])
    assert isinstance(enrol.exception, PermissionDeniedError)


def test_certificates_can_be_revoked_from_the_cli(cli: CliRunner, academy: Academy) -> None:
    complete_course(academy, "alice")
    issued = cli.invoke(academy_cli, ["certificate", "issue", COHORT, "alice", "--as", "instructor"])
    assert issued.exit_code == 0, issued.output
    code = json.loads(issued.stdout)["code"]
    stolen = cli.invoke(
        academy_cli, ["certificate", "revoke", COHORT, "alice", "--reason", "x", "--as", "other-teacher"]
    )
    assert isinstance(stolen.exception, PermissionDeniedError)
    revoked = cli.invoke(
        academy_cli, ["certificate", "revoke", COHORT, "alice", "--reason", "cheating found", "--as", "instructor"]
    )
    assert revoked.exit_code == 0, revoked.output
    check = academy.verify_certificate(code)
    assert not check.valid
    assert check.reason == "revoked"
