"""Each rule of the shipped library fires on a crafted positive and stays silent on a crafted negative.

Every case runs through both engines (``both`` asserts they agree), so these are also small batch = streaming
checks on realistic sequences.
"""

from __future__ import annotations

from tests.monitor.rule_helpers import both, context, customer, event, library, tag

DEPOSIT_ADDR = "0x" + "1" * 40
SANCTIONED = "0x" + "5" * 40
MIXER = "0x" + "6" * 40


def ids(hits: list, rule_id: str) -> list[str]:  # type: ignore[type-arg]
    return [hit.event_id for hit in hits if hit.rule_id == rule_id]


def test_library_loads_with_fatf_tags() -> None:
    rules = library()
    assert len(rules) >= 15
    for rule in rules:
        assert any(t.startswith("fatf-va-rf:") for t in rule.tags), rule.id
        assert rule.explain
        assert rule.description


def test_structuring() -> None:
    rules = library("structuring-below-threshold")
    positive = [event("fiat_deposit", 30 * i, usd_value=9_400.0 + i, asset="USD", amount=9_400 + i) for i in range(4)]
    hits = both(positive, rules)
    assert ids(hits, "structuring-below-threshold") == [positive[2]["event_id"], positive[3]["event_id"]]
    assert "within 0.1" in hits[0].explanation
    # Same amounts spread over three weeks, or above the threshold: nothing.
    spread = [event("fiat_deposit", 24 * 8 * i, usd_value=9_400.0) for i in range(4)]
    above = [event("fiat_deposit", 30 * i, usd_value=10_400.0) for i in range(4)]
    assert both(spread + above, rules) == []


def test_rapid_pass_through() -> None:
    rules = library("rapid-pass-through")
    dep = event("deposit", 0, usd_value=30_000.0)
    out = event("withdrawal", 20, usd_value=29_500.0, address="0xdest")
    assert ids(both([dep, out], rules), "rapid-pass-through") == [out["event_id"]]
    # A trade in between, or a withdrawal three days later: no pass-through.
    traded = [event("deposit", 0, "C0000002", usd_value=30_000.0), event("trade", 5, "C0000002", usd_value=30_000.0),
              event("withdrawal", 20, "C0000002", usd_value=29_500.0)]  # fmt: skip
    late = [event("deposit", 0, "C0000003", usd_value=30_000.0),
            event("withdrawal", 80, "C0000003", usd_value=29_500.0)]  # fmt: skip
    assert both(traded + late, rules) == []


def test_new_account_high_value() -> None:
    rules = library("new-account-high-value")
    ctx = context([customer("C0000001", age_days=5), customer("C0000002", age_days=400)])
    young = [event("deposit", 0, usd_value=20_000.0), event("deposit", 24, usd_value=10_000.0)]
    old = [event("deposit", 0, "C0000002", usd_value=20_000.0), event("deposit", 24, "C0000002", usd_value=10_000.0)]
    hits = both(young + old, rules, ctx)
    assert ids(hits, "new-account-high-value") == [young[1]["event_id"]]


def test_credential_change_full_withdrawal() -> None:
    rules = library("credential-change-full-withdrawal")
    dep = event("deposit", 0, usd_value=50_000.0)
    change = event("credential_change", 1, change_type="email")
    out = event("withdrawal", 30, usd_value=49_000.0, address="bc1qnewaddress")
    assert ids(both([dep, change, out], rules), "credential-change-full-withdrawal") == [out["event_id"]]
    # Without a credential change, or to an address already used within 30 days: nothing.
    c2 = "C0000002"
    used = [event("deposit", 0, c2, usd_value=50_000.0), event("withdrawal", 2, c2, usd_value=100.0, address="bc1qold"),
            event("credential_change", 3, c2, change_type="phone"),
            event("withdrawal", 30, c2, usd_value=49_000.0, address="bc1qold")]  # fmt: skip
    plain = [event("deposit", 0, "C0000003", usd_value=50_000.0),
             event("withdrawal", 30, "C0000003", usd_value=49_000.0, address="bc1qother")]  # fmt: skip
    assert both(used + plain, rules) == []


def test_dormant_reactivation() -> None:
    rules = library("dormant-reactivation")
    first = event("login", 0, ip="1.2.3.4", device_id="D1")
    wake = event("deposit", 24 * 90, usd_value=80_000.0)
    assert ids(both([first, wake], rules), "dormant-reactivation") == [wake["event_id"]]
    # Active in between (a trade 20 days earlier): not dormant.
    c2 = "C0000002"
    busy = [event("login", 0, c2), event("trade", 24 * 70, c2, usd_value=100.0),
            event("deposit", 24 * 90, c2, usd_value=80_000.0)]  # fmt: skip
    assert both(busy, rules) == []


def test_shared_device_and_ip() -> None:
    rules = library("shared-device", "shared-ip")
    logins = [event("login", i, f"C000001{i}", device_id="Dshared", ip="10.0.0.1") for i in range(4)]
    hits = both(logins, rules)
    assert ids(hits, "shared-device") == [logins[2]["event_id"], logins[3]["event_id"]]
    assert ids(hits, "shared-ip") == [logins[3]["event_id"]]
    assert {hit.subject_id for hit in hits if hit.rule_id == "shared-device"} == {"Dshared"}
    # One customer, many logins; and distinct devices: nothing.
    same = [event("login", i, "C0000020", device_id="Dmine", ip="10.0.0.2") for i in range(6)]
    apart = [event("login", i, f"C000003{i}", device_id=f"D{i}", ip=f"10.0.1.{i}") for i in range(5)]
    assert both(same + apart, rules) == []


def test_fan_in_funnel() -> None:
    rules = library("fan-in-funnel")
    sends = [event("internal_transfer", i, f"C000004{i}", usd_value=1_500.0, counterparty_account_id="A0000099",
                   counterparty_customer_id="C0000099") for i in range(3)]  # fmt: skip
    hits = both(sends, rules)
    assert ids(hits, "fan-in-funnel") == [sends[2]["event_id"]]
    assert hits[0].subject_type == "counterparty"
    assert hits[0].subject_id == "A0000099"
    repeat = [event("internal_transfer", i, "C0000050", usd_value=1_500.0, counterparty_account_id="A0000098")
              for i in range(5)]  # fmt: skip
    assert both(repeat, rules) == []


def test_round_amounts() -> None:
    rules = library("round-amounts")
    rounds = [event("fiat_deposit", 24 * 5 * i, usd_value=float(5_000 * (i + 1))) for i in range(3)]
    assert ids(both(rounds, rules), "round-amounts") == [rounds[2]["event_id"]]
    odd = [event("fiat_deposit", 24 * 5 * i, "C0000002", usd_value=5_000.0 + 17 * (i + 1)) for i in range(3)]
    assert both(odd, rules) == []


def test_exposure_rules_on_deposits_and_withdrawals() -> None:
    rules = library("exposure-sanctions", "exposure-mixer", "exposure-scam")
    ctx = context(
        tags=[
            tag(SANCTIONED, "organization", "sanction"),
            tag(MIXER, "mixing_service"),
            tag("0x" + "7" * 40, "perpetrator", "investment_fraud"),
        ],
        senders={"0xtx1": SANCTIONED, "0xtx2": MIXER, "0xtx3": "0x" + "8" * 40},
    )
    dep1 = event("deposit", 0, chain="ethereum", tx_hash="0xtx1", address=DEPOSIT_ADDR, usd_value=1_000.0)
    dep2 = event("deposit", 1, chain="ethereum", tx_hash="0xtx2", address=DEPOSIT_ADDR, usd_value=1_000.0)
    clean = event("deposit", 2, chain="ethereum", tx_hash="0xtx3", address=DEPOSIT_ADDR, usd_value=1_000.0)
    scam = event("withdrawal", 3, chain="ethereum", tx_hash="0xtx4", address="0x" + "7" * 40, usd_value=900.0)
    hits = both([dep1, dep2, clean, scam], rules, ctx)
    assert {(h.rule_id, h.event_id) for h in hits} == {
        ("exposure-sanctions", dep1["event_id"]),
        ("exposure-mixer", dep2["event_id"]),
        ("exposure-scam", scam["event_id"]),
    }
    sanction_hit = next(h for h in hits if h.rule_id == "exposure-sanctions")
    assert sanction_hit.evidence[0]["evidence"][0]["address"] == SANCTIONED
    assert sanction_hit.values["exposure_sanctions"] == 1.0


def test_profile_inconsistent_volume() -> None:
    rules = library("profile-inconsistent-volume")
    ctx = context([customer("C0000001", declared_annual_income_usd=9_000, occupation="student"),
                   customer("C0000002", declared_annual_income_usd=900_000)])  # fmt: skip
    student = [event("deposit", 24 * i, usd_value=500_000.0) for i in range(2)]
    rich = [event("deposit", 24 * i, "C0000002", usd_value=300_000.0) for i in range(2)]
    hits = both(student + rich, rules, ctx)
    assert ids(hits, "profile-inconsistent-volume") == [e["event_id"] for e in student]
    assert "student" in hits[0].explanation
    assert "9,000" in hits[0].explanation


def test_high_risk_geography() -> None:
    rules = library("high-risk-geography-login", "high-risk-nationality-large-deposit")
    ctx = context([customer("C0000001"), customer("C0000002", country_of_residence="NG", nationality="NG")])
    abroad = event("login", 0, ip_country="VN", ip="1.1.1.1", device_id="D1")
    home = event("login", 1, "C0000002", ip_country="NG", ip="2.2.2.2", device_id="D2")
    local = event("login", 2, ip_country="DE", ip="3.3.3.3", device_id="D3")
    big = event("deposit", 3, "C0000002", usd_value=20_000.0)
    hits = both([abroad, home, local, big], rules, ctx)
    assert {(h.rule_id, h.event_id, h.mode) for h in hits} == {
        ("high-risk-geography-login", abroad["event_id"], "active"),
        ("high-risk-nationality-large-deposit", big["event_id"], "shadow"),
    }
