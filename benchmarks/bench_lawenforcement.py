"""Benchmark of the law-enforcement portal: a 1,000-target request, package generation, and a simulated year.

Sets up an exchange of ``--customers`` synthetic customers (encrypted KYC fields and blind indexes, one account,
one deposit address and a few ledger events each), the example agencies plus ``--agencies`` synthetic ones, and
``--officers`` approved officers, in a fresh SQLite database (the embedded default). Then measures:

* **triage and matching of one 1,000-target request** (40% e-mails, 20% phones, 20% wallet addresses, 10% tx
  hashes, 10% customer ids; about 70% of them our customers), against a same-run baseline that resolves each
  target with its own query (``find_customers`` per e-mail/phone, ``deposit_address_owner`` per address);
* **package generation** for that request (collect, CSV/JSON/PDF, zip, encrypt at rest; then seal for the agency);
* **the year**: ``--requests`` requests with realistic target lists (log-normal sizes, median 3, a few hundred
  at most) through submit, triage, and an outcome (60% package drafted and approved by a second person, 20%
  declined, 10% preservation proposals, 10% emergency call-back + package). The full 50,000 are extrapolated
  from the measured rate (the run prints both).

Run: ``python benchmarks/bench_lawenforcement.py`` (``--requests 50000`` for the unscaled year).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from chainsleuth.api.deps import Principal
from chainsleuth.lawenforcement import agencies, officers, packages, responses, triage
from chainsleuth.lawenforcement.requests import Submission, submit_request
from chainsleuth.lawenforcement.targets import parse_targets_csv
from chainsleuth.privacy import passwords
from chainsleuth.privacy.fields import find_customers
from chainsleuth.privacy.keyring import ensure_keyring, set_default_master_key
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.exchange_read import deposit_address_owner
from chainsleuth.store.migrate import upgrade_to_head
from chainsleuth.store.models.exchange import Account, Balance, Customer, DepositAddress
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
                "public_key": None,
                "active": True,
                "contacts": [{"name": "Desk", "phone": f"+1 555 {n:07d}", "email": "", "role": ""}],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--agencies", type=int, default=60)
    parser.add_argument("--officers", type=int, default=120)
    parser.add_argument("--requests", type=int, default=1_000, help="requests simulated (the year is 50,000)")
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

        outcomes = {"package": 0, "decline": 0, "preserve": 0, "emergency": 0}
        year_start = time.perf_counter()
        for n in range(args.requests):
            who = staff[n % len(staff)]
            size = max(1, min(400, int(rng.lognormvariate(1.1, 1.0))))
            roll = rng.random()
            country = COUNTRIES[(n % len(staff)) % args.agencies % len(COUNTRIES)]
            if roll < 0.1:
                spec = form("emergency_disclosure", "emergency", country, ("subscriber",))
            elif roll < 0.2:
                spec = form("preservation", "preservation_letter", country, ())
            else:
                spec = form("production", "court_order", country, ("subscriber", "transactions"))
            at = NOW + timedelta(minutes=10 * n)
            with session_scope(engine) as session:
                listed = parse_targets_csv(target_csv(size, args.customers, rng))
                rid = submit_request(session, who, spec, targets=listed,
                                     max_upload_bytes=10**7, now=at, instrument=pdf).id  # fmt: skip
            with session_scope(engine) as session:
                request = triage.triage(session, LRO, rid, now=at)
                kind = request.request_type
                if kind == "emergency_disclosure":
                    responses.record_callback(session, LRO, rid, phone=callback_number(who), outcome="confirmed",
                                              called_at=at, now=at)  # fmt: skip
                    outcomes["emergency"] += 1
                elif kind == "preservation":
                    if request.triage["matched"]:
                        responses.propose_actions(session, LRO, rid, expires_at=at + timedelta(days=90), now=at)
                    outcomes["preserve"] += 1
                    continue
                if roll > 0.8 or not request.triage["matched"]:
                    responses.decline(session, LRO, rid, template="no_records", now=at)
                    outcomes["decline"] += 1
                    continue
                package_id = packages.draft_package(session, LRO, rid, now=at).id
            with session_scope(engine) as session:
                packages.approve_package(session, LRO2, package_id, now=at)
                outcomes["package"] += 1
        year = time.perf_counter() - year_start
        per = year / args.requests
        results += [
            ("simulated requests (scaled run)", f"{args.requests}: {outcomes}", f"{year:.1f} s"),
            ("per request (submit, triage, outcome)", "", f"{per * 1000:.0f} ms"),
            (
                "the year: 50,000 requests (extrapolated)" if args.requests < 50_000 else "the year: 50,000 requests",
                "one core, SQLite",
                f"{per * 50_000 / 3600:.2f} h",
            ),
        ]
        engine.dispose()
    width = max(len(r[0]) for r in results)
    print(f"{'measure':<{width}}  {'size':<40}  value")
    for name, scale, value in results:
        print(f"{name:<{width}}  {scale:<40}  {value}")


if __name__ == "__main__":
    main()
