"""Which master key and which key versions an engine encrypts and decrypts with.

Each engine gets one :class:`EngineCrypto`, kept on its dialect (the only thing a column type sees). The
master key comes from :func:`install_privacy` (an explicit key), else from :func:`set_default_master_key` (a
process-wide key: the test suite), else from a key file read on first use: the one given to
:func:`configure_privacy` (what the app and the demo call with their settings) or the process settings'
``resolved_key_file`` (the CLI).

Key *versions* live in the database table ``privacy_keys`` because they describe the data in that database:
the ``active`` version encrypts, ``decrypt_only`` versions still decrypt (a rotation is re-encrypting their
values), ``retired`` versions are refused. An empty table means "version 1 is active" so that the first write
never has to write the keyring (a column type cannot safely open a write transaction of its own: on SQLite it
would wait for the caller's own write lock). :func:`ensure_keyring` records version 1 with its check value
(called by the loader, the CLI and rotation, outside their transactions). The version states are cached for
:data:`REFRESH_SECONDS` per process; see docs/privacy.md for what that means for rotation.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Dialect, Engine, insert, select
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from chainsleuth.config import Settings, get_settings
from chainsleuth.errors import ConfigurationError, IntegrityError, StorageError
from chainsleuth.privacy.columns import ENGINE_ATTRIBUTE
from chainsleuth.privacy.crypto import FieldKeys, keys_for, parse_ciphertext
from chainsleuth.privacy.keyfile import read_key_file
from chainsleuth.store.models.audit import PrivacyKey
from chainsleuth.store.types import utcnow

#: How long a process trusts its cached key states before re-reading ``privacy_keys``.
REFRESH_SECONDS = 30.0
_CRYPTO_ATTRIBUTE = "_chainsleuth_crypto"
_default_master_key: bytes | None = None


def set_default_master_key(key: bytes | None) -> None:
    """Use ``key`` for every engine not given one by :func:`install_privacy` (None: the key file again).

    For tests and embedded use; a deployment configures the key file instead.
    """
    global _default_master_key
    if key is not None and len(key) != 32:
        raise ConfigurationError("the master key must be 32 bytes", found=len(key))
    _default_master_key = key


def _configured_master_key(key_file: Path | None = None) -> bytes:
    if _default_master_key is not None:
        return _default_master_key
    if key_file is None:
        key_file = get_settings().resolved_key_file
    return read_key_file(key_file)


def configured_master_key(key_file: Path | None = None) -> bytes:
    """The master key this process uses when no engine names one (see the module doc): for code that must
    encrypt outside any engine's column types, such as a data migration (migration 0009).
    """
    return _configured_master_key(key_file)


class EngineCrypto:
    """Encryption for one engine: the master key's derived keys plus the cached key-version states."""

    def __init__(
        self, engine: Callable[[], Engine | None], master_key: bytes | None = None, key_file: Path | None = None
    ) -> None:
        self._engine = engine
        self._key_file = key_file
        self._keys: FieldKeys | None = keys_for(master_key) if master_key is not None else None
        self._states: dict[int, str] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def keys(self) -> FieldKeys:
        """The derived keys (the master key is read on first use)."""
        if self._keys is None:
            self._keys = keys_for(_configured_master_key(self._key_file))
        return self._keys

    def engine(self) -> Engine:
        engine = self._engine()
        if engine is None:
            raise StorageError("the engine of this privacy layer has been garbage-collected")
        return engine

    # -- key states ---------------------------------------------------------------------------------------

    def refresh(self) -> dict[int, str]:
        """Re-read ``privacy_keys`` (checking every usable version against the master key)."""
        with self._lock:
            rows = _read_keys(self.engine())
            states = {row.version: row.state for row in rows}
            keys = self.keys
            for row in rows:
                if row.state != "retired" and keys.check_value(row.version) != row.check_value:
                    raise ConfigurationError(
                        f"the master key does not match key version {row.version} of this database: wrong key "
                        "file? (the data cannot be decrypted with this key)",
                        key_version=row.version,
                    )
            self._states = states or {1: "active"}
            self._loaded_at = time.monotonic()
            return dict(self._states)

    def states(self) -> dict[int, str]:
        """Version -> state, refreshed when older than :data:`REFRESH_SECONDS`."""
        if time.monotonic() - self._loaded_at > REFRESH_SECONDS:
            return self.refresh()
        return dict(self._states)

    def active_version(self) -> int:
        """The version new values are encrypted with."""
        active = [version for version, state in self.states().items() if state == "active"]
        if len(active) != 1:
            raise IntegrityError("privacy_keys must have exactly one active key version", active=active)
        return active[0]

    # -- values -------------------------------------------------------------------------------------------

    def encrypt(self, value: str, *, table: str, column: str) -> str:
        """Encrypt with the active key version."""
        return self.keys.encrypt(value, table=table, column=column, version=self.active_version())

    def decrypt(self, stored: str, *, table: str, column: str) -> str:
        """Decrypt with the version named in the value; IntegrityError for a retired or unknown version."""
        parsed = parse_ciphertext(stored)
        if parsed is None:
            return self.keys.decrypt(stored, table=table, column=column)  # raises the clear error
        version, blob = parsed
        state = self.states().get(version)
        if state is None:
            state = self.refresh().get(version)
        if state is None or state == "retired":
            raise IntegrityError(
                f"{table}.{column} is encrypted with key version {version}, which is "
                + ("retired" if state else "unknown to this database"),
                table=table,
                column=column,
                key_version=version,
            )
        return self.keys.decrypt_parsed(version, blob, table=table, column=column)

    def blind_index(self, kind: str, value: str | None) -> str | None:
        """See :meth:`FieldKeys.blind_index`."""
        return self.keys.blind_index(kind, value)


def _read_keys(engine: Engine) -> list[PrivacyKey]:
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(PrivacyKey).order_by(PrivacyKey.version)).all()
    except (OperationalError, ProgrammingError) as error:
        raise StorageError(
            "cannot read the encryption keyring (privacy_keys): is the database migrated? run `chainsleuth db upgrade`",
            reason=str(getattr(error, "orig", error)).splitlines()[0],
        ) from error
    return [
        PrivacyKey(
            version=row.version,
            state=row.state,
            check_value=row.check_value,
            created_at=row.created_at,
            retired_at=row.retired_at,
        )
        for row in rows
    ]


def crypto_for_dialect(dialect: Dialect) -> EngineCrypto:
    """The :class:`EngineCrypto` of the engine owning ``dialect`` (created on first use)."""
    crypto = dialect.__dict__.get(_CRYPTO_ATTRIBUTE)
    if crypto is None:
        reference = dialect.__dict__.get(ENGINE_ATTRIBUTE)
        if reference is None:
            raise ConfigurationError("personal fields can only be used through an engine connection")
        crypto = EngineCrypto(reference)
        dialect.__dict__[_CRYPTO_ATTRIBUTE] = crypto
    assert isinstance(crypto, EngineCrypto)
    return crypto


def engine_of(session: Session) -> Engine:
    """The engine a session is bound to."""
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def crypto_for(engine: Engine) -> EngineCrypto:
    """The :class:`EngineCrypto` of ``engine``."""
    engine.dialect.__dict__.setdefault(ENGINE_ATTRIBUTE, weakref.ref(engine))
    return crypto_for_dialect(engine.dialect)


def install_privacy(engine: Engine, *, master_key: bytes | None = None, key_file: Path | None = None) -> EngineCrypto:
    """Encrypt ``engine``'s personal fields with ``master_key`` (or the key in ``key_file``).

    With neither, the process default (:func:`set_default_master_key`) or the configured key file is used.
    Call it once after creating the engine, before any session uses it.
    """
    if master_key is None and key_file is not None:
        master_key = read_key_file(key_file)
    return _attach(engine, EngineCrypto(weakref.ref(engine), master_key))


def configure_privacy(engine: Engine, settings: Settings) -> EngineCrypto:
    """Use the key file of ``settings`` for ``engine`` (read on first use), unless a process-wide default key
    was set (:func:`set_default_master_key`, as the test suite does).

    What the app (``create_app``) and the demo call right after creating their engine, so that an engine built
    from explicit settings does not fall back to the process's global settings.
    """
    return _attach(engine, EngineCrypto(weakref.ref(engine), key_file=settings.resolved_key_file))


def _attach(engine: Engine, crypto: EngineCrypto) -> EngineCrypto:
    engine.dialect.__dict__[ENGINE_ATTRIBUTE] = weakref.ref(engine)
    engine.dialect.__dict__[_CRYPTO_ATTRIBUTE] = crypto
    return crypto


def ensure_keyring(engine: Engine) -> EngineCrypto:
    """Record key version 1 (with its check value) if the keyring is empty, and check the master key.

    Call outside any open transaction: on SQLite it writes.
    """
    crypto = crypto_for(engine)
    if not _read_keys(engine):
        try:
            with engine.begin() as connection:
                connection.execute(
                    insert(PrivacyKey).values(
                        version=1, state="active", check_value=crypto.keys.check_value(1), created_at=utcnow()
                    )
                )
        except DBIntegrityError:
            pass  # another process recorded it first; refresh() checks it against our key
    crypto.refresh()
    return crypto
