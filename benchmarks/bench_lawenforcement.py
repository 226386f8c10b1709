"""Benchmark of the law-enforcement portal: a 1,000-target request, package generation, and a simulated year.

Sets up an exchange of ``--customers`` synthetic customers (encrypted KYC fields and blind indexes, one account,
one deposit address and a few ledger events each), the example agencies plus ``--agencies`` synthetic ones, and
``--officers`` approved officers, in a fresh SQLite database (the embedded default). Then measures:

* **triage and matching of one 1,000-target request** (40% e-mails, 20% phones, 20% wallet addresses, 10% tx
  hashes, 10% customer ids; about 70% of them our customers), against a same-run baseline that resolves each
  target with its own query (``find_customers`` per e-mail/phone, ``deposit_address_owner`` per address);
* **package generation** for that request (collect, CSV/JSON/PDF, zip, encrypt at rest; then seal for the agency);
* **the year**: ``--requests`` requests (default 10,000) with realistic target lists (log-normal sizes, median
  3, a few hundred at most) and a realistic mix: 74% production, 10% preservation, 8% emergency disclosure, 6%
  freeze, 2% seizure; a quarter of them get an officer message and a staff reply (some with an attachment).
  Every request is submitted and triaged at once (call-backs recorded for emergencies, freezes, seizures) and
  answered ``--backlog`` requests later (default 2,000: ten working days at 200 a day), so about that many
  requests are open at any time, as in a real queue, and "seen before" scans them. Answers: packages drafted
  and approved by a second person, declines, account actions proposed. The escalation clock runs once a batch.
  Time is reported per batch of ``--batch`` requests (default 1,000), so that growth with the database shows;
  the 50,000-request year is projected from the measured batches with their linear trend, not from one batch.

Run: ``python benchmarks/bench_lawenforcement.py`` (``--requests 50000`` for the unscaled year).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from chainsleuth.api.deps import Principal
from chainsleuth.lawenforcement import agencies, officers, packages, responses, triage
from chainsleuth.lawenforcement.requests import OPEN_STATUSES, Submission, submit_request
from chainsleuth.lawenforcement.sealing import generate_agency_keypair
from chainsleuth.lawenforcement.targets import parse_targets_csv
from chainsleuth.privacy import passwords
from chainsleuth.privacy.fields import find_customers
from chainsleuth.privacy.keyring import ensure_keyring, set_default_master_key
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.exchange_read import deposit_address_owner
from chainsleuth.store.migrate import upgrade_to_head
from chainsleuth.store.models.exchange import Account, Balance, Customer, DepositAddress
from chainsleuth.store.models.lawenforcement import LeRequest, LeTarget
from chainsleuth.store.models.ledger import LedgerEvent
from chainsleuth.store.models.users import Role

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ADMIN = Principal("admin", "Admin", Role.ADMIN, None)
LRO = Principal("lro-a", "LRO A", Role.LE_RESPONSE_OFFICER, None)
LRO2 = Principal("lro-b", "LRO B", Role.LE_RESPONSE_OFFICER, None)
COUNTRIES = ["DE", "FR", "GB", "US", "SE", "NL", "ES", "IT", "PL", "BR", "IN", "JP", "KR", "AU", "CA", "TR"]


def _eth(i: int) -> str:
    return "0x" + f"{i:040x}"


def _hash(i: int) -> str:
    return "0x" + f"{i:064x}"


def _peer(i: int, start: int, customers: int) -> int:
    """A counterparty in the same insert batch (a third party of customer ``i``)."""
    stop = min(start + 2_000, customers)
    return start + (i - start + 1) % (stop - start)


def setup(engine: object, customers: int, n_agencies: int, n_officers: int, rng: random.Random) -> list[Principal]:
    """The exchange, the registry and approved officers; returns the officers."""
    from sqlalchemy import Engine

    assert isinstance(engine, Engine)
    with session_scope(engine) as session:
        for start in range(0, customers, 2_000):
            rows: list[object] = []
            for i in range(start, min(start + 2_000, customers)):
                cid, aid = f"C{i:08d}", f"A{i:08d}"
                rows.append(Customer(customer_id=cid, created_at=NOW - timedelta(days=500), full_name=f"Person {i}",
                                     date_of_birth="1980-01-01", nationality="DE", id_document_type="passport",
                                     id_document_number=f"P{i:08d}", id_document_country="DE",
                                     email=f"user{i}@example.org", phone=f"+4915{i:09d}", address_line=f"{i} Road",
                                     city="Berlin", postal_code="10115", country_of_residence=rng.choice(COUNTRIES),
                                     occupation="x", declared_annual_income_usd=50_000, source_of_funds="salary",
                                     risk_rating="low", kyc_level=2, status="active"))  # fmt: skip
            session.add_all(rows)
            session.flush()
            more: list[object] = []
            for i in range(start, min(start + 2_000, customers)):
                cid, aid = f"C{i:08d}", f"A{i:08d}"
                more += [Account(account_id=aid, customer_id=cid, account_type="spot",
                                 opened_at=NOW - timedelta(days=400),
                                 status="active"),
                         DepositAddress(chain="ethereum", address=_eth(i), account_id=aid, customer_id=cid,
                                        created_at=NOW - timedelta(days=400))]  # fmt: skip
            session.add_all(more)
            session.flush()
            events: list[object] = []
            for i in range(start, min(start + 2_000, customers)):
                cid, aid = f"C{i:08d}", f"A{i:08d}"
                events += [Balance(account_id=aid, asset="ETH", balance=Decimal("1.5")),
                           LedgerEvent(event_id=f"D{i:09d}", event_type="deposit", timestamp=NOW - timedelta(days=30),
                                       customer_id=cid, account_id=aid, asset="ETH", amount=Decimal(1),
                                       chain="ethereum",
                                       tx_hash=_hash(i), address=_eth(i)),
                           LedgerEvent(event_id=f"L{i:09d}", event_type="login", timestamp=NOW - timedelta(days=3),
                                       customer_id=cid, account_id=aid, ip=f"198.51.{i % 250}.{i % 200}",
                                       device_id=f"dev{i}", ip_country="DE", success=True),
                           LedgerEvent(event_id=f"T{i:09d}", event_type="internal_transfer",
                                       timestamp=NOW - timedelta(days=2), customer_id=cid, account_id=aid, asset="ETH",
                                       amount=Decimal("0.1"),
                                       counterparty_customer_id=f"C{_peer(i, start, customers):08d}",
                                       counterparty_account_id=f"A{_peer(i, start, customers):08d}")]  # fmt: skip
            session.add_all(events)
    entries = agencies.parse_registry(agencies.EXAMPLE_FILE.read_text(), path="example.yaml")
    for n in range(n_agencies):
        country = COUNTRIES[n % len(COUNTRIES)]
        entries.append(
            {
                "agency_id": f"AG{n:04d}",
                "name": f"Agency {n}",
                "country": country,
                "jurisdictions": [country],
                "domains": [f"agency{n}.gov.example"],
                "active": True,
                "contacts": [{"name": "Desk", "phone": f"+1 555 {n:07d}", "email": "", "role": ""}],
                # Half the agencies registered an X25519 key; the others get password-sealed packages (scrypt).
                "public_key": generate_agency_keypair()[1] if n % 2 == 0 else None,
            }
        )
    with session_scope(engine) as session:
        agencies.upsert_agencies(session, ADMIN, entries, now=NOW - timedelta(days=900))
    import pyotp

    found: list[Principal] = []
    for n in range(n_officers):
        agency = n % n_agencies
        name = f"officer{n}"
        with session_scope(engine) as session:
            officer, token = officers.register_officer(session, username=name, password="benchmark-password-1",
                                                       display_name=name, email=f"{name}@agency{agency}.gov.example",
                                                       now=NOW - timedelta(days=400))  # fmt: skip
            who = Principal(name, name, Role.LE_OFFICER, officer.agency_id)
            officers.verify_email(session, token, now=NOW - timedelta(days=400))
            secret, _ = officers.enrol_totp(session, who)
            officers.confirm_totp(session, who, pyotp.TOTP(secret).at(NOW - timedelta(days=400)),
                                  now=NOW - timedelta(days=400))  # fmt: skip
            officers.approve_officer(session, ADMIN, name, now=NOW - timedelta(days=400))
        found.append(who)
    return found


def target_csv(size: int, customers: int, rng: random.Random, hit_rate: float = 0.7) -> str:
    """A realistic target list: mostly e-mails, phones and addresses, some hashes and ids."""
    lines = ["customer_id,email,phone,wallet_address,chain,tx_hash"]
    for _ in range(size):
        hit = rng.random() < hit_rate
        i = rng.randrange(customers) if hit else customers + rng.randrange(10**7)
        kind = rng.choices(["email", "phone", "address", "tx", "id"], [40, 20, 20, 10, 10])[0]
        if kind == "email":
            lines.append(f",user{i}@example.org,,,,")
        elif kind == "phone":
            lines.append(f",,+4915{i:09d},,,")
        elif kind == "address":
            lines.append(f",,,{_eth(i)},ethereum,")
        elif kind == "tx":
            lines.append(f",,,,,{_hash(i)}")
        else:
            lines.append(f"C{i:08d},,,,,")
    return "\n".join(lines) + "\n"


def instrument_pdf() -> bytes:
    """A one-page legal instrument (parsed and encrypted on every submission, as in production)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 5, "ORDER FOR PRODUCTION OF RECORDS. " * 40)
    return bytes(pdf.output())


def callback_number(who: Principal) -> str:
    """The registry number of the officer's agency (synthetic agencies: ``+1 555`` and their index)."""
    if who.agency_id and who.agency_id.startswith("AG"):
        return f"+1 555 {int(who.agency_id[2:]):07d}"
    return "+49 30 0000 1000"


def form(request_type: str, basis: str, country: str, categories: tuple[str, ...]) -> Submission:
    return Submission(
        request_type=request_type,
        legal_basis=basis,
        jurisdiction=country,
        case_number="B-1",
        offence="fraud",
        data_categories=categories,
        date_from=NOW - timedelta(days=365),
        date_to=NOW,
    )


#: The simulated mix: (share, request type, legal basis, categories).
MIX: tuple[tuple[float, str, str, tuple[str, ...]], ...] = (
    (0.08, "emergency_disclosure", "emergency", ("subscriber",)),
    (0.10, "preservation", "preservation_letter", ()),
    (0.06, "freeze", "freezing_order", ("balances",)),
    (0.02, "seizure", "seizure_warrant", ("balances",)),
    (0.74, "production", "court_order", ("subscriber", "transactions")),
)
#: CPU seconds spent in triage (matching and "seen before": the part that scans the growing tables).
TRIAGE_CPU = [0.0]
WALLET = {"seizure_chain": "ethereum", "seizure_address": "0x" + "5e" * 20}


def _pick(roll: float) -> tuple[str, str, tuple[str, ...]]:
    for share, kind, basis, categories in MIX:
        if roll < share:
            return kind, basis, categories
        roll -= share
    return MIX[-1][1:]


def _intake(engine: Any, who: Principal, n: int, args: argparse.Namespace, pdf: bytes, rng: random.Random) -> int:
    """Submit and triage one request (call-back and messages as they would come); returns its id."""
    kind, basis, categories = _pick(rng.random())
    country = COUNTRIES[(n % args.officers) % args.agencies % len(COUNTRIES)]
    spec = form(kind, basis, country, categories)
    if kind == "seizure":
        spec = Submission(**{**spec.__dict__, **WALLET})
    at = NOW + timedelta(minutes=2 * n)
    size = max(1, min(400, int(rng.lognormvariate(1.1, 1.0))))
    with session_scope(engine) as session:
        listed = parse_targets_csv(target_csv(size, args.customers, rng))
        rid = submit_request(session, who, spec, targets=listed, max_upload_bytes=10**7, now=at, instrument=pdf).id
    with session_scope(engine) as session:
        cpu = time.process_time()
        triage.triage(session, LRO, rid, now=at)
        TRIAGE_CPU[0] += time.process_time() - cpu
        if kind in triage.CALLBACK_TYPES:
            responses.record_callback(session, LRO, rid, phone=callback_number(who), outcome="confirmed",
                                      called_at=at, now=at)  # fmt: skip
        if rng.random() < 0.25:
            attachment = b"scan " * 2_000 if rng.random() < 0.2 else None
            responses.post_message(session, who, rid, "Any update? The suspect is moving funds.", now=at,
                                   attachment=attachment, filename="scan.pdf", max_upload_bytes=10**7)  # fmt: skip
            responses.post_message(session, LRO, rid, "We are on it; answer within the deadline.", now=at,
                                   max_upload_bytes=10**7)  # fmt: skip
    return rid


def _answer(engine: Any, rid: int, n: int, rng: random.Random, outcomes: dict[str, int]) -> None:
    """The response team's answer to an earlier request: actions, a four-eyes package, or a decline."""
    at = NOW + timedelta(minutes=2 * n)
    with session_scope(engine) as session:
        request = session.get(LeRequest, rid)
        assert request is not None
        matched, kind = request.triage.get("matched"), request.request_type
        if kind in ("preservation", "freeze", "seizure") and matched:
            responses.propose_actions(session, LRO, rid, expires_at=at + timedelta(days=90), now=at)
            outcomes["actions"] += 1
            return
        if not matched or (kind == "production" and rng.random() < 0.2) or request.status != "in_progress":
            responses.decline(session, LRO, rid, template="no_records", now=at)
            outcomes["decline"] += 1
            return
        package_id = packages.draft_package(session, LRO, rid, now=at).id
    with session_scope(engine) as session:
        packages.approve_package(session, LRO2, package_id, now=at)
        outcomes["package"] += 1


def _sizes(engine: Any) -> tuple[int, int]:
    """Open requests and stored targets (what "seen before" and the queues scan)."""
    from sqlalchemy import func, select

    with session_scope(engine) as session:
        open_count = session.scalar(select(func.count()).select_from(LeRequest)
                                    .where(LeRequest.status.in_(OPEN_STATUSES))) or 0  # fmt: skip
        return int(open_count), int(session.scalar(select(func.count()).select_from(LeTarget)) or 0)


def simulate_year(engine: Any, staff: list[Principal], args: argparse.Namespace, pdf: bytes,
                  rng: random.Random) -> list[tuple[str, str, str]]:  # fmt: skip
    """Requests in timed batches with a standing backlog; returns the report rows.

    Each batch reports wall time and CPU time of this process per request (SQLite runs in-process, so the CPU
    time includes the database's work and is far less disturbed by other jobs on a shared machine than wall
    time), and the CPU time of triage alone, which holds the scans that grow with the database.
    """
    outcomes = {"package": 0, "decline": 0, "actions": 0}
    pending: deque[int] = deque()
    batches: list[tuple[int, float, float, float, int, int]] = []  # (so far, wall ms, cpu ms, triage ms, open, tgts)
    started = batch_wall = time.perf_counter()
    batch_cpu, batch_triage = time.process_time(), TRIAGE_CPU[0]
    for n in range(args.requests):
        pending.append(_intake(engine, staff[n % len(staff)], n, args, pdf, rng))
        if len(pending) > args.backlog:
            _answer(engine, pending.popleft(), n, rng, outcomes)
        if (n + 1) % args.batch == 0:
            with session_scope(engine) as session:
                triage.escalate_overdue(session, NOW + timedelta(minutes=2 * n))
            per = 1000 / args.batch
            wall, cpu = (time.perf_counter() - batch_wall) * per, (time.process_time() - batch_cpu) * per
            triage_ms = (TRIAGE_CPU[0] - batch_triage) * per
            open_count, targets = _sizes(engine)
            batches.append((n + 1, wall, cpu, triage_ms, open_count, targets))
            print(f"batch up to {n + 1}: {wall:.0f} ms wall, {cpu:.0f} ms CPU, {triage_ms:.1f} ms triage CPU per "
                  f"request; {open_count} open, {targets} targets stored", flush=True)  # fmt: skip
            batch_wall, batch_cpu, batch_triage = time.perf_counter(), time.process_time(), TRIAGE_CPU[0]
    total = time.perf_counter() - started
    rows = [(f"batch up to {k:,}", f"{o:,} open, {t:,} targets stored",
             f"{w:.0f} ms wall / {c:.0f} ms CPU / {tr:.1f} ms triage CPU per request")
            for k, w, c, tr, o, t in batches]  # fmt: skip
    # Steady state: batches once every request of the batch also answers one (the first ones answer none).
    steady = [(k, c, tr) for k, _, c, tr, _, _ in batches if k >= args.backlog + args.batch]
    per_year = "needs two steady-state batches"
    if len(steady) >= 2:
        xs = [k for k, _, _ in steady]
        slope, _ = statistics.linear_regression(xs, [c for _, c, _ in steady])
        triage_slope, _ = statistics.linear_regression(xs, [tr for _, _, tr in steady])
        rows.append(
            (
                "trend of CPU per request over the steady-state batches",
                f"{steady[0][1]:.0f} -> {steady[-1][1]:.0f} ms",
                f"{slope * 1000:+.1f} ms per 1,000 requests",
            )
        )
        rows.append(("trend of triage CPU per request", f"{steady[0][2]:.1f} -> {steady[-1][2]:.1f} ms",
                     f"{triage_slope * 1000:+.2f} ms per 1,000 requests"))  # fmt: skip
        # Project the year from the measured mean, growing with the measured slope when it is positive (a
        # negative slope at this scale is noise, and is not extrapolated as a speed-up).
        mean_k, mean_c = statistics.fmean(xs), statistics.fmean(c for _, c, _ in steady)
        growth = max(slope, 0.0)
        projected = sum(mean_c + growth * (k - mean_k) for k in range(args.batch, 50_001, args.batch)) * args.batch
        per_year = f"{projected / 1000 / 3600:.2f} h CPU"
    rows += [
        ("simulated requests", f"{args.requests:,}: {outcomes}", f"{total:.1f} s wall"),
        ("the year: 50,000 requests (projected from the batches)" if args.requests < 50_000 else
         "the year: 50,000 requests (measured)", "one core, SQLite",
         per_year if args.requests < 50_000 else f"{total / 3600:.2f} h wall"),
    ]  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--agencies", type=int, default=60)
    parser.add_argument("--officers", type=int, default=120)
    parser.add_argument("--requests", type=int, default=10_000, help="requests simulated (the year is 50,000)")
    parser.add_argument("--batch", type=int, default=1_000, help="requests per timed batch")
    parser.add_argument("--backlog", type=int, default=2_000, help="requests open before each is answered")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    passwords.configure(time_cost=1, memory_cost=1024, parallelism=1)  # officers' logins are not what we measure
    set_default_master_key(bytes(range(32)))
    results: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine_for(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade_to_head(engine)
        ensure_keyring(engine)
        started = time.perf_counter()
        staff = setup(engine, args.customers, args.agencies, args.officers, rng)
        results.append(
            ("setup", f"{args.customers} customers, {args.officers} officers", f"{time.perf_counter() - started:.1f} s")
        )

        pdf = instrument_pdf()
        big = target_csv(1_000, args.customers, rng)
        officer = staff[0]
        agency_country = COUNTRIES[0]
        t0 = time.perf_counter()
        with session_scope(engine) as session:
            request = submit_request(session, officer, form("production", "court_order", agency_country,
                                                            ("subscriber", "transactions", "login_ip")),
                                     targets=parse_targets_csv(big), max_upload_bytes=10**7, now=NOW,
                                     instrument=pdf)  # fmt: skip
            request_id = request.id
        t1 = time.perf_counter()
        with session_scope(engine) as session:
            triaged = triage.triage(session, LRO, request_id, now=NOW)
            matched = triaged.triage["matched"]
        t2 = time.perf_counter()
        parsed = [t for t in parse_targets_csv(big) if t.valid]
        with session_scope(engine) as session:  # baseline: one query per target
            base_hits = 0
            for target in parsed:
                if target.kind == "email":
                    base_hits += bool(find_customers(session, email=target.value))
                elif target.kind == "phone":
                    base_hits += bool(find_customers(session, phone="+" + target.value))
                elif target.kind == "address":
                    base_hits += deposit_address_owner(session, "ethereum", target.value) is not None
                elif target.kind == "customer_id":
                    base_hits += session.get(Customer, target.value) is not None
        t3 = time.perf_counter()
        with session_scope(engine) as session:
            package_id = packages.draft_package(session, LRO, request_id, now=NOW).id
        t4 = time.perf_counter()
        with session_scope(engine) as session:
            packages.approve_package(session, LRO2, package_id, now=NOW)
        t5 = time.perf_counter()
        results += [
            (
                "1,000-target request: submit (parse, encrypt, store)",
                f"{len(parsed)} valid",
                f"{(t1 - t0) * 1000:.0f} ms",
            ),
            ("1,000-target request: triage + matching", f"{matched} matched", f"{(t2 - t1) * 1000:.0f} ms"),
            ("baseline: one query per target (no tx hashes)", f"{base_hits} matched", f"{(t3 - t2) * 1000:.0f} ms"),
            ("matching speed-up vs baseline", "", f"{(t3 - t2) / (t2 - t1):.1f}x"),
            ("package draft (collect, CSV/JSON/PDF, zip)", f"{matched} targets", f"{(t4 - t3) * 1000:.0f} ms"),
            ("package approve + seal (scrypt password)", "", f"{(t5 - t4) * 1000:.0f} ms"),
        ]

        for row in results:
            print("  ".join(row), flush=True)  # the single-request numbers, before the long run
        year = simulate_year(engine, staff, args, pdf, rng)
        results += year
        engine.dispose()
    width = max(len(r[0]) for r in results)
    print(f"{'measure':<{width}}  {'size':<40}  value")
    for name, scale, value in results:
        print(f"{name:<{width}}  {scale:<40}  {value}")


if __name__ == "__main__":
    main()
