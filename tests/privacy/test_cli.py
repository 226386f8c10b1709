"""``chainsleuth privacy`` and ``chainsleuth audit`` commands on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from chainsleuth.cli.audit_cmd import app as audit_app
from chainsleuth.cli.privacy_cmd import app as privacy_app
from chainsleuth.config import get_settings
from chainsleuth.errors import AuthenticationError, IntegrityError, PermissionDeniedError
from chainsleuth.store.db import session_scope
from chainsleuth.store.users import create_user

runner = CliRunner()


@pytest.fixture
def configured(
    loaded: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, fast_password_hashing: None
) -> Iterator[Engine]:
    with session_scope(loaded) as session:
        create_user(session, username="sam", password="sam-password-1", role="senior_analyst", display_name="Sam")
        create_user(session, username="ann", password="ann-password-1", role="analyst", display_name="Ann")
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield loaded
    get_settings.cache_clear()


def test_help_texts_document_the_commands() -> None:
    for app, commands in (
        (privacy_app, ("rotate-key", "reveal", "find", "reindex", "status", "retire-key")),
        (audit_app, ("verify", "tail", "export")),
    ):
        for command in commands:
            result = runner.invoke(app, [command, "--help"])
            assert result.exit_code == 0, command
            assert len(result.stdout) > 200, command


def test_find_and_reveal_as_a_named_user(configured: Engine) -> None:
    found = runner.invoke(
        privacy_app, ["find", "--as", "sam", "--email", "Carol@Example.org", "--json"], input="sam-password-1\n"
    )
    assert found.exit_code == 0, found.output
    (carol,) = json.loads(found.stdout)
    assert (carol["customer_id"], carol["name"], carol["email"]) == ("C0000003", "C*** P***", "c***@example.org")
    table = runner.invoke(privacy_app, ["find", "--as", "sam", "--name", "carol placeholder"], input="sam-password-1\n")
    assert "C0000003" in table.stdout
    assert "carol@" not in table.stdout

    shown = runner.invoke(
        privacy_app,
        [
            "reveal",
            "C0000003",
            "--as",
            "sam",
            "--purpose",
            "le_request",
            "--case-ref",
            "LER-9",
            "-f",
            "email",
            "--json",
        ],
        input="sam-password-1\n",
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["fields"] == {"email": "carol@example.org"}

    denied = runner.invoke(
        privacy_app, ["reveal", "C0000003", "--as", "ann", "--purpose", "kyc_review"], input="ann-password-1\n"
    )
    assert isinstance(denied.exception, PermissionDeniedError)
    bad_password = runner.invoke(
        privacy_app, ["reveal", "C0000003", "--as", "sam", "--purpose", "kyc_review"], input="nope\n"
    )
    assert isinstance(bad_password.exception, AuthenticationError)
    not_allowed_to_search = runner.invoke(privacy_app, ["find", "--as", "ann", "--name", "x"], input="ann-password-1\n")
    assert isinstance(not_allowed_to_search.exception, PermissionDeniedError)

    tail = runner.invoke(audit_app, ["tail", "--json", "-n", "3"])
    actions = [json.loads(line)["action"] for line in tail.stdout.splitlines()]
    assert actions == ["customer.search", "customer.reveal", "customer.reveal_refused"]  # ann's refusal


def test_key_commands(configured: Engine) -> None:
    status = runner.invoke(privacy_app, ["status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["active_version"] == 1
    rotated = runner.invoke(privacy_app, ["rotate-key", "--batch-size", "5"])
    assert rotated.exit_code == 0, rotated.output
    retired = runner.invoke(privacy_app, ["retire-key", "1"])
    assert retired.exit_code == 0, retired.output
    versions = json.loads(runner.invoke(privacy_app, ["status", "--json"]).stdout)["versions"]
    assert [(v["version"], v["state"]) for v in versions] == [(1, "retired"), (2, "active")]
    with configured.begin() as connection:
        connection.execute(text("UPDATE customers SET email_bidx = NULL"))
    assert runner.invoke(privacy_app, ["reindex"]).exit_code == 0
    assert "v2" in runner.invoke(privacy_app, ["status"]).stdout


def test_audit_verify_export_and_tamper(configured: Engine, tmp_path: Path) -> None:
    runner.invoke(privacy_app, ["rotate-key"])  # writes two entries
    ok = runner.invoke(audit_app, ["verify"])
    assert ok.exit_code == 0, ok.output
    target = tmp_path / "audit.jsonl"
    exported = runner.invoke(audit_app, ["export", "--since", "2000-01-01", "--output", str(target)])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["action"] for line in lines] == [
        "ingest.exchange",
        "privacy.rotate_key.start",
        "privacy.rotate_key.complete",
    ]
    assert lines[1]["prev_hash"] == lines[0]["entry_hash"]
    assert runner.invoke(audit_app, ["export", "--since", "2999-01-01"]).stdout == ""
    with configured.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'someone' WHERE seq = 2"))
    tampered = runner.invoke(audit_app, ["verify"])
    assert isinstance(tampered.exception, IntegrityError)
    assert tampered.exception.details["first_bad_seq"] == 2
