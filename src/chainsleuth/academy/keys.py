"""The academy's secrets: per-trainee world seeds, submission tokens and certificate codes, all HMAC-SHA256.

Why HMAC under one academy key (derived from the platform's ``secret_key`` with a fixed label): seeds must be
reproducible by the instructor yet unpredictable to trainees (a trainee who could compute a classmate's seed
could regenerate their world and its answers), and tokens and certificate codes must be unforgeable. Labels
separate the uses, so a seed can never be replayed as a token or a code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SEED_BITS = 62
TOKEN_PREFIX = "CSA1"
CODE_PREFIX = "CSC"


def academy_key(secret: str | bytes) -> bytes:
    """The academy key derived from the platform secret (``Settings.secret_key``)."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(raw, b"chainsleuth/academy/v1", hashlib.sha256).digest()


def _mac(key: bytes, *parts: str) -> bytes:
    return hmac.new(key, "|".join(parts).encode("utf-8"), hashlib.sha256).digest()


def b32(raw: bytes, length: int) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")[:length]


def world_seed(key: bytes, cohort: str, trainee: str) -> int:
    """The seed of ``trainee``'s world in ``cohort``: different per trainee, stable, not guessable."""
    return int.from_bytes(_mac(key, "seed", cohort, trainee)[:8], "big") >> (64 - SEED_BITS)


def customer_count(key: bytes, cohort: str, trainee: str, base: int) -> int:
    """Ordinary customers in the trainee's world: ``base`` ±20 %, so criminal account ids differ between worlds.

    Account ids are sequential (``A0000217``); with the same number of customers every world would put its thief
    near the same id and a copied account id would look right.
    """
    spread = max(1, base // 5)
    offset = int.from_bytes(_mac(key, "customers", cohort, trainee)[:4], "big") % (2 * spread + 1)
    return max(50, base - spread + offset)


def id_key(key: bytes, cohort: str, trainee: str) -> bytes:
    """The key of the permutation that renumbers accounts and customers in ``trainee``'s sandbox."""
    return _mac(key, "ids", cohort, trainee)


def submission_token(key: bytes, cohort: str, trainee: str, seed: int) -> str:
    """The token a trainee sends with every answer; it binds the answer to their own world's seed."""
    return f"{TOKEN_PREFIX}-{b32(_mac(key, 'token', cohort, trainee, str(seed)), 20)}"


def certificate_mac(key: bytes, serial: str, holder: str, course: str, issued_on: str) -> str:
    """The MAC binding a certificate's serial to its holder, course and date."""
    return b32(_mac(key, "certificate", serial, holder, course, issued_on), 20)


def certificate_code(serial: str, mac: str) -> str:
    """The code printed on the certificate: ``CSC-<serial>-<mac in groups of five>``."""
    groups = "-".join(mac[i : i + 5] for i in range(0, len(mac), 5))
    return f"{CODE_PREFIX}-{serial}-{groups}"


def parse_certificate_code(code: str) -> tuple[str, str] | None:
    """Split a code into serial and MAC; ``None`` when it is not shaped like one."""
    parts = code.strip().upper().split("-")
    if len(parts) < 3 or parts[0] != CODE_PREFIX:
        return None
    return parts[1], "".join(parts[2:])


def same(a: str, b: str) -> bool:
    """Constant-time comparison (codes and tokens are secrets)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
