"""Statistics and the transparency report: volumes, disclosure rate, turnaround, failed emergency checks.

Exchanges publish transparency reports so that the public can see how often authorities ask and how often the
exchange gives data; the same numbers tell the response team whether it keeps its clocks. Everything here is
aggregate (counts per country, agency and type; rates; percentiles): no request details, no customer.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.privacy.policy import Actor, require
from chainsleuth.store.models.lawenforcement import LeAgency, LeCallback, LeRequest

DISCLOSED = ("disclosed", "narrowed")


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = share * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def statistics(
    session: Session, actor: Actor, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Aggregates over requests submitted in ``[since, until)`` (``le_request.read``; staff see every agency)."""
    require(actor, "le_request.read")
    if actor.agency_id is not None:
        from chainsleuth.errors import PermissionDeniedError

        raise PermissionDeniedError("statistics across agencies are for the exchange's staff")
    query = select(
        LeRequest.id,
        LeRequest.agency_id,
        LeRequest.request_type,
        LeRequest.outcome,
        LeRequest.status,
        LeRequest.submitted_at,
        LeRequest.closed_at,
        LeAgency.country,
        LeAgency.name,
        LeRequest.callback_confirmed_at,
    ).join(LeAgency, LeAgency.agency_id == LeRequest.agency_id)
    if since is not None:
        query = query.where(LeRequest.submitted_at >= since)
    if until is not None:
        query = query.where(LeRequest.submitted_at < until)
    rows = session.execute(query).all()
    failed_callbacks = set(session.scalars(select(LeCallback.request_id).where(LeCallback.outcome != "confirmed")))
    by_country, by_agency, by_type, outcomes = Counter[str](), Counter[str](), Counter[str](), Counter[str]()
    turnaround: dict[str, list[float]] = defaultdict(list)
    emergencies = emergencies_failed = 0
    for row in rows:
        by_country[row.country] += 1
        by_agency[f"{row.agency_id} ({row.name})"] += 1
        by_type[row.request_type] += 1
        outcomes[row.outcome or "open"] += 1
        if row.closed_at is not None:
            hours = (row.closed_at - row.submitted_at).total_seconds() / 3600
            turnaround["all"].append(hours)
            turnaround[row.request_type].append(hours)
        if row.request_type == "emergency_disclosure":
            emergencies += 1
            if row.callback_confirmed_at is None and (row.id in failed_callbacks or row.outcome == "declined"):
                emergencies_failed += 1
    answered = sum(outcomes[o] for o in (*DISCLOSED, "declined", "actioned"))
    return {
        "period": {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None},
        "requests": len(rows),
        "by_country": dict(by_country.most_common()),
        "by_agency": dict(by_agency.most_common()),
        "by_type": dict(by_type.most_common()),
        "outcomes": dict(outcomes.most_common()),
        "disclosure_rate": round(sum(outcomes[o] for o in DISCLOSED) / answered, 4) if answered else None,
        "turnaround_hours": {
            kind: {"median": _round(_percentile(v, 0.5)), "p90": _round(_percentile(v, 0.9)), "n": len(v)}
            for kind, v in sorted(turnaround.items())
        },
        "emergency_requests": emergencies,
        "emergency_failed_verification_share": round(emergencies_failed / emergencies, 4) if emergencies else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def to_json(report: dict[str, Any]) -> str:
    """The report as JSON."""
    return json.dumps(report, indent=2, sort_keys=True)


def to_csv(report: dict[str, Any]) -> str:
    """The report as long-format CSV: ``section,key,value``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "key", "value"])
    for section in ("by_country", "by_agency", "by_type", "outcomes"):
        for key, value in report[section].items():
            writer.writerow([section, key, value])
    for kind, values in report["turnaround_hours"].items():
        for name, value in values.items():
            writer.writerow(["turnaround_hours", f"{kind}.{name}", value])
    for key in ("requests", "disclosure_rate", "emergency_requests", "emergency_failed_verification_share"):
        writer.writerow(["summary", key, report[key]])
    return buffer.getvalue()


def to_markdown(report: dict[str, Any], title: str = "Law-enforcement transparency report") -> str:
    """The report as Markdown tables (what the exchange publishes)."""
    period = report["period"]
    lines = [f"# {title}", "", f"Period: {period['since'] or 'start'} to {period['until'] or 'now'}", "",
             f"Requests received: **{report['requests']}**  ", f"Disclosure rate (of answered requests): "
             f"**{_pct(report['disclosure_rate'])}**  ", f"Emergency requests: {report['emergency_requests']}, "
             f"failing verification: **{_pct(report['emergency_failed_verification_share'])}**", ""]  # fmt: skip
    for section, heading in (("by_country", "Country"), ("by_agency", "Agency"), ("by_type", "Request type"),
                             ("outcomes", "Outcome")):  # fmt: skip
        lines += [f"| {heading} | Requests |", "|---|---:|"]
        lines += [f"| {key} | {value} |" for key, value in report[section].items()] + [""]
    lines += ["| Turnaround (hours) | median | p90 | n |", "|---|---:|---:|---:|"]
    lines += [f"| {k} | {v['median']} | {v['p90']} | {v['n']} |" for k, v in report["turnaround_hours"].items()]
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
