"""Exercise definitions and the answer keys extracted from a world's ground truth.

Why answer keys are extracted once, when the world is generated: grading then needs no chain scan, and the key
is written next to the ground truth in the instructor-only part of the data dir, never inside the trainee's
sandbox (a trainee who could read ``incidents.jsonl`` would have every answer). The key holds, per exercise, the
true accounts, the amount that reached them, the hop sequence (transaction hashes in order, and the addresses
those transactions paid) and the facts a trainee is given to start from (the victim's address, say).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from chainsleuth.academy.courses import CONTENT_DIR
from chainsleuth.errors import InvalidInputError, NotFoundError

LATE_POLICIES = ("penalise", "refuse")
#: Which chains carry the hop sequence of a typology (the thief's later USDT withdrawal is not part of the trace).
_PATH_CHAINS = {"phone_theft": ("bitcoin",), "ransomware": ("bitcoin",), "unexplained_wealth": ("ethereum",)}


@dataclass(frozen=True)
class Hint:
    text: str
    cost: float


@dataclass(frozen=True)
class Exercise:
    """One hands-on exercise: what to find, how long it may take, the hints and the rubric."""

    id: str
    title: str
    typology: str
    brief: str
    time_limit_minutes: int
    late_policy: str
    late_percent_per_hour: float
    late_max_percent: float
    rubric: dict[str, float]
    amount_tolerance_percent: float
    hints: tuple[Hint, ...]
    path_hops: int = 0
    given: tuple[str, ...] = field(default_factory=tuple)

    @property
    def max_score(self) -> float:
        return float(sum(self.rubric.values()))

    def public(self) -> dict[str, Any]:
        """What a trainee may see before submitting (hints only as their cost, not their text)."""
        return {
            "id": self.id,
            "title": self.title,
            "brief": self.brief,
            "time_limit_minutes": self.time_limit_minutes,
            "late_policy": self.late_policy,
            "rubric": dict(self.rubric),
            "hint_costs": [h.cost for h in self.hints],
        }


def _exercise(raw: dict[str, Any]) -> Exercise:
    late = raw.get("late") or {"policy": "refuse"}
    if late.get("policy") not in LATE_POLICIES:
        raise InvalidInputError(f"exercise {raw.get('id')}: late policy must be one of {LATE_POLICIES}")
    return Exercise(
        id=str(raw["id"]),
        title=str(raw["title"]),
        typology=str(raw["typology"]),
        brief=str(raw["brief"]).strip(),
        time_limit_minutes=int(raw["time_limit_minutes"]),
        late_policy=str(late["policy"]),
        late_percent_per_hour=float(late.get("percent_per_hour", 0)),
        late_max_percent=float(late.get("max_percent", 100)),
        rubric={str(k): float(v) for k, v in raw["rubric"].items()},
        amount_tolerance_percent=float(raw.get("amount_tolerance_percent", 5)),
        hints=tuple(Hint(str(h["text"]), float(h["cost"])) for h in raw.get("hints", [])),
        given=tuple(str(g) for g in raw.get("given", [])),
        path_hops=int(raw.get("path_hops", 0)),
    )


@lru_cache(maxsize=1)
def exercises() -> dict[str, Exercise]:
    """The packaged exercises by id (``content/exercises.yaml``)."""
    raw = yaml.safe_load((CONTENT_DIR / "exercises.yaml").read_text(encoding="utf-8"))
    loaded = [_exercise(item) for item in raw["exercises"]]
    return {e.id: e for e in loaded}


def get_exercise(exercise_id: str) -> Exercise:
    try:
        return exercises()[exercise_id]
    except KeyError:
        raise NotFoundError("no such exercise", exercise=exercise_id, known=sorted(exercises())) from None


# -- reading a world ---------------------------------------------------------------------------------------


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _tx_addresses(world: Path, hashes: set[str]) -> dict[str, list[str]]:
    """For each transaction in ``hashes``: the addresses it paid (bitcoin outputs; ethereum recipients)."""
    paid: dict[str, list[str]] = {}
    for tx in _jsonl(world / "bitcoin" / "transactions.jsonl"):
        if tx["hash"] in hashes:
            paid[tx["hash"]] = [a for out in tx.get("outputs", []) for a in out.get("addresses") or []]
    for tx in _jsonl(world / "ethereum" / "transactions.jsonl"):
        if tx["hash"] in hashes and tx.get("to_address"):
            paid.setdefault(tx["hash"], []).append(str(tx["to_address"]).lower())
    for transfer in _jsonl(world / "ethereum" / "token_transfers.jsonl"):
        if transfer["transaction_hash"] in hashes:
            paid.setdefault(transfer["transaction_hash"], []).append(str(transfer["to_address"]).lower())
    return paid


def world_identifiers(world: Path) -> set[str]:
    """Every transaction hash, address and account id of a world (to recognise another trainee's answers)."""
    found: set[str] = set()
    for tx in _jsonl(world / "bitcoin" / "transactions.jsonl"):
        found.add(tx["hash"])
        for side in ("inputs", "outputs"):
            for item in tx.get(side, []):
                found.update(item.get("addresses") or [])
    for tx in _jsonl(world / "ethereum" / "transactions.jsonl"):
        found.add(tx["hash"])
        found.update(str(tx[k]).lower() for k in ("from_address", "to_address") if tx.get(k))
    for transfer in _jsonl(world / "ethereum" / "token_transfers.jsonl"):
        found.update(str(transfer[k]).lower() for k in ("from_address", "to_address"))
    accounts = world / "exchange" / "accounts.parquet"
    if accounts.exists():
        found.update(str(a) for a in pq.read_table(accounts, columns=["account_id"]).column(0).to_pylist())
    return found


def _first_tag(world: Path, pack: str, category: str = "perpetrator") -> str | None:
    path = world / "tagpacks" / f"{pack}.yaml"
    if not path.exists():
        return None
    for tag in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("tags", []):
        if tag.get("category") == category:
            return str(tag["address"])
    return None


def _incident(incidents: list[dict[str, Any]], typology: str) -> dict[str, Any]:
    for incident in incidents:
        if incident["typology"] == typology:
            return incident
    raise NotFoundError("the world has no incident of this typology", typology=typology)


def _path(incident: dict[str, Any]) -> list[str]:
    """The incident's hop sequence: its transaction hashes on the chains that carry the trace."""
    chains = _PATH_CHAINS.get(incident["typology"], ("bitcoin", "ethereum"))
    return [h for chain in chains for h in incident["tx_hashes"].get(chain, [])]


def build_answer_keys(world: Path) -> dict[str, Any]:
    """Answer keys of every exercise for ``world`` (which must still have its ``ground_truth/``)."""
    incidents = list(_jsonl(world / "ground_truth" / "incidents.jsonl"))
    if not incidents:
        raise NotFoundError("no ground truth in this world", path=str(world))
    paths = {exercise.id: _path(_incident(incidents, exercise.typology)) for exercise in exercises().values()}
    paid = _tx_addresses(world, {h for path in paths.values() for h in path})  # one scan of the chain files
    tagged = {"ransom_address": _first_tag(world, "ransomware"), "hacker_address": _first_tag(world, "hacks")}
    keys: dict[str, Any] = {}
    for exercise in exercises().values():
        incident = _incident(incidents, exercise.typology)
        terminals = incident["terminal_accounts"]
        path = paths[exercise.id]
        details = incident.get("details") or {}
        path_addresses = [details["victim_address"]] if "victim_address" in details else []
        for tx in path:
            path_addresses.extend(a for a in paid.get(tx, []) if a not in path_addresses)
        amount = sum(float(t["amount_usd"]) for t in terminals)
        if exercise.typology in ("unexplained_wealth", "structuring"):
            amount = float(incident["amount_usd"])
        given = {"victim_address": details.get("victim_address"), **tagged}
        keys[exercise.id] = {
            "incident_id": incident["incident_id"],
            "accounts": [t["account_id"] for t in terminals],
            "account_amounts": {t["account_id"]: float(t["amount_usd"]) for t in terminals},
            "customers": [t["customer_id"] for t in terminals],
            "amount_usd": round(amount, 2),
            "path": path,
            "path_addresses": path_addresses,
            "given": {name: given[name] for name in exercise.given if given.get(name)},
            "description": incident["description"],
        }
    return keys
