"""The trainee's investigation workspace: the analysts' queries, bound to one trainee's sandbox.

Why a workspace and not the analysts' pages: those run on the platform's chain store and database (real
customers) and need ``chain.read``, which police trainees do not hold. Here every query opens the trainee's own
sandbox explicitly (its SQLite file, its key, its chain store; never the settings or the environment), so a
trainee can investigate with the same engine (:mod:`chainsleuth.api.investigate`: trace, exposure, clusters;
the chain store's address and transaction lookups; the ledger, customers and monitoring alerts) without any
way to reach real data. The web pages (:mod:`chainsleuth.web.academy_workspace`) and the tests call this API.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from chainsleuth.academy.worlds import TraineeWorld
from chainsleuth.api import investigate
from chainsleuth.chain.attribution.store import tags_for
from chainsleuth.chain.tracing import Direction, Policy
from chainsleuth.errors import ConflictError, InvalidInputError, NotFoundError
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.alerts import MonitorAlert
from chainsleuth.store.models.exchange import Account, Customer, DepositAddress
from chainsleuth.store.models.ledger import LedgerEvent

POLICIES: tuple[Policy, ...] = ("poison", "haircut", "fifo")
DIRECTIONS: tuple[Direction, ...] = ("forward", "backward")
MAX_HOPS = 20
#: Ledger events listed on an account page (totals always cover all of them).
EVENT_LIMIT = 300


@dataclass
class Workspace:
    """One trainee's sandbox, open: its database session and chain store."""

    place: TraineeWorld
    session: Session
    store: ChainStore

    # -- chain -----------------------------------------------------------------------------------------------

    def _inv(self) -> investigate.Investigation:
        return investigate.investigation(self.session, self.store, self.place.chain_dir / "prices.csv")

    def chain(self, chain: str) -> str:
        return investigate.known_chain(self.store, chain)

    def address(self, chain: str, address: str, *, hops: int = 3) -> dict[str, Any]:
        """An address: activity, whose deposit address it is, tags, cluster (with attribution) and exposure."""
        chain = self.chain(chain)
        info = self.store.address_info(chain, address.strip())
        canonical = str(info.get("address", address.strip()))
        owner = self.session.get(DepositAddress, (chain, canonical))
        tags = tags_for(self.session, chain, [canonical]).get(canonical, [])
        inv = self._inv()
        local = investigate.address_id(self.store, chain, canonical)
        cluster: dict[str, Any] | None = None
        array = inv.clusters.get(chain)
        if array is not None and 0 <= local < len(array):
            cluster_id = int(array[local])
            attribution = inv.attributions.get(f"{chain}:{cluster_id}")
            cluster = {
                "id": cluster_id,
                "size": int((array == cluster_id).sum()),
                "label": attribution.label if attribution else None,
                "category": attribution.category if attribution else None,
            }
        result = investigate.exposure(inv, chain, [local], canonical, hops=hops)
        exposure = [
            {
                "category": c.category,
                "direction": c.direction,
                "share": c.direct_share + c.indirect_share,
                "direct_share": c.direct_share,
                "value_usd": c.value_usd,
                "evidence": [e.label or e.counterparty for e in c.evidence[:3]],
            }
            for c in sorted(result.categories, key=lambda c: -(c.direct_share + c.indirect_share))
        ]
        return {
            "chain": chain,
            "address": canonical,
            "info": info,
            "owner": {"account_id": owner.account_id, "customer_id": owner.customer_id} if owner else None,
            "tags": [
                {"label": t.label, "category": t.abuse or t.category, "source": t.source, "confidence": t.confidence}
                for t in tags
            ],
            "cluster": cluster,
            "exposure": {"hops": result.hops, "tier": result.tier, "categories": exposure},
        }

    def transaction(self, chain: str, tx_hash: str) -> dict[str, Any]:
        found = self.store.transaction(self.chain(chain), tx_hash.strip())
        if found is None:
            raise NotFoundError("transaction not in your world's chain store", chain=chain, tx_hash=tx_hash)
        return {"chain": chain, **found}

    def trace(
        self, chain: str, target: str, *, direction: str = "forward", policy: str = "poison", hops: int = 8
    ) -> dict[str, Any]:
        """Trace from an address or transaction: terminals (our accounts, tagged services) with amounts and paths."""
        if direction not in DIRECTIONS:
            raise InvalidInputError("direction must be forward or backward", direction=direction)
        if policy not in POLICIES:
            raise InvalidInputError("policy must be poison, haircut or fifo", policy=policy)
        if not 1 <= hops <= MAX_HOPS:
            raise InvalidInputError(f"hops must be between 1 and {MAX_HOPS}", hops=hops)
        result = investigate.run_trace(
            self._inv(),
            self.chain(chain),
            target.strip(),
            direction=direction,
            policy=policy,
            hops=hops,
        )
        terminals = []
        for terminal in result.terminals:
            is_ours = terminal.category == "exchange" and (terminal.label or "").startswith("our customer")
            terminals.append(
                {
                    "label": terminal.label or terminal.entity,
                    "account_id": terminal.entity if is_ours else None,
                    "reason": terminal.reason,
                    "category": terminal.category,
                    "chain": terminal.chain,
                    "address": terminal.address,
                    "asset": terminal.asset,
                    "amount": terminal.amount,
                    "amount_usd": terminal.amount_usd,
                    "share": terminal.share,
                    "paths": [
                        [
                            {
                                "tx_hash": h.tx_hash,
                                "from": h.from_address,
                                "to": h.to_address,
                                "value": h.value,
                                "asset": h.asset,
                                "chain": h.chain,
                            }
                            for h in path.hops
                        ]
                        for path in terminal.paths
                    ],
                }
            )
        return {
            "chain": chain,
            "target": target.strip(),
            "direction": direction,
            "policy": policy,
            "hops": hops,
            "traced_value": result.traced_value,
            "traced_asset": result.traced_asset,
            "terminal_count": result.terminal_count,
            "terminals": terminals,
        }

    # -- the sandbox's exchange ----------------------------------------------------------------------------

    def find_accounts(self, query: str) -> list[str]:
        """Account ids matching an account id, a customer id, a deposit address or a transaction hash."""
        text = query.strip()
        if not text:
            raise InvalidInputError("enter an account id, customer id, deposit address or transaction hash")
        found = set(
            self.session.scalars(
                select(Account.account_id).where(
                    or_(Account.account_id == text.upper(), Account.customer_id == text.upper())
                )
            )
        )
        found.update(
            self.session.scalars(
                select(DepositAddress.account_id).where(func.lower(DepositAddress.address) == text.lower())
            )
        )
        if not found and len(text) >= 32:
            found.update(
                self.session.scalars(
                    select(LedgerEvent.account_id).where(func.lower(LedgerEvent.tx_hash) == text.lower()).distinct()
                )
            )
        return sorted(found)

    def account(self, account_id: str) -> dict[str, Any]:
        """An account: its customer's profile, deposit addresses, balances, totals per event type and events."""
        row = self.session.get(Account, account_id.strip().upper())
        if row is None:
            raise NotFoundError("no such account in your world", account=account_id)
        totals = self.session.execute(
            select(LedgerEvent.event_type, func.count(), func.sum(LedgerEvent.usd_value))
            .where(LedgerEvent.account_id == row.account_id)
            .group_by(LedgerEvent.event_type)
            .order_by(LedgerEvent.event_type)
        ).all()
        events = self.session.scalars(
            select(LedgerEvent)
            .where(LedgerEvent.account_id == row.account_id, LedgerEvent.event_type != "login")
            .order_by(LedgerEvent.timestamp)
            .limit(EVENT_LIMIT)
        )
        deposits = self.session.scalars(select(DepositAddress).where(DepositAddress.account_id == row.account_id))
        return {
            "account_id": row.account_id,
            "account_type": row.account_type,
            "status": row.status,
            "opened_at": row.opened_at,
            "customer": self._profile(row.customer),
            "deposit_addresses": [{"chain": d.chain, "address": d.address} for d in deposits],
            "balances": [{"asset": b.asset, "balance": b.balance} for b in row.balances],
            "totals": [{"event_type": t, "count": int(n), "usd": float(usd or 0)} for t, n, usd in totals],
            "events": [
                {
                    "event_id": e.event_id,
                    "type": e.event_type,
                    "timestamp": e.timestamp,
                    "asset": e.asset,
                    "amount": e.amount,
                    "usd": e.usd_value,
                    "chain": e.chain,
                    "tx_hash": e.tx_hash,
                    "address": e.address,
                }
                for e in events
            ],
        }

    @staticmethod
    def _profile(customer: Customer) -> dict[str, Any]:
        return {
            "customer_id": customer.customer_id,
            "full_name": customer.full_name,
            "occupation": customer.occupation,
            "declared_annual_income_usd": customer.declared_annual_income_usd,
            "source_of_funds": customer.source_of_funds,
            "risk_rating": customer.risk_rating,
            "country_of_residence": customer.country_of_residence,
            "created_at": customer.created_at,
        }

    def customer(self, customer_id: str) -> dict[str, Any]:
        row = self.session.get(Customer, customer_id.strip().upper())
        if row is None:
            raise NotFoundError("no such customer in your world", customer=customer_id)
        return {
            **self._profile(row),
            "accounts": [a.account_id for a in row.accounts],
            "alerts": self.alerts(customer_id=row.customer_id),
        }

    def alerts(self, *, rule: str | None = None, customer_id: str | None = None) -> list[dict[str, Any]]:
        """The sandbox's monitoring alerts (the rules ran when the world was prepared), newest first."""
        query = select(MonitorAlert).order_by(MonitorAlert.last_event_at.desc())
        if rule:
            query = query.where(MonitorAlert.rule_id == rule)
        if customer_id:
            query = query.where(MonitorAlert.customer_id == customer_id)
        return [
            {
                "rule": a.rule_id,
                "severity": a.severity,
                "subject": f"{a.subject_type} {a.subject_id}",
                "customer_id": a.customer_id,
                "score": a.score,
                "last_event_at": a.last_event_at,
                "explanation": a.explanation,
            }
            for a in self.session.scalars(query)
        ]

    def alert_rules(self) -> list[tuple[str, int]]:
        rows = self.session.execute(
            select(MonitorAlert.rule_id, func.count()).group_by(MonitorAlert.rule_id).order_by(MonitorAlert.rule_id)
        ).all()
        return [(str(rule), int(count)) for rule, count in rows]


@contextmanager
def open_workspace(place: TraineeWorld) -> Iterator[Workspace]:
    """Open ``place``'s sandbox with explicit settings: its own database file and key, its own chain store.

    A fresh engine without a pool per use: nothing stays open on a file an instructor may regenerate.
    """
    from chainsleuth.privacy.keyfile import read_key_file
    from chainsleuth.privacy.keyring import install_privacy

    if not place.ready or not place.database.is_file() or not place.chain_dir.is_dir():
        raise ConflictError("your world has not been generated yet", cohort=place.cohort, trainee=place.trainee)
    engine = create_engine(place.database_url, poolclass=NullPool)
    try:
        install_privacy(engine, master_key=read_key_file(place.key_file))
        with session_scope(engine) as session:
            yield Workspace(place, session, ChainStore(place.chain_dir))
    finally:
        engine.dispose()
