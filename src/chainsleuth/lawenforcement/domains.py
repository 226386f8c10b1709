"""Is this e-mail address on an official agency domain? Exact and subdomain matches only, look-alikes named.

Fake law-enforcement requests usually come from addresses that *look* official: ``po1ice.example`` (a digit for
a letter), ``pоlice.example`` (a Cyrillic ``о``, sent as punycode ``xn--plice-…``), ``police.example.evil.com``
(the official name as a subdomain of the attacker's domain) or ``police-example.com``. The rule is therefore
strict and simple: the address's domain, lower-cased and IDNA-decoded, must *equal* a registry domain or end with
``"." + registry domain``. Everything else is refused, and the refusal says why (look-alike of which registry
domain, registry name embedded in a foreign domain, internationalised domain), which the risk score and the
audit log keep.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from chainsleuth.errors import InvalidInputError

_LOCAL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
#: Characters that render like ASCII letters (a small, practical subset of Unicode's confusables).
_CONFUSABLES = str.maketrans(
    {
        "0": "o", "1": "l", "3": "e", "5": "s", "7": "t", "|": "l", "i": "l", "ı": "l", "í": "l",
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "l", "ј": "j", "ѕ": "s",
        "ԁ": "d", "ɡ": "g", "ο": "o", "α": "a", "ν": "v", "ε": "e", "ι": "l", "κ": "k", "τ": "t", "ρ": "p",
        "_": "-",
    }
)  # fmt: skip


@dataclass(frozen=True)
class DomainCheck:
    """The verdict on one e-mail address: accepted for ``agency_id`` via ``matched_domain``, or why not."""

    email: str
    domain: str
    accepted: bool
    agency_id: str | None = None
    matched_domain: str | None = None
    reasons: list[str] = field(default_factory=list)


def normalise_domain(domain: str) -> str:
    """Lower-case, NFKC, no trailing dot, punycode labels decoded to Unicode (``xn--…`` -> what it shows)."""
    text = unicodedata.normalize("NFKC", domain).strip().rstrip(".").lower()
    labels = []
    for label in text.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                label = label  # undecodable punycode: kept as is, and it will not match anything
        labels.append(label)
    return ".".join(labels)


def split_email(email: str) -> tuple[str, str]:
    """``(local part, normalised domain)``; InvalidInputError for something that is not an address."""
    text = email.strip()
    if text.count("@") != 1:
        raise InvalidInputError("not an e-mail address", field="email")
    local, domain = text.split("@")
    if not _LOCAL.match(local) or not domain:
        raise InvalidInputError("not an e-mail address", field="email")
    return local, normalise_domain(domain)


def normalise_address(email: str) -> str:
    """The address as stored and checked: NFKC over the whole text, the domain as :func:`normalise_domain` makes it.

    Compatibility characters must not survive into storage: ``a@police\u2024gov`` (ONE DOT LEADER) is checked as
    ``police.gov`` and so must be kept as ``a@police.gov``, or the stored address is not the one that was checked.
    """
    local, domain = split_email(unicodedata.normalize("NFKC", email))
    return f"{local}@{domain}"


def skeleton(domain: str) -> str:
    """What a domain looks like to a hurried reader: confusable characters folded, ``rn``→``m``, ``vv``→``w``."""
    folded = "".join(
        ch for ch in unicodedata.normalize("NFKD", domain.lower()) if not unicodedata.combining(ch)
    ).translate(_CONFUSABLES)
    return folded.replace("rn", "m").replace("vv", "w")


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment), enough for one-or-two-typo look-alikes."""
    rows = [list(range(len(b) + 1))] + [[i] + [0] * len(b) for i in range(1, len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


def is_valid_hostname(domain: str) -> bool:
    """Whether ``domain`` is a plain ASCII host name with at least two labels."""
    labels = domain.split(".")
    return len(labels) >= 2 and all(_LABEL.match(label) for label in labels)


def check_email(email: str, registry: Mapping[str, str]) -> DomainCheck:
    """Check ``email`` against ``registry`` (official domain -> agency id).

    Accepted only on an exact or subdomain match; otherwise the reasons name look-alikes and tricks.
    """
    _, domain = split_email(email)
    official = {normalise_domain(d): agency for d, agency in registry.items()}
    for candidate in sorted(official, key=len, reverse=True):
        if domain == candidate or domain.endswith("." + candidate):
            return DomainCheck(email, domain, True, official[candidate], candidate)
    reasons: list[str] = []
    if not domain.isascii():
        reasons.append("internationalised (punycode) domain: letters from other scripts can imitate an official one")
    elif not is_valid_hostname(domain):
        reasons.append("not a valid host name")
    shape = skeleton(domain)
    for candidate in sorted(official):
        labels = domain.split(".")
        if candidate in {".".join(labels[i:j]) for i in range(len(labels)) for j in range(i + 1, len(labels) + 1)}:
            reasons.append(f"contains the official domain {candidate} inside another domain (subdomain trick)")
        elif domain.endswith(candidate):
            reasons.append(f"ends like the official domain {candidate} but is a different domain, not a subdomain "
                           "of it (prefix look-alike)")  # fmt: skip
        elif skeleton(candidate) == shape or skeleton(candidate) in [*shape.split(".", 1)[-1:], shape]:
            reasons.append(f"looks like the official domain {candidate} (confusable characters)")
        elif _distance(shape, skeleton(candidate)) <= 2 or candidate.replace(".", "-") in domain:
            reasons.append(f"resembles the official domain {candidate} (look-alike spelling)")
    if not reasons or all(r.startswith("not a valid") for r in reasons):
        reasons.append("domain is not on the agency registry")
    return DomainCheck(email, domain, False, None, None, reasons)
