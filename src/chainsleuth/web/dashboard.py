"""The dashboard: one section per capability, each shown only to roles that may see it.

A section is a :class:`DashboardSection`: a permission, a template fragment and a provider that returns the
fragment's context, or ``None`` when its capability is not installed (or, for the reference data of the exchange
and the chains, not loaded). A capability that lands later (alerts, cases, four-eyes actions, law-enforcement
requests) registers its section with :func:`register_section`. Work queues (open alerts, cases, approvals,
requests) are shown with zero counts and an empty-state line rather than hidden: on a first visit "nothing
awaits you" is information, and a missing card reads as a missing feature. Providers compute counts directly
and write no audit entry: counts name no person or case (opening a list or a record is what is audited).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.models.exchange import Customer
from chainsleuth.store.models.ledger import LedgerEvent
from chainsleuth.store.models.tags import Tag
from chainsleuth.web.charts import Series, bar_chart, hbar_rows
from chainsleuth.web.core import DbSession, NavItem, Viewer, page, register_nav, render

router = APIRouter(include_in_schema=False)
Provider = Callable[[Session, Viewer, ChainStore], dict[str, Any] | None]


@dataclass(frozen=True)
class DashboardSection:
    """A dashboard card: shown when ``viewer`` holds ``permission`` and ``provider`` returns a context."""

    key: str
    title: str
    permission: str
    template: str
    provider: Provider
    order: int = 100
    #: A module that must be importable for the section to exist (feature detection), if any.
    requires_module: str | None = None


SECTIONS: dict[str, DashboardSection] = {}


def register_section(section: DashboardSection) -> None:
    """Add (or replace, by key) a dashboard section."""
    SECTIONS[section.key] = section


def _module_exists(name: str | None) -> bool:
    if name is None:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


# -- providers for what exists today --------------------------------------------------------------------------


def customers_by_risk(db: Session, viewer: Viewer, store: ChainStore) -> dict[str, Any] | None:
    rows = db.execute(
        select(Customer.risk_rating, Customer.status, func.count()).group_by(Customer.risk_rating, Customer.status)
    ).all()
    if not rows:
        return None
    by_risk: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for risk, status, count in rows:
        by_risk[str(risk)] = by_risk.get(str(risk), 0) + int(count)
        by_status[str(status)] = by_status.get(str(status), 0) + int(count)
    order = ["high", "medium", "low"]
    risk_rows = sorted(by_risk.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 9)
    return {
        "total": sum(by_risk.values()),
        "risk": hbar_rows(risk_rows),
        "status": sorted(by_status.items()),
        "peak": max(by_risk.values()),
    }


def _day_bucket(db: Session) -> Any:
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(LedgerEvent.timestamp, "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", LedgerEvent.timestamp)


def ledger_volume(db: Session, viewer: Viewer, store: ChainStore) -> dict[str, Any] | None:
    """Deposits and withdrawals (crypto and fiat) in USD per week, drawn as an SVG bar chart."""
    day = _day_bucket(db)
    rows = db.execute(
        select(day, LedgerEvent.event_type, func.sum(LedgerEvent.usd_value), func.count())
        .where(LedgerEvent.event_type.in_(("deposit", "withdrawal", "fiat_deposit", "fiat_withdrawal")))
        .group_by(day, LedgerEvent.event_type)
    ).all()
    if not rows:
        return None
    weekly: dict[str, dict[str, float]] = {}
    counts = {"in": 0, "out": 0}
    for day_text, event_type, usd, count in rows:
        year, week, _ = datetime.strptime(str(day_text), "%Y-%m-%d").isocalendar()
        bucket = weekly.setdefault(f"{year}-W{week:02d}", {"in": 0.0, "out": 0.0})
        side = "in" if "deposit" in str(event_type) else "out"
        bucket[side] += float(usd or 0.0)
        counts[side] += int(count)
    labels = sorted(weekly)
    chart = bar_chart(
        "Deposits and withdrawals per week (USD)",
        labels,
        [
            Series("deposits", [weekly[w]["in"] for w in labels]),
            Series("withdrawals", [weekly[w]["out"] for w in labels]),
        ],
        unit="USD",
    )
    total_in = sum(w["in"] for w in weekly.values())
    total_out = sum(w["out"] for w in weekly.values())
    return {"chart": chart, "weeks": len(labels), "total_in": total_in, "total_out": total_out, "counts": counts}


def chain_stats(db: Session, viewer: Viewer, store: ChainStore) -> dict[str, Any] | None:
    stats = store.stats()
    chains = {name: s for name, s in stats.items() if s.get("height", -1) >= 0}
    return {"chains": chains} if chains else None


def tags_by_category(db: Session, viewer: Viewer, store: ChainStore) -> dict[str, Any] | None:
    category = func.coalesce(Tag.abuse, Tag.category, "uncategorised")
    rows = db.execute(select(category, func.count()).group_by(category).order_by(func.count().desc())).all()
    if not rows:
        return None
    origins = db.execute(select(Tag.origin, func.count()).group_by(Tag.origin)).all()
    counts = [(str(name), int(count)) for name, count in rows]
    return {
        "rows": hbar_rows(counts),
        "peak": counts[0][1],
        "total": sum(c for _, c in counts),
        "origins": sorted((str(o), int(c)) for o, c in origins),
    }


register_section(
    DashboardSection(
        "customers",
        "Customers by risk",
        "customer.read_pseudonymised",
        "dashboard/customers.html",
        customers_by_risk,
        order=10,
    )
)
register_section(
    DashboardSection("ledger", "Ledger volume", "ledger.read", "dashboard/ledger.html", ledger_volume, order=50)
)
register_section(DashboardSection("chain", "Chain store", "chain.read", "dashboard/chain.html", chain_stats, order=30))
register_section(
    DashboardSection("tags", "Attribution tags", "chain.read", "dashboard/tags.html", tags_by_category, order=40)
)


def visible_sections(db: Session, viewer: Viewer, store: ChainStore) -> list[dict[str, Any]]:
    """The sections this viewer may see whose capability exists and has data, in order."""
    shown = []
    for section in sorted(SECTIONS.values(), key=lambda s: (s.order, s.key)):
        if not viewer.can(section.permission) or not _module_exists(section.requires_module):
            continue
        context = section.provider(db, viewer, store)
        if context is not None:
            shown.append({"key": section.key, "title": section.title, "template": section.template, **context})
    return shown


@router.get("/dashboard")
def dashboard(request: Request, viewer: Annotated[Viewer, Depends(page())], db: DbSession) -> HTMLResponse:
    """Everything the viewer's role may see, at a glance."""
    store: ChainStore = request.app.state.chain_store
    sections = visible_sections(db, viewer, store)
    return render(request, "dashboard.html", viewer, {"sections": sections, "title": "Dashboard"})


register_nav(NavItem("Overview", "Dashboard", "/dashboard", None, order=0))
