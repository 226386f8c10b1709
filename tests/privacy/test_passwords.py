"""argon2id password hashing: hashes verify, are salted, and report outdated parameters."""

from __future__ import annotations

import pytest

from chainsleuth.privacy import passwords

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def test_hash_verifies_only_the_right_password() -> None:
    hashed = passwords.hash_password("s3cret pass phrase")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "s3cret pass phrase")
    assert not passwords.verify_password(hashed, "s3cret pass phrasE")
    assert not passwords.verify_password(hashed, "")


def test_hashes_are_salted() -> None:
    assert passwords.hash_password("same") != passwords.hash_password("same")


def test_garbage_hash_never_verifies_nor_raises() -> None:
    assert not passwords.verify_password("not-a-hash", "anything")
    assert passwords.needs_rehash("not-a-hash")


def test_empty_password_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        passwords.hash_password("")


def test_needs_rehash_after_parameters_change() -> None:
    hashed = passwords.hash_password("pass phrase")
    assert not passwords.needs_rehash(hashed)
    passwords.configure(time_cost=2, memory_cost=2048, parallelism=1)
    assert passwords.needs_rehash(hashed)
    assert passwords.verify_password(hashed, "pass phrase")  # old hashes still verify


def test_default_parameters_are_production_strength() -> None:
    default = passwords.default_hasher()
    assert default.type.name == "ID"
    assert default.memory_cost >= 19 * 1024
    assert default.time_cost >= 2
