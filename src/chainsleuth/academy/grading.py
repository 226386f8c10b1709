"""Grading exercise answers against a world's answer key: partial credit, hints, time limits, refusals.

Pure functions (no database, no files), so the same rules grade answers submitted over HTTP, from the CLI and
offline from a folder of answer files, and tests can state them exactly. The rubric of every exercise is in
``content/exercises.yaml``; how each element is scored is documented in ``docs/academy.md``:

* **account(s)**: each true account named earns its share; each wrong account named costs half a share;
* **amount**: full points within the exercise's tolerance, half within twice the tolerance;
* **path**: recall (the hops of the true sequence named, out of the ``path_hops`` required; transaction hashes or
  the addresses they paid) × precision (named identifiers that are on the path) × order (a fifth of the points
  for naming them in the order the funds took), so listing every transaction of the chain earns almost nothing;
* **hints** cost their points, **lateness** costs a percentage per hour (or refuses the answer).

Refusals (:class:`AnswerRefusedError`) are for answers that must not be graded at all: a missing or foreign
submission token, identifiers that exist only in another trainee's world, or a late answer where the exercise
refuses them.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chainsleuth.academy.exercises import Exercise
from chainsleuth.academy.keys import same
from chainsleuth.academy.quiz import parse_number
from chainsleuth.errors import InvalidInputError, PolicyViolationError

_LEGAL_WORDS = re.compile(
    r"\b(section|sec\.|§|article|art\.|act|code|order|warrant|statute|law|regulation|directive|court|"
    r"prosecutor|magistrate)\b",
    re.IGNORECASE,
)
FREEZE_MAX_DAYS = 90
#: The share of the path points that depends on naming the hops in the order the funds took.
ORDER_SHARE = 0.2


class AnswerRefusedError(PolicyViolationError):
    """The answer is not graded: it is not the trainee's own work on their own world, or it came too late."""

    code = "answer_refused"


@dataclass(frozen=True)
class Component:
    """One rubric element of a grade."""

    name: str
    points: float
    max_points: float
    feedback: str


@dataclass
class Grade:
    """A graded answer: the score after hints and lateness, each component, and the explanation."""

    exercise_id: str
    score: float
    max_score: float
    raw_score: float
    hint_penalty: float
    late_penalty: float
    late_minutes: float
    components: list[Component] = field(default_factory=list)
    explanation: dict[str, Any] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise_id,
            "score": round(self.score, 2),
            "max_score": self.max_score,
            "percent": round(self.percent, 1),
            "raw_score": round(self.raw_score, 2),
            "hint_penalty": round(self.hint_penalty, 2),
            "late_penalty": round(self.late_penalty, 2),
            "late_minutes": round(self.late_minutes, 1),
            "components": [c.__dict__ for c in self.components],
            "explanation": self.explanation,
        }


def normalise_id(value: Any) -> str:
    """An account, address or hash as typed: trimmed; ethereum (``0x…``) lower-cased; base58 case kept."""
    text = str(value).strip()
    return text.lower() if text.lower().startswith("0x") else text


def _list(answer: Mapping[str, Any], *names: str) -> list[str]:
    items: list[str] = []
    for name in names:
        value = answer.get(name)
        if value is None:
            continue
        values = re.split(r"[\s,;>]+|->|→", value) if isinstance(value, str) else list(value)
        items.extend(normalise_id(v) for v in values if str(v).strip() and str(v).strip() not in ("-", "->"))
    return items


def named_identifiers(answer: Mapping[str, Any]) -> set[str]:
    """Every account, address and transaction an answer names (what the ownership check looks at)."""
    return set(_list(answer, "account", "accounts", "path", "addresses", "transactions"))


def check_token(token: Any, expected: str, others: Mapping[str, str]) -> None:
    """Refuse an answer whose submission token is missing, another trainee's, or not a token at all."""
    if not token:
        raise AnswerRefusedError("the submission token is missing: copy it from ASSIGNMENT.json in your world")
    given = str(token).strip()
    if same(given, expected):
        return
    if any(same(given, other) for other in others.values()):
        raise AnswerRefusedError(
            "this submission token is bound to another trainee's world: answers must come from your own world"
        )
    raise AnswerRefusedError("the submission token is not valid for your world")


def check_ownership(answer: Mapping[str, Any], own: set[str], others: Mapping[str, set[str]]) -> None:
    """Refuse an answer naming accounts, addresses or transactions that exist only in another trainee's world."""
    foreign = sorted(
        item for item in named_identifiers(answer) if item not in own and any(item in ids for ids in others.values())
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
        raise AnswerRefusedError(
            f"the answer names {len(foreign)} identifier(s) from another trainee's world, not yours: {shown}",
            foreign=foreign[:10],
        )


def _accounts(exercise: Exercise, key: Mapping[str, Any], answer: Mapping[str, Any]) -> Component:
    weight = exercise.rubric["account"]
    right = set(key["accounts"])
    given = set(_list(answer, "account", "accounts"))
    share = weight / len(right)
    hits, wrong = len(given & right), len(given - right)
    points = max(0.0, share * hits - 0.5 * share * wrong)
    if not given:
        note = "No account named."
    else:
        note = f"{hits} of {len(right)} account(s) right" + (
            f", {wrong} wrong (each costs half a share)." if wrong else "."
        )
    return Component("account", points, weight, note)


def _amount_points(given: float | None, true: float, tolerance_percent: float, weight: float) -> tuple[float, str]:
    if given is None:
        return 0.0, "No amount given."
    error = abs(given - true) / true * 100 if true else math.inf
    if error <= tolerance_percent:
        return weight, f"Within {tolerance_percent:g} % of the true amount."
    if error <= 2 * tolerance_percent:
        return weight / 2, f"Off by {error:.1f} %: half credit (full within {tolerance_percent:g} %)."
    return 0.0, f"Off by {error:.1f} % (full credit within {tolerance_percent:g} %)."


def _amount(answer: Mapping[str, Any]) -> float | None:
    raw = answer.get("amount_usd", answer.get("amount"))
    if raw is None or raw == "":
        return None
    return parse_number(raw)


def _ordered_fraction(positions: list[int]) -> float:
    """The share of ``positions`` in the true order: longest increasing run (not necessarily contiguous) / count."""
    if not positions:
        return 0.0
    tails: list[int] = []
    for position in positions:
        index = bisect.bisect_left(tails, position)
        tails[index : index + 1] = [position]
    return len(tails) / len(positions)


def _path(exercise: Exercise, key: Mapping[str, Any], answer: Mapping[str, Any]) -> Component:
    """Recall × precision × order: extra identifiers and a shuffled sequence cost points, not only missing hops.

    The path may be named by transaction hashes or by the addresses they paid (whichever matches more). Recall is
    hits out of the ``path_hops`` required; precision is the share of named identifiers that belong to the true
    path (the facts given in the brief are ignored); order credit is the share of hits named in the true order,
    and is worth :data:`ORDER_SHARE` of the points.
    """
    weight = exercise.rubric["path"]
    given_facts = {normalise_id(v) for v in key.get("given", {}).values()}
    named: list[str] = []
    for item in _list(answer, "path", "transactions", "addresses"):
        if item not in given_facts and item not in named:
            named.append(item)
    txs = [normalise_id(h) for h in key["path"]]
    addresses = [normalise_id(a) for a in key["path_addresses"]]
    tx_hits = [txs.index(n) for n in named if n in txs]
    address_hits = [addresses.index(n) for n in named if n in addresses]
    positions = tx_hits if len(tx_hits) >= len(address_hits) else address_hits
    valid = set(txs) | set(addresses)
    wrong = sum(1 for n in named if n not in valid)
    hits = len(positions)
    required = max(1, min(exercise.path_hops or len(txs), len(txs)))
    recall = min(1.0, hits / required)
    precision = (len(named) - wrong) / len(named) if named else 0.0
    order = _ordered_fraction(positions)
    points = weight * recall * precision * ((1 - ORDER_SHARE) + ORDER_SHARE * order)
    note = f"{min(hits, required)} of {required} required hops named"
    if wrong:
        note += f"; {wrong} of {len(named)} named identifiers are not on the path (precision {precision:.0%})"
    if hits > 1 and order < 1:
        note += f"; {order:.0%} in the right order"
    return Component("path", points, weight, note + ".")


def _freeze(exercise: Exercise, key: Mapping[str, Any], answer: Mapping[str, Any], today: date) -> list[Component]:
    rubric = exercise.rubric
    parts: list[Component] = []
    basis = str(answer.get("legal_basis") or "").strip()
    if len(basis) >= 15 and _LEGAL_WORDS.search(basis):
        parts.append(Component("legal_basis", rubric["legal_basis"], rubric["legal_basis"], "Names a legal basis."))
    elif basis:
        note = "Too vague: name the statute or order and the offence."
        parts.append(Component("legal_basis", rubric["legal_basis"] / 2, rubric["legal_basis"], note))
    else:
        parts.append(Component("legal_basis", 0.0, rubric["legal_basis"], "No legal basis: the request is invalid."))
    target = set(_list(answer, "account", "accounts"))
    right = set(key["accounts"])
    ok = bool(target) and target <= right
    note = "The target account is the one the funds reached." if ok else "The target is not the account traced."
    parts.append(Component("account", rubric["account"] if ok else 0.0, rubric["account"], note))
    amount, traced = _amount(answer), float(key["amount_usd"])
    tolerance = exercise.amount_tolerance_percent / 100
    if amount is not None and traced * 0.5 <= amount <= traced * (1 + tolerance):
        parts.append(Component("amount", rubric["amount"], rubric["amount"], "Proportionate: at most what was traced."))
    else:
        note = "Missing." if amount is None else "Freeze at most the traced proceeds (and not a token amount)."
        parts.append(Component("amount", 0.0, rubric["amount"], note))
    text = str(answer.get("justification") or "")
    evidence = {normalise_id(x) for x in [*key["path"], *key["path_addresses"]]}
    cited = {normalise_id(w) for w in re.findall(r"[0-9A-Za-z]{26,}", text)} & evidence
    if len(text) >= 40 and cited:
        parts.append(Component("justification", rubric["justification"], rubric["justification"], "Cites evidence."))
    elif len(text) >= 40:
        note = "Explains but cites no transaction or address of the trace."
        parts.append(Component("justification", rubric["justification"] / 2, rubric["justification"], note))
    else:
        parts.append(Component("justification", 0.0, rubric["justification"], "Missing or too short."))
    try:
        deadline = date.fromisoformat(str(answer.get("deadline") or "")[:10])
        days = (deadline - today).days
        ok, note = 0 < days <= FREEZE_MAX_DAYS, f"{days} days ahead (valid: 1 to {FREEZE_MAX_DAYS})."
    except ValueError:
        ok, note = False, "No deadline as an ISO date (YYYY-MM-DD)."
    parts.append(Component("deadline", rubric["deadline"] if ok else 0.0, rubric["deadline"], note))
    return parts


def explain(key: Mapping[str, Any]) -> dict[str, Any]:
    """What really happened: shown to the trainee after their answer is graded."""
    return {
        "story": key["description"],
        "accounts": key["accounts"],
        "amount_usd": key["amount_usd"],
        "path": key["path"],
        "path_addresses": key["path_addresses"],
    }


def late_minutes(started_at: datetime, submitted_at: datetime, exercise: Exercise) -> float:
    """Minutes past the exercise's time limit (0 when on time)."""
    used = (submitted_at - started_at).total_seconds() / 60
    return max(0.0, used - exercise.time_limit_minutes)


def grade_exercise(
    exercise: Exercise,
    key: Mapping[str, Any],
    answer: Mapping[str, Any],
    *,
    started_at: datetime,
    submitted_at: datetime,
    hints_used: int = 0,
) -> Grade:
    """Grade ``answer`` for ``exercise`` against ``key`` (token and ownership are checked by the caller)."""
    late = late_minutes(started_at, submitted_at, exercise)
    if late > 0 and exercise.late_policy == "refuse":
        raise AnswerRefusedError(
            f"the time limit of {exercise.time_limit_minutes} minutes has passed ({late:.0f} minutes late); "
            "this exercise refuses late answers"
        )
    if not isinstance(answer, Mapping):
        raise InvalidInputError("an answer is a JSON object")
    if exercise.id == "freeze-request":
        components = _freeze(exercise, key, answer, submitted_at.date())
    else:
        components = [_accounts(exercise, key, answer)]
        if "amount" in exercise.rubric:
            points, note = _amount_points(
                _amount(answer), float(key["amount_usd"]), exercise.amount_tolerance_percent, exercise.rubric["amount"]
            )
            components.append(Component("amount", points, exercise.rubric["amount"], note))
        if "path" in exercise.rubric:
            components.append(_path(exercise, key, answer))
    raw = sum(c.points for c in components)
    hint_penalty = min(raw, sum(h.cost for h in exercise.hints[:hints_used]))
    after_hints = raw - hint_penalty
    late_percent = min(exercise.late_max_percent, exercise.late_percent_per_hour * late / 60) if late else 0.0
    late_penalty = after_hints * late_percent / 100
    return Grade(
        exercise_id=exercise.id,
        score=max(0.0, after_hints - late_penalty),
        max_score=exercise.max_score,
        raw_score=raw,
        hint_penalty=hint_penalty,
        late_penalty=late_penalty,
        late_minutes=late,
        components=components,
        explanation=explain(key),
    )
