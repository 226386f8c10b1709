"""Cases: personal data encrypted at rest; one open account action per fingerprint.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 14:10:00

* ``case_evidence.data_key`` holds the per-file key of an encrypted evidence document (wrapped by the privacy
  layer); see :mod:`chainsleuth.cases.evidence_files`.
* ``case_notes.body`` and ``str_reports.xml`` become encrypted columns. The column type stays ``TEXT``
  (ciphertext is text), so no table is rebuilt; what changes is the stored values. Existing rows and existing
  evidence files are converted here, in the upgrade's transaction, so that the code never meets a clear value
  it would refuse to decrypt: values are encrypted with the active key version (version 1 when the keyring is
  still empty, which the privacy layer reads the same way), documents are re-written encrypted under new
  random names and the clear files are deleted last. A failure before that leaves the database unchanged
  (one transaction) and the clear files in place; only the new encrypted copies may remain, unreferenced.
  A database with nothing to convert (every new installation) never needs the master key here.
* ``uq_account_actions_open_fingerprint``: a partial unique index (SQLite and PostgreSQL both support
  ``WHERE``) so that two concurrent identical proposals cannot both be stored; the second gets the first
  (see ``chainsleuth.cases.actions.propose``). Duplicates already present stop the upgrade with their ids.

Downgrade drops the index and the column; it refuses while encrypted documents exist, since their keys would
be lost with the column. Encrypted note bodies and report XML stay encrypted (decrypt them with the key if a
clear copy is ever needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status IN ('proposed', 'approved', 'active')"
_INDEX = "uq_account_actions_open_fingerprint"


def _refuse_duplicate_open_actions(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.text(
            f"SELECT fingerprint, MIN(id), MAX(id), COUNT(*) FROM account_actions WHERE {_OPEN} "
            "GROUP BY fingerprint HAVING COUNT(*) > 1"
        )
    ).all()
    if rows:
        pairs = ", ".join(f"{low}..{high} ({count})" for _, low, high, count in rows)
        raise RuntimeError(
            "identical account actions are pending or in force more than once (ids " + pairs + "): reject or "
            "release the duplicates, then run the upgrade again"
        )


def _clear(value: str | None) -> bool:
    from chainsleuth.privacy.crypto import parse_ciphertext

    return value is not None and parse_ciphertext(value) is None


def _encrypt_existing(connection: sa.Connection) -> None:
    notes = [row for row in connection.execute(sa.text("SELECT id, body FROM case_notes")).all() if _clear(row[1])]
    reports = [row for row in connection.execute(sa.text("SELECT id, xml FROM str_reports")).all() if _clear(row[1])]
    documents = connection.execute(
        sa.text(
            "SELECT id, case_id, sha256, storage_path FROM case_evidence "
            "WHERE kind = 'document' AND data_key IS NULL AND storage_path IS NOT NULL"
        )
    ).all()
    if not (notes or reports or documents):
        return
    from chainsleuth.cases.evidence_files import seal_to_disk
    from chainsleuth.config import get_settings
    from chainsleuth.privacy.crypto import keys_for
    from chainsleuth.privacy.keyring import configured_master_key

    keys = keys_for(configured_master_key())
    keyring = connection.execute(sa.text("SELECT version, state, check_value FROM privacy_keys")).all()
    active = next((int(v) for v, state, _ in keyring if state == "active"), 1)
    for version, state, check_value in keyring:
        if state != "retired" and keys.check_value(int(version)) != check_value:
            raise RuntimeError(f"the master key does not match key version {version} of this database: wrong key file?")
    for note_id, body in notes:
        connection.execute(
            sa.text("UPDATE case_notes SET body = :v WHERE id = :id"),
            {"v": keys.encrypt(body, table="case_notes", column="body", version=active), "id": note_id},
        )
    for report_id, xml in reports:
        connection.execute(
            sa.text("UPDATE str_reports SET xml = :v WHERE id = :id"),
            {"v": keys.encrypt(xml, table="str_reports", column="xml", version=active), "id": report_id},
        )
    data_dir = get_settings().data_dir
    converted: list[Path] = []
    for evidence_id, case_id, sha256, storage_path in documents:
        clear_file = data_dir / storage_path
        if not clear_file.is_file():
            continue  # a missing file stays missing: `cases evidence verify` reports it
        sealed = seal_to_disk(data_dir, int(case_id), clear_file.read_bytes(), sha256)
        wrapped = keys.encrypt(sealed.data_key, table="case_evidence", column="data_key", version=active)
        connection.execute(
            sa.text("UPDATE case_evidence SET storage_path = :p, data_key = :k WHERE id = :id"),
            {"p": sealed.relative_path, "k": wrapped, "id": evidence_id},
        )
        converted.append(clear_file)
    for clear_file in converted:  # last: until here a failure leaves the clear originals untouched
        clear_file.unlink(missing_ok=True)


def upgrade() -> None:
    connection = op.get_bind()
    op.add_column("case_evidence", sa.Column("data_key", sa.Text(), nullable=True))
    _refuse_duplicate_open_actions(connection)
    op.create_index(
        _INDEX,
        "account_actions",
        ["fingerprint"],
        unique=True,
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
    _encrypt_existing(connection)


def downgrade() -> None:
    connection = op.get_bind()
    encrypted = connection.scalar(sa.text("SELECT COUNT(*) FROM case_evidence WHERE data_key IS NOT NULL"))
    if encrypted:
        raise RuntimeError(
            f"{encrypted} evidence documents are encrypted with keys kept in case_evidence.data_key: "
            "a downgrade would make them unreadable"
        )
    op.drop_index(_INDEX, table_name="account_actions")
    op.drop_column("case_evidence", "data_key")
