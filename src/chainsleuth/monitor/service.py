"""Monitoring over the relational store: the one function the CLI, the demo and the web pages call to run rules.

It assembles what the engines need from the store (customer and account profiles without personal data, the
attribution-backed exposure provider and, given the chain store, the chain engine's indirect exposure of every
deposit computed once in bulk: :mod:`chainsleuth.monitor.indirect`), runs the batch or streaming engine over the
stored ledger, builds the de-duplicated alert book and stores alerts and shadow hits, all in the caller's
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from chainsleuth.monitor.alerts import build_alerts
from chainsleuth.monitor.alerts.store import StoreReport, apply_mode_overrides, store_alerts
from chainsleuth.monitor.engine.batch import run_batch, store_events
from chainsleuth.monitor.engine.context import EngineContext
from chainsleuth.monitor.engine.streaming import StreamingState, run_streaming
from chainsleuth.monitor.exposure import store_provider
from chainsleuth.monitor.rules import RuleSet
from chainsleuth.store.models.exchange import Account, Customer

if TYPE_CHECKING:
    from chainsleuth.store.chainstore import ChainStore

#: Profile columns the rules may read. Nationality is personal data, stored encrypted and revealed only through the
#: privacy layer with a purpose, so rules reading ``customer.nationality`` see null here (residence is in clear).
PROFILE_COLUMNS = (
    "customer_id",
    "created_at",
    "id_document_country",
    "country_of_residence",
    "occupation",
    "declared_annual_income_usd",
    "source_of_funds",
    "risk_rating",
    "kyc_level",
    "status",
)


@dataclass(frozen=True)
class MonitorRun:
    """What one run over the store found and stored."""

    hits: int
    alerts: int
    shadow_hits: int
    stored: StoreReport | None


def store_context(
    session: Session, chain_store: ChainStore | None = None, *, hops: int = 3, min_share: float = 0.0
) -> EngineContext:
    """Profiles of every customer and account (no personal fields) and exposure from the attribution store;
    with ``chain_store``, indirect exposure within ``hops`` hops (shares below ``min_share`` ignored) too."""
    customers = [
        dict(row._mapping) for row in session.execute(select(*(getattr(Customer, c) for c in PROFILE_COLUMNS)))
    ]
    accounts = [
        dict(row._mapping)
        for row in session.execute(select(Account.account_id, Account.account_type, Account.opened_at, Account.status))
    ]
    indirect = None
    if chain_store is not None:
        from chainsleuth.monitor.indirect import chain_exposure_provider

        indirect = chain_exposure_provider(session, chain_store, hops=hops, min_share=min_share)
    return EngineContext.from_rows(customers, accounts, store_provider(session, indirect=indirect))


def run_rules_over_store(
    engine: Engine,
    session: Session,
    rules: RuleSet,
    *,
    streaming: bool = False,
    dry_run: bool = False,
    chain_store: ChainStore | None = None,
    exposure_hops: int = 3,
    exposure_min_share: float = 0.0,
) -> MonitorRun:
    """Run ``rules`` over the stored ledger; store alerts and shadow hits unless ``dry_run``.

    With ``chain_store`` the exposure rules also see indirect exposure (``exposure_hops`` hops, shares of at
    least ``exposure_min_share``), computed once for the run and shared by both engines."""
    # Rule management (web/rules.py): the deployment's promote/demote decisions override the files' modes.
    rules = apply_mode_overrides(session, rules)
    context = store_context(session, chain_store, hops=exposure_hops, min_share=exposure_min_share)
    if streaming:
        hits = run_streaming(store_events(engine), rules, StreamingState(rules, context))
    else:
        hits = run_batch(engine, rules, context).hits
    book = build_alerts(hits, rules)
    stored = None if dry_run else store_alerts(session, book, rules)
    return MonitorRun(hits=len(hits), alerts=len(book.alerts), shadow_hits=len(book.shadow_hits), stored=stored)
