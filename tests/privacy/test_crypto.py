"""The pure cryptography: field encryption with associated data, blind indexes, pseudonyms (no database)."""

from __future__ import annotations

import base64
import os

import pytest

from chainsleuth.errors import ConfigurationError, IntegrityError
from chainsleuth.privacy.crypto import (
    FieldKeys,
    ciphertext_version,
    normalise,
    normalise_email,
    normalise_name,
    normalise_phone,
    parse_ciphertext,
)

KEY = bytes(range(32))


def test_round_trip_and_format() -> None:
    keys = FieldKeys(KEY)
    stored = keys.encrypt("Zoë Ünicode-Example", table="customers", column="full_name", version=3)
    assert stored.startswith("v3:")
    assert "Zo" not in stored
    assert ciphertext_version(stored) == 3
    version, blob = parse_ciphertext(stored) or (0, b"")
    assert version == 3
    assert len(blob) == 12 + len("Zoë Ünicode-Example".encode()) + 16
    assert keys.decrypt(stored, table="customers", column="full_name") == "Zoë Ünicode-Example"
    # randomised: the same value encrypts differently every time (no equality leak)
    assert keys.encrypt("same", table="t", column="c", version=1) != keys.encrypt(
        "same", table="t", column="c", version=1
    )


@pytest.mark.parametrize(
    ("table", "column"), [("customers", "phone"), ("ledger_events", "email"), ("customer", "email")]
)
def test_associated_data_prevents_moving_a_ciphertext(table: str, column: str) -> None:
    keys = FieldKeys(KEY)
    stored = keys.encrypt("alice@example.org", table="customers", column="email", version=1)
    with pytest.raises(IntegrityError, match="moved from another column"):
        keys.decrypt(stored, table=table, column=column)


def test_version_prefix_is_authenticated() -> None:
    keys = FieldKeys(KEY)
    stored = keys.encrypt("alice@example.org", table="customers", column="email", version=1)
    with pytest.raises(IntegrityError):
        keys.decrypt("v2:" + stored[3:], table="customers", column="email")


def test_wrong_key_and_tampering_fail_clearly() -> None:
    stored = FieldKeys(KEY).encrypt("secret", table="customers", column="city", version=1)
    with pytest.raises(IntegrityError, match="master key is not the one"):
        FieldKeys(os.urandom(32)).decrypt(stored, table="customers", column="city")
    blob = bytearray(base64.b64decode(stored[3:]))
    blob[-1] ^= 1
    with pytest.raises(IntegrityError):
        FieldKeys(KEY).decrypt("v1:" + base64.b64encode(bytes(blob)).decode(), table="customers", column="city")
    with pytest.raises(IntegrityError, match="not chainsleuth ciphertext"):
        FieldKeys(KEY).decrypt("plain text", table="customers", column="city")
    with pytest.raises(ConfigurationError):
        FieldKeys(b"short")


def test_normalisation() -> None:
    assert normalise_email("  Alice@Example.ORG ") == "alice@example.org"
    assert normalise_phone("+49 151 000-0001") == normalise_phone("0049 (151) 0000001") == "491510000001"
    assert normalise_name("  ZOË   ünicode-Example ") == normalise_name("Zoe Unicode Example") == "zoe unicode example"
    assert normalise("document", "p-0000 0001") == "P00000001"
    assert normalise("ip", " 2001:DB8:0:0::1 ") == "2001:db8::1"
    with pytest.raises(ValueError, match="unknown blind-index kind"):
        normalise("shoe_size", "42")


def test_blind_index_is_keyed_deterministic_and_kind_separated() -> None:
    keys = FieldKeys(KEY)
    index = keys.blind_index("email", "Alice@Example.org ")
    assert index == keys.blind_index("email", "alice@example.org")
    assert index is not None
    assert len(index) == 32
    assert index != FieldKeys(os.urandom(32)).blind_index("email", "alice@example.org")
    assert keys.blind_index("name", "abc") != keys.blind_index("document", "abc")
    assert keys.blind_index("email", "   ") is None
    assert keys.blind_index("email", None) is None


def test_pseudonyms_are_stable_distinct_and_keyed() -> None:
    keys = FieldKeys(KEY)
    pseudonym = keys.pseudonym("C0000001")
    assert pseudonym == FieldKeys(KEY).pseudonym("C0000001")
    assert len(pseudonym) == len("CUST-XXXX-XXXX-XXXX")
    assert pseudonym.startswith("CUST-")
    many = {keys.pseudonym(f"C{number:07d}") for number in range(20_000)}
    assert len(many) == 20_000
    assert pseudonym != FieldKeys(os.urandom(32)).pseudonym("C0000001")
