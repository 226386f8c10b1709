"""The disclosure matrix: request type x legal basis x jurisdiction -> what may be disclosed and done.

Kept as data (``data/matrix.yaml``) rather than code because it is a legal decision the exchange's counsel owns
and changes per country; the code only applies it. The first matching rule wins, so specific rules go first and
a catch-all "nothing" rule ends the file. The same file holds the response clocks per request type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from chainsleuth.errors import MalformedFileError
from chainsleuth.store.models.lawenforcement import REQUEST_TYPES

DEFAULT_MATRIX = Path(__file__).resolve().parent / "data" / "matrix.yaml"
CATEGORIES = ("subscriber", "transactions", "login_ip", "wallet_addresses", "balances")
ACTIONS = ("preserve", "freeze", "seize", "unfreeze")
_RULE_KEYS = frozenset({"type", "basis", "jurisdiction", "disclose", "act"})


@dataclass(frozen=True)
class Rule:
    """One row of the matrix."""

    index: int
    types: frozenset[str] | None
    bases: frozenset[str] | None
    jurisdictions: frozenset[str] | None
    disclose: tuple[str, ...]
    act: tuple[str, ...]

    def matches(self, request_type: str, basis: str, jurisdiction: str) -> bool:
        return all(
            allowed is None or value in allowed
            for allowed, value in ((self.types, request_type), (self.bases, basis), (self.jurisdictions, jurisdiction))
        )


@dataclass(frozen=True)
class Decision:
    """What one request may obtain: allowed ∩ requested categories, allowed actions, and what was cut."""

    rule: int
    disclose: list[str]
    act: list[str]
    narrowed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Matrix:
    """A loaded matrix: rules, legal bases, clocks."""

    rules: tuple[Rule, ...]
    legal_bases: tuple[str, ...]
    deadlines_hours: dict[str, float]
    escalation_step_hours: float
    source: str

    def decide(self, request_type: str, basis: str, jurisdiction: str, requested: Sequence[str]) -> Decision:
        """The decision for a request (the fallback rule when none matches: nothing)."""
        for rule in self.rules:
            if rule.matches(request_type, basis, jurisdiction.upper()):
                wanted = list(dict.fromkeys(requested))
                allowed = [c for c in wanted if c in rule.disclose]
                return Decision(rule.index, allowed, list(rule.act), [c for c in wanted if c not in rule.disclose])
        return Decision(-1, [], [], list(requested))

    def clock_hours(self, request_type: str) -> float:
        """Hours from submission to the response deadline of ``request_type``."""
        return self.deadlines_hours.get(request_type, max(self.deadlines_hours.values(), default=240.0))


def _set(value: Any, known: Sequence[str] | None, where: str, path: str) -> frozenset[str] | None:
    if value == "*" or value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    cleaned = frozenset(str(v).strip() for v in values)
    if known is not None and not cleaned <= set(known):
        raise MalformedFileError(f"{where}: unknown value(s) {sorted(cleaned - set(known))}", path=path)
    return cleaned


def parse_matrix(text: str, *, path: str = "<matrix>") -> Matrix:
    """A matrix from YAML text; MalformedFileError naming the rule for anything unknown."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise MalformedFileError(f"not valid YAML: {error}", path=path) from error
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise MalformedFileError("a matrix needs a `rules:` list", path=path)
    bases = tuple(str(b) for b in document.get("legal_bases") or [])
    rules = []
    for index, raw in enumerate(document["rules"]):
        where = f"rule {index + 1}"
        if not isinstance(raw, dict):
            raise MalformedFileError(f"{where} is not a mapping", path=path)
        typos = sorted(set(map(str, raw)) - _RULE_KEYS)
        if typos:  # a misspelt key would silently mean "nothing": refuse it
            raise MalformedFileError(f"{where}: unknown key(s) {typos} (use {sorted(_RULE_KEYS)})", path=path)
        disclose = _set(raw.get("disclose") or [], CATEGORIES, where, path) or frozenset()
        act = _set(raw.get("act") or [], ACTIONS, where, path) or frozenset()
        rules.append(
            Rule(
                index,
                _set(raw.get("type"), REQUEST_TYPES, where, path),
                _set(raw.get("basis"), bases or None, where, path),
                _set(raw.get("jurisdiction"), None, where, path),
                tuple(c for c in CATEGORIES if c in disclose),
                tuple(a for a in ACTIONS if a in act),
            )
        )
    raw_deadlines = document.get("deadlines_hours") or {}
    if not isinstance(raw_deadlines, dict):
        raise MalformedFileError("`deadlines_hours` maps request types to hours", path=path)
    deadlines = {str(k): _hours(v, f"deadlines_hours.{k}", path) for k, v in raw_deadlines.items()}
    unknown = set(deadlines) - set(REQUEST_TYPES)
    if unknown:
        raise MalformedFileError(f"deadlines for unknown request types {sorted(unknown)}", path=path)
    step = _hours(document.get("escalation_step_hours") or 24, "escalation_step_hours", path)
    return Matrix(tuple(rules), bases, deadlines, step, path)


def _hours(value: Any, where: str, path: str) -> float:
    """A positive number of hours, or MalformedFileError naming the key."""
    try:
        hours = float(value)
    except (TypeError, ValueError):
        raise MalformedFileError(f"{where}: {value!r} is not a number of hours", path=path) from None
    if not hours > 0:
        raise MalformedFileError(f"{where}: the number of hours must be positive", path=path)
    return hours


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> Matrix:
    return parse_matrix(Path(path).read_text(encoding="utf-8"), path=path)


def deployment_matrix_path(data_dir: Path) -> Path:
    """Where a deployment keeps its own matrix: ``<data_dir>/lawenforcement/matrix.yaml``."""
    return Path(data_dir) / "lawenforcement" / "matrix.yaml"


def load_matrix(path: Path | None = None, *, data_dir: Path | None = None) -> Matrix:
    """The matrix in force, cached until its file changes.

    ``path`` (the CLI's ``--matrix``) wins; otherwise the deployment's own file under ``data_dir`` when it
    exists (see :func:`deployment_matrix_path`); otherwise the shipped conservative default. A file that is
    present but malformed is an error, never a silent fall-back to the default: the matrix is a legal decision.
    """
    if path is None and data_dir is not None and deployment_matrix_path(data_dir).is_file():
        path = deployment_matrix_path(data_dir)
    target = (path or DEFAULT_MATRIX).resolve()
    try:
        return _load(str(target), target.stat().st_mtime)
    except OSError as error:
        raise MalformedFileError(f"cannot read the matrix: {error.strerror}", path=str(target)) from error
