"""Key rotation: re-encrypt every personal value under a new key version, resumably; retire old versions.

``rotate_key`` makes a new version active (the previous one becomes ``decrypt_only``, so everything keeps
decrypting during the rotation) and re-encrypts, table by table in primary-key order, every value whose
prefix is not the active version. Each batch commits on its own and the selection is "not yet at the active
version", so an interrupted rotation simply continues where it stopped when run again: a run that finds
values left over resumes instead of starting yet another version. Each value is rewritten with a
compare-and-set (``WHERE column = <old ciphertext>``), so a concurrent edit is never overwritten.

``retire_key`` then refuses the old version for good, but only once no value is encrypted with it. Processes
cache key states for up to ``keyring.REFRESH_SECONDS``; run ``rotate-key`` once more (it resumes, finding any
straggler written with the old key meanwhile) before retiring if services were running during the rotation.
Clear-text values left from before encryption (a database upgraded from schema 0002) are encrypted by the
same pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Engine, Table, and_, func, insert, or_, select, update

from chainsleuth.errors import ConflictError, InvalidInputError, NotFoundError
from chainsleuth.privacy import audit
from chainsleuth.privacy.columns import encrypted_columns
from chainsleuth.privacy.crypto import parse_ciphertext
from chainsleuth.privacy.fields import after_key, raw_table, tables_with_personal_fields
from chainsleuth.privacy.keyring import EngineCrypto, ensure_keyring
from chainsleuth.privacy.policy import Actor, SystemActor
from chainsleuth.store.models.audit import PrivacyKey
from chainsleuth.store.types import utcnow

#: ``progress(table, values_reencrypted_so_far)`` after every committed batch; raising stops the rotation.
RotationProgress = Callable[[str, int], None]
_SYSTEM = SystemActor("privacy")


@dataclass
class RotationReport:
    """What :func:`rotate_key` did."""

    active_version: int
    started_new_version: bool
    reencrypted: dict[str, int] = field(default_factory=dict)

    @property
    def values(self) -> int:
        return sum(self.reencrypted.values())


@dataclass(frozen=True)
class VersionStatus:
    """One key version and how many stored values use it."""

    version: int
    state: str
    values: int


@dataclass(frozen=True)
class KeyStatus:
    """Key versions, values per version, and clear-text values still waiting for encryption."""

    active_version: int
    versions: list[VersionStatus]
    unencrypted: int
    per_column: dict[str, dict[str, int]]


def _outdated(raw: Table, names: list[str], active: int) -> ColumnElement[bool]:
    prefix = f"v{active}:%"
    return or_(*(and_(raw.c[n].is_not(None), raw.c[n].not_like(prefix)) for n in names))


def count_outdated(engine: Engine, active: int) -> int:
    """Rows (over all tables) with at least one personal value not at version ``active``."""
    total = 0
    with engine.connect() as connection:
        for model_table in tables_with_personal_fields():
            names = encrypted_columns(model_table)
            raw = raw_table(model_table, names)
            total += int(
                connection.scalar(select(func.count()).select_from(raw).where(_outdated(raw, names, active))) or 0
            )
    return total


def _start_new_version(engine: Engine, crypto: EngineCrypto) -> int:
    with engine.begin() as connection:
        current = connection.execute(select(PrivacyKey.version, PrivacyKey.state)).all()
        new = int(max(row.version for row in current)) + 1
        connection.execute(update(PrivacyKey).where(PrivacyKey.state == "active").values(state="decrypt_only"))
        connection.execute(
            insert(PrivacyKey).values(
                version=new, state="active", check_value=crypto.keys.check_value(new), created_at=utcnow()
            )
        )
    crypto.refresh()
    return new


def rotate_key(
    engine: Engine,
    *,
    actor: Actor = _SYSTEM,
    batch_size: int = 1_000,
    progress: RotationProgress | None = None,
) -> RotationReport:
    """Start a rotation (or resume an unfinished one) and re-encrypt every personal value; see the module doc."""
    if batch_size < 1:
        raise InvalidInputError("batch_size must be positive", batch_size=batch_size)
    crypto = ensure_keyring(engine)
    active = crypto.active_version()
    started = count_outdated(engine, active) == 0
    if started:
        active = _start_new_version(engine, crypto)
    audit.record_independently(
        engine, actor, "privacy.rotate_key.start", "privacy_key", str(active), details={"new_version": started}
    )
    report = RotationReport(active_version=active, started_new_version=started)
    for model_table in tables_with_personal_fields():
        report.reencrypted[model_table.name] = _reencrypt_table(
            engine, crypto, model_table, active, batch_size, progress
        )
    audit.record_independently(
        engine, actor, "privacy.rotate_key.complete", "privacy_key", str(active), details=dict(report.reencrypted)
    )
    return report


def _reencrypt_table(
    engine: Engine,
    crypto: EngineCrypto,
    model_table: Table,
    active: int,
    batch_size: int,
    progress: RotationProgress | None,
) -> int:
    names = encrypted_columns(model_table)
    keys = [c.name for c in model_table.primary_key.columns]
    raw = raw_table(model_table, [*keys, *names])
    done = 0
    after: tuple[object, ...] | None = None
    while True:
        query = select(raw).where(_outdated(raw, names, active)).order_by(*(raw.c[k] for k in keys)).limit(batch_size)
        if after is not None:
            query = query.where(after_key(raw, keys, after))
        with engine.begin() as connection:
            rows = connection.execute(query).all()
            for row in rows:
                for name in names:
                    stored = getattr(row, name)
                    if stored is None or stored.startswith(f"v{active}:"):
                        continue
                    parsed = parse_ciphertext(stored)
                    plain = (
                        stored
                        if parsed is None  # clear text from before encryption
                        else crypto.decrypt(stored, table=model_table.name, column=name)
                    )
                    fresh = crypto.keys.encrypt(plain, table=model_table.name, column=name, version=active)
                    condition = [raw.c[k] == getattr(row, k) for k in keys] + [raw.c[name] == stored]
                    result = connection.execute(update(raw).where(*condition).values({name: fresh}))
                    done += int(getattr(result, "rowcount", 0) or 0)
        if not rows:
            return done
        after = tuple(getattr(rows[-1], k) for k in keys)
        if progress is not None:
            progress(model_table.name, done)


def retire_key(engine: Engine, version: int, *, actor: Actor = _SYSTEM) -> None:
    """Refuse key ``version`` from now on; ConflictError while it is active or values still use it."""
    crypto = ensure_keyring(engine)
    states = crypto.refresh()
    if version not in states:
        raise NotFoundError("no such key version", version=version)
    if states[version] == "active":
        raise ConflictError("the active key cannot be retired: rotate first (`chainsleuth privacy rotate-key`)")
    status = key_status(engine)
    still = next((v.values for v in status.versions if v.version == version), 0)
    if still:
        raise ConflictError(
            f"{still} values are still encrypted with key version {version}: run `chainsleuth privacy rotate-key` "
            "to finish the rotation first",
            version=version,
            values=still,
        )
    with engine.begin() as connection:
        connection.execute(
            update(PrivacyKey).where(PrivacyKey.version == version).values(state="retired", retired_at=utcnow())
        )
    crypto.refresh()
    audit.record_independently(engine, actor, "privacy.retire_key", "privacy_key", str(version))


def key_status(engine: Engine) -> KeyStatus:
    """Versions with their states and value counts, and clear-text values (needing ``rotate-key``)."""
    crypto = ensure_keyring(engine)
    states = crypto.refresh()
    counts = dict.fromkeys(states, 0)
    per_column: dict[str, dict[str, int]] = {}
    unencrypted = 0
    with engine.connect() as connection:
        for model_table in tables_with_personal_fields():
            for name in encrypted_columns(model_table):
                raw = raw_table(model_table, [name])
                column = raw.c[name]
                total = int(connection.scalar(select(func.count()).select_from(raw).where(column.is_not(None))) or 0)
                breakdown: dict[str, int] = {}
                for version in states:
                    n = int(
                        connection.scalar(select(func.count()).select_from(raw).where(column.like(f"v{version}:%")))
                        or 0
                    )
                    counts[version] += n
                    breakdown[f"v{version}"] = n
                plain = total - sum(breakdown.values())
                breakdown["unencrypted"] = plain
                unencrypted += plain
                per_column[f"{model_table.name}.{name}"] = breakdown
    versions = [VersionStatus(v, states[v], counts[v]) for v in sorted(states)]
    return KeyStatus(crypto.active_version(), versions, unencrypted, per_column)
