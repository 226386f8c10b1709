"""Users: the second-factor secret encrypted at rest.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 14:30:00

``users.totp_secret`` becomes an encrypted column (``EncryptedText``): whoever holds a copy of the database
could otherwise compute every user's one-time codes. The column stays ``TEXT``; existing clear secrets are
encrypted here with the active key version, in the upgrade's transaction, so the code never meets a clear value.
A database with no enrolled user (every new installation) never needs the master key here.

Downgrade leaves the values encrypted (the column type is unchanged); decrypt them with the key if a clear copy
is ever needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from chainsleuth.privacy.crypto import parse_ciphertext

    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL")).all()
    clear = [(user_id, secret) for user_id, secret in rows if parse_ciphertext(secret) is None]
    if not clear:
        return
    from chainsleuth.privacy.crypto import keys_for
    from chainsleuth.privacy.keyring import configured_master_key

    keys = keys_for(configured_master_key())
    keyring = connection.execute(sa.text("SELECT version, state, check_value FROM privacy_keys")).all()
    active = next((int(v) for v, state, _ in keyring if state == "active"), 1)
    for version, state, check_value in keyring:
        if state != "retired" and keys.check_value(int(version)) != check_value:
            raise RuntimeError(f"the master key does not match key version {version} of this database: wrong key file?")
    for user_id, secret in clear:
        connection.execute(
            sa.text("UPDATE users SET totp_secret = :v WHERE id = :id"),
            {"v": keys.encrypt(secret, table="users", column="totp_secret", version=active), "id": user_id},
        )


def downgrade() -> None:
    """Nothing to undo in the schema; the secrets stay encrypted."""
