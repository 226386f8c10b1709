"""Ground truth: what really happened in each criminal story, kept apart from what the public can see.

Stories record references to ledger events (their ids are only known once booked) and transaction hashes;
everything is resolved and written at the end of the run.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainsleuth.world.entities import entity_id
from chainsleuth.world.ids import ROLES
from chainsleuth.world.ledger import Event, aid, cid
from chainsleuth.world.writers import iso_us

if TYPE_CHECKING:
    from chainsleuth.world.sim import World


@dataclass
class Incident:
    """One criminal story as it is being simulated."""

    incident_id: str
    typology: str
    description: str
    pattern: str | None = None
    perpetrators: list[int] = field(default_factory=list)
    victims: list[int] = field(default_factory=list)
    customers: list[tuple[int, str]] = field(default_factory=list)
    btc_txs: list[str] = field(default_factory=list)
    eth_txs: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    terminals: dict[int, float] = field(default_factory=dict)
    amount_usd: float = 0.0
    start: int | None = None
    end: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def touch(self, t: int) -> None:
        self.start = t if self.start is None else min(self.start, t)
        self.end = t if self.end is None else max(self.end, t)

    def btc(self, t: int, txh: str | None) -> str | None:
        if txh is not None:
            self.btc_txs.append(txh)
            self.touch(t)
        return txh

    def eth(self, t: int, txh: str | None) -> str | None:
        if txh is not None:
            self.eth_txs.append(txh)
            self.touch(t)
        return txh

    def event(self, ev: Event | None) -> Event | None:
        if ev is not None:
            self.events.append(ev)
            self.touch(ev.ts)
        return ev

    def customer(self, cust: int, role: str) -> None:
        if (cust, role) not in self.customers:
            self.customers.append((cust, role))


class Truth:
    """All incidents of a world."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.incidents: list[Incident] = []
        #: CoinJoins of ordinary people: (time, tx hash, denomination in sat, initiating person).
        self.coinjoins: list[tuple[int, str, int, int]] = []

    def coinjoin(self, t: int, txh: str, denomination: int, initiator: int) -> None:
        """Record a CoinJoin: legitimate privacy, so no incident, but it breaks the multi-input heuristic."""
        self.coinjoins.append((t, txh, denomination, initiator))

    def new(self, typology: str, description: str, pattern: str | None = None) -> Incident:
        incident = Incident(f"I{len(self.incidents) + 1:04d}", typology, description, pattern)
        self.incidents.append(incident)
        return incident

    def write(self, out: Path) -> dict[str, int]:
        """Write incidents.jsonl, customer_labels.csv, event_labels.csv, entities.csv, address_owners.csv and
        coinjoins.csv."""
        out.mkdir(parents=True, exist_ok=True)
        world = self.world
        acct_cust = world.ledger.account_customer
        counts: dict[str, int] = {}
        labels: list[tuple[str, str, str, str, str]] = []
        event_rows: list[tuple[str, str, str]] = []
        with (out / "incidents.jsonl").open("w", encoding="utf-8") as fh:
            for inc in self.incidents:
                booked = [e for e in inc.events if e.event_id]
                first_at: dict[int, int] = {}
                for e in booked:
                    c = acct_cust[e.account]
                    first_at[c] = min(first_at.get(c, e.ts), e.ts)
                terminals = [
                    {"customer_id": cid(acct_cust[a]), "account_id": aid(a), "amount_usd": round(v, 2)}
                    for a, v in sorted((inc.terminals or _terminals(inc, booked, acct_cust)).items())
                ]
                record = {
                    "incident_id": inc.incident_id,
                    "typology": inc.typology,
                    "description": inc.description,
                    "start": iso_us((inc.start or world.config.start_ts) * 1_000_000),
                    "end": iso_us((inc.end or world.config.start_ts) * 1_000_000),
                    "amount_usd": round(inc.amount_usd, 2),
                    "perpetrator_entity_ids": [entity_id(p) for p in inc.perpetrators],
                    "victim_entity_ids": [entity_id(v) for v in inc.victims],
                    "customer_ids": [{"customer_id": cid(c), "role": r} for c, r in inc.customers],
                    "tx_hashes": {"bitcoin": inc.btc_txs, "ethereum": inc.eth_txs},
                    "event_ids": sorted({e.event_id for e in booked}),
                    "terminal_accounts": terminals,
                    "pattern": inc.pattern,
                    "details": inc.details,
                }
                fh.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
                for c, role in inc.customers:
                    first = first_at.get(c, inc.start or world.config.start_ts)
                    labels.append((cid(c), inc.typology, inc.incident_id, iso_us(first * 1_000_000), role))
                for event_id in sorted({e.event_id for e in booked}):
                    event_rows.append((event_id, inc.incident_id, inc.typology))
        counts["incidents"] = len(self.incidents)
        counts["customer_labels"] = _csv(
            out / "customer_labels.csv",
            ("customer_id", "label", "incident_id", "first_illicit_at", "role"),
            labels,
        )
        counts["event_labels"] = _csv(out / "event_labels.csv", ("event_id", "incident_id", "typology"), event_rows)
        entity_rows = ((a, b, c, d, "true" if e else "false", f) for a, b, c, d, e, f in world.registry.rows())
        counts["entities"] = _csv(
            out / "entities.csv",
            ("entity_id", "kind", "name", "category", "illicit", "customer_id"),
            entity_rows,
        )
        counts["address_owners"] = self._owners(out / "address_owners.csv")
        counts["coinjoins"] = _csv(
            out / "coinjoins.csv",
            ("tx_hash", "timestamp", "denomination_sat", "initiator_entity_id"),
            ((h, iso_us(t * 1_000_000), d, entity_id(p)) for t, h, d, p in self.coinjoins),
        )
        return counts

    def _owners(self, path: Path) -> int:
        rows = 0
        with path.open("w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh, lineterminator="\n")
            out.writerow(("chain", "address", "entity_id", "role"))
            for book in (self.world.btc_book, self.world.eth_book):
                owners, roles = book.owner, book.role
                batch = []
                for i in range(book.count):
                    batch.append((book.chain, book.text(i), entity_id(int(owners[i])), ROLES[int(roles[i])]))
                    if len(batch) >= 50_000:
                        out.writerows(batch)
                        batch = []
                out.writerows(batch)
                rows += book.count
        return rows


def _terminals(inc: Incident, booked: list[Event], acct_cust: list[int]) -> dict[int, float]:
    """Where proceeds landed: deposits, fiat deposits and internal transfers to non-victim customers."""
    involved = {c for c, role in inc.customers if role != "victim"}
    landed: dict[int, float] = {}
    for e in booked:
        if e.kind in ("deposit", "fiat_deposit") and acct_cust[e.account] in involved:
            landed[e.account] = landed.get(e.account, 0.0) + (e.usd or 0.0)
        elif e.kind == "internal_transfer" and e.cp_account >= 0 and acct_cust[e.cp_account] in involved:
            landed[e.cp_account] = landed.get(e.cp_account, 0.0) + (e.usd or 0.0)
    return landed


def _csv(path: Path, header: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(header)
        for row in rows:
            out.writerow(row)
            count += 1
    return count
