"""The demo's work in progress: the seed story as investigators would have left it, so every page has something.

``chainsleuth demo`` loads a world and runs monitoring; without this step the console would open on empty case,
approval, law-enforcement and rule-management pages. :func:`seed_demo_story` then does what the seeded users
would have done, through the same public functions the pages and the API call (so every step is audited as that
user and obeys the same rules):

1. ``senior`` opens the phone-theft case from the address the victim reported, traces the stolen coins forward
   (haircut, 6 hops), saves the trace as evidence and links the exchange account the trace ends in;
2. ``senior`` proposes a freeze of that account, which waits for a second officer (``compliance``);
3. the demo police ``officer`` submits a production request for the thief's deposit address, with its court order;
4. ``compliance`` puts a noisy rule in shadow mode, with a reason, and its hits are recorded as shadow hits;
5. ``compliance`` runs and stores a backtest of the rule library on the world.

Only the victim's address is taken from the world's ground truth (it is what the victim tells the police); the
thief's account is whatever the trace finds. Each step is skipped when its result already exists, so running
the demo again adds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fpdf import FPDF
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal
from chainsleuth.cases import actions, evidence, service
from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.lawenforcement.requests import Submission, submit_request
from chainsleuth.lawenforcement.targets import parse_targets_csv
from chainsleuth.monitor.alerts import store as alert_store
from chainsleuth.monitor.rules import load_rules
from chainsleuth.monitor.rules.model import RuleSet
from chainsleuth.monitor.service import run_rules_over_store
from chainsleuth.privacy import audit
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import session_scope
from chainsleuth.store.models.alerts import MonitorAlert, MonitorBacktest, MonitorShadowHit
from chainsleuth.store.models.cases import AccountAction, Case
from chainsleuth.store.models.exchange import Account
from chainsleuth.store.models.lawenforcement import LeOfficer, LeRequest
from chainsleuth.store.models.rule_modes import MonitorRuleMode
from chainsleuth.store.models.users import Role, User

CASE_TITLE = "Stolen phone: victim's bitcoin wallet drained"
TRACE_POLICY, TRACE_HOPS = "haircut", 6
FREEZE_REASON = "Proceeds of the phone theft: the victim's coins were traced to this account (see the saved trace)."
FREEZE_TERM = timedelta(days=90)
LE_CASE_NUMBER = "DEMO-2024-0412"
#: The rule put in shadow mode, when it exists and has raised alerts (else the noisiest non-exposure rule).
SHADOW_RULE = "round-amounts"
SHADOW_REASON = "Many false positives on salary-like round deposits; observe in shadow mode while it is retuned."


@dataclass
class StoryReport:
    """What this run seeded (ids) and what it found already there (``skipped``)."""

    case_id: int | None = None
    account_id: str | None = None
    freeze_action_id: int | None = None
    le_reference: str | None = None
    shadow_rule: str | None = None
    shadow_hits: int = 0
    backtest_id: int | None = None
    skipped: list[str] = field(default_factory=list)


def _principal(session: Session, username: str) -> Principal:
    """The seeded user as the actor of their step (so the audit log names them)."""
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        raise NotFoundError("seed the demo users first", username=username)
    return Principal(username=user.username, display_name=user.display_name, role=Role(user.role),
                     agency_id=user.agency_id)  # fmt: skip


def phone_theft_victim(world_dir: Path) -> tuple[str, str]:
    """``(chain, address)`` of the wallet the phone-theft victim reports (from the world's incident list)."""
    incidents = world_dir / "ground_truth" / "incidents.jsonl"
    for line in incidents.read_text(encoding="utf-8").splitlines():
        incident = json.loads(line)
        if incident.get("typology") == "phone_theft":
            return "bitcoin", str(incident["details"]["victim_address"])
    raise InvalidInputError("the world has no phone-theft incident", path=str(incidents))


def seed_case(session: Session, store: ChainStore, world_dir: Path, report: StoryReport) -> None:
    """Step 1: the case, its trace evidence and the account the trace reaches."""
    from chainsleuth.web.case_trace import run_trace  # the graph workspace's own trace (same parameters)

    existing = session.scalar(select(Case).where(Case.title == CASE_TITLE).order_by(Case.id).limit(1))
    if existing is not None:
        report.case_id = existing.id
        accounts = [link.target for link in service.links(session, existing.id) if link.link_type == "account"]
        report.account_id = accounts[0] if accounts else None
        report.skipped.append("case")
        return
    senior = _principal(session, "senior")
    chain, victim = phone_theft_victim(world_dir)
    case = service.create_case(
        session, senior, title=CASE_TITLE, priority="high",
        description="The victim reported the theft of their phone and, hours later, of the bitcoin in its wallet "
        "(about USD 350,000). Trace the coins from the victim's address and find where they were cashed in.",
    )  # fmt: skip
    case = service.link(session, senior, case.id, case.version, "address", victim, chain=chain)
    result = run_trace(session, store, chain=chain, target=victim, direction="forward", policy=TRACE_POLICY,
                       hops=TRACE_HOPS)  # fmt: skip
    title = f"{TRACE_POLICY} trace forward from {victim[:16]}… ({TRACE_HOPS} hops)"
    evidence.add_result(session, senior, case.id, case.version, "trace", result, title=title)
    report.case_id = case.id
    account = _our_account(session, [terminal.entity for terminal in result.terminals])
    if account is not None:
        service.link(session, senior, case.id, case.version, "account", account)
        report.account_id = account


def _our_account(session: Session, entities: list[str]) -> str | None:
    """The first traced entity that is one of our accounts (terminals are ranked by the share they received)."""
    for entity in entities:
        if session.get(Account, entity) is not None:
            return entity
    return None


def seed_freeze(session: Session, report: StoryReport, now: datetime) -> None:
    """Step 2: a freeze of the thief's account proposed by ``senior``, awaiting a second officer."""
    if report.case_id is None or report.account_id is None:
        return
    pending = session.scalar(select(AccountAction.id).where(
        AccountAction.account_id == report.account_id, AccountAction.kind == "freeze",
        AccountAction.status.in_(("proposed", "approved", "active"))))  # fmt: skip
    if pending is not None:
        report.freeze_action_id = pending
        report.skipped.append("freeze")
        return
    senior = _principal(session, "senior")
    action, _ = actions.propose(session, senior, "freeze", reason=FREEZE_REASON, account_id=report.account_id,
                             legal_basis="AML Act: suspected proceeds of crime; police informed",
                             case_id=report.case_id, expires_at=now + FREEZE_TERM)  # fmt: skip
    report.freeze_action_id = action.id


def court_order_pdf(case_number: str) -> bytes:
    """A one-page court order as the officer would upload it (the portal requires a readable PDF)."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    order = (
        f"District Court (demo) - production order {case_number}\n\nThe exchange shall produce the subscriber data "
        "and transactions of the account holding the listed wallet address."
    )
    pdf.multi_cell(0, 8, order)
    return bytes(pdf.output())


def seed_le_request(session: Session, report: StoryReport, world_dir: Path, upload_limit: int) -> None:
    """Step 3: the demo officer's production request for the address the stolen coins were deposited to."""
    existing = session.scalar(select(LeRequest.reference).where(LeRequest.case_number == LE_CASE_NUMBER).limit(1))
    if existing is not None:
        report.le_reference = existing
        report.skipped.append("le_request")
        return
    if session.scalar(select(LeOfficer.username).where(LeOfficer.username == "officer")) is None:
        return  # no demo officer (seeded by ``seed_demo_officer``): nothing to submit as
    officer = _principal(session, "officer")
    chain, victim = phone_theft_victim(world_dir)
    form = Submission(request_type="production", legal_basis="court_order", jurisdiction="DE",
                      case_number=LE_CASE_NUMBER, offence="theft of a mobile phone and of cryptocurrency from it",
                      data_categories=("subscriber", "transactions", "wallet_addresses"),
                      description="The stolen coins left the victim's wallet within hours of the theft. Who holds "
                                  "the account they were deposited to, and where did they go next?")  # fmt: skip
    targets = parse_targets_csv(f"wallet_address,chain\n{victim},{chain}\n")
    request = submit_request(session, officer, form, targets=targets, instrument=court_order_pdf(LE_CASE_NUMBER),
                             instrument_filename=f"{LE_CASE_NUMBER}.pdf", max_upload_bytes=upload_limit)  # fmt: skip
    report.le_reference = request.reference


def _shadow_candidate(session: Session) -> str | None:
    counts = dict(
        session.execute(select(MonitorAlert.rule_id, func.count()).group_by(MonitorAlert.rule_id)).tuples().all()
    )
    if counts.get(SHADOW_RULE):
        return SHADOW_RULE
    noisy = sorted((n, r) for r, n in counts.items() if not r.startswith(("exposure-", "model-")))
    return noisy[-1][1] if noisy else None


def _shadow_hits(session: Session, rule_id: str) -> int:
    return int(session.scalar(select(func.count()).where(MonitorShadowHit.rule_id == rule_id)) or 0)


def seed_shadow_rule(engine: Engine, session: Session, report: StoryReport) -> None:
    """Step 4: ``compliance`` demotes a noisy rule to shadow mode (audited, with its reason) and the rule is run
    once more over the ledger, so that its hits are recorded as shadow hits instead of alerts."""
    existing = session.scalar(select(MonitorRuleMode).where(MonitorRuleMode.mode == "shadow").limit(1))
    if existing is not None:
        report.shadow_rule = existing.rule_id
        report.shadow_hits = _shadow_hits(session, existing.rule_id)
        report.skipped.append("shadow")
        return
    rule_id = _shadow_candidate(session)
    library = load_rules()
    if rule_id is None or rule_id not in {r.id for r in library}:
        return
    rule = library.get(rule_id)
    compliance = _principal(session, "compliance")
    session.add(MonitorRuleMode(rule_id=rule.id, mode="shadow", reason=SHADOW_REASON,
                                changed_by=compliance.username))  # fmt: skip
    audit.record(session, compliance, "rules.demote", "monitor_rule", rule.id, purpose=SHADOW_REASON,
                 details={"from": rule.mode, "to": "shadow", "content_hash": rule.content_hash})  # fmt: skip
    session.flush()
    run_rules_over_store(engine, session, RuleSet((rule,), library.lists))
    report.shadow_rule = rule.id
    report.shadow_hits = _shadow_hits(session, rule.id)


def seed_backtest(session: Session, world_dir: Path, report: StoryReport) -> None:
    """Step 5: a stored backtest of the rule library (as the next run evaluates it) on the demo world."""
    from chainsleuth.monitor.backtest import backtest

    existing = session.scalar(select(MonitorBacktest.id).order_by(MonitorBacktest.id).limit(1))
    if existing is not None:
        report.backtest_id = existing
        report.skipped.append("backtest")
        return
    compliance = _principal(session, "compliance")
    rules = alert_store.apply_mode_overrides(session, load_rules())
    result = backtest(world_dir, rules, engine="batch")
    number = alert_store.store_backtest(session, str(world_dir), "batch", rules, result.as_dict())
    audit.record(session, compliance, "rules.backtest", "monitor_backtest", str(number),
                 details={"engine": "batch", "rules": len(rules), "left_out": []})  # fmt: skip
    report.backtest_id = number


def seed_demo_story(
    engine: Engine, store: ChainStore, world_dir: Path, *, upload_limit: int = 10_000_000, now: datetime | None = None
) -> StoryReport:
    """Seed the work in progress described above (each step in its own transaction); returns what it did."""
    report = StoryReport()
    at = now or datetime.now(UTC)
    with session_scope(engine) as session:
        seed_case(session, store, world_dir, report)
    with session_scope(engine) as session:
        seed_freeze(session, report, at)
    with session_scope(engine) as session:
        seed_le_request(session, report, world_dir, upload_limit)
    with session_scope(engine) as session:
        seed_shadow_rule(engine, session, report)
    with session_scope(engine) as session:
        seed_backtest(session, world_dir, report)
    return report
