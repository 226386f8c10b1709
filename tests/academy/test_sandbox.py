"""A trainee's sandbox: no seed to regenerate the world from, accounts renumbered per trainee, data prepared like
the analysts' (every exercise answerable with the workspace tools), and settings that never reach production."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chainsleuth.academy import keys as akeys
from chainsleuth.academy.sandbox import id_permutation, sandbox_env, sandbox_settings
from chainsleuth.academy.service import Academy
from chainsleuth.academy.workspace import open_workspace
from chainsleuth.academy.worlds import trainee_world
from tests.academy.conftest import COHORT, SECRET, TRAINEES, key_of

PRODUCTION_URL = "postgresql+psycopg://prod:secret@db.example/chainsleuth"


def _seed(trainee: str) -> int:
    return akeys.world_seed(akeys.academy_key(SECRET), COHORT, trainee)


@pytest.mark.parametrize("trainee", sorted(TRAINEES))
def test_the_sandbox_holds_no_seed_anywhere(academy_dir: Path, trainee: str) -> None:
    place = trainee_world(academy_dir, COHORT, trainee)
    seed = str(_seed(trainee)).encode()
    files = [p for p in place.sandbox.rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        content = path.read_bytes()
        assert seed not in content, f"the world's seed appears in {path}"
        assert b'"seed"' not in content, f"a seed field appears in {path}"
        assert b"seed =" not in content, f"a seed setting appears in {path}"
    manifest = json.loads((place.world_dir / "manifest.json").read_text())
    assert not {"seed", "customers", "size", "target_transfers", "days"} & set(manifest)
    assert "incidents" not in manifest["row_counts"]
    assert all(not name.startswith("ground_truth") for name in manifest["files"])
    # the instructor keeps the full manifest (with the seed) next to the answer key
    assert json.loads((place.key_dir / "manifest.json").read_text())["seed"] == _seed(trainee)


def test_id_permutation_is_keyed_and_keeps_the_id_set() -> None:
    ids = [f"A{i:07d}" for i in range(1, 201)]
    one, two = id_permutation(b"one", ids, "account"), id_permutation(b"two", ids, "account")
    assert sorted(one.values()) == ids
    assert sorted(two.values()) == ids
    assert one != two
    assert sum(one[i] == i for i in ids) < 20  # not the identity


def _criminal_positions(academy_dir: Path, trainee: str) -> list[int]:
    """Index of each exercise's first true account among the world's sorted account ids."""
    keys = trainee_world(academy_dir, COHORT, trainee).answer_keys()
    with open_workspace(trainee_world(academy_dir, COHORT, trainee)) as ws:
        from sqlalchemy import select

        from chainsleuth.store.models.exchange import Account

        ordered = list(ws.session.scalars(select(Account.account_id).order_by(Account.account_id)))
    return [
        ordered.index(keys[e]["accounts"][0])
        for e in ("phone-theft", "unexplained-wealth", "ransomware", "hack-laundering", "structuring")
    ]


def test_criminal_accounts_are_not_at_predictable_positions(academy_dir: Path) -> None:
    alice, bob = _criminal_positions(academy_dir, "alice"), _criminal_positions(academy_dir, "bob")
    for positions in (alice, bob):
        # generated worlds put criminals right after the ordinary customers, in typology order
        assert positions != sorted(positions) or positions[-1] - positions[0] > len(positions)
    gaps_alice = [p - alice[0] for p in alice]
    gaps_bob = [p - bob[0] for p in bob]
    assert gaps_alice != gaps_bob  # "phone-theft account + 10" does not find the structurer in both worlds


def _terminal_accounts(trace: dict[str, Any]) -> dict[str, float]:
    return {t["account_id"]: t["amount_usd"] or 0.0 for t in trace["terminals"] if t["account_id"]}


@pytest.mark.parametrize("trainee", sorted(TRAINEES))
def test_every_exercise_is_answerable_in_the_workspace(academy_dir: Path, trainee: str) -> None:
    place = trainee_world(academy_dir, COHORT, trainee)

    def key(exercise: str) -> dict[str, Any]:
        return key_of(academy_dir, trainee, exercise)

    with open_workspace(place) as ws:
        # phone theft: the trace from the victim's address ends at the thief's account, with the amount
        phone = key("phone-theft")
        reached = _terminal_accounts(ws.trace("bitcoin", phone["given"]["victim_address"]))
        assert set(reached) == set(phone["accounts"])
        assert reached[phone["accounts"][0]] == pytest.approx(phone["amount_usd"], rel=0.05)
        deposit = next(
            t["address"] for t in ws.trace("bitcoin", phone["given"]["victim_address"])["terminals"] if t["account_id"]
        )
        assert ws.find_accounts(deposit) == phone["accounts"]  # deposit address → account id
        # ransomware: the poison trace from the published ransom address reaches the affiliate's account
        ransom = key("ransomware")
        assert set(ransom["accounts"]) <= set(
            _terminal_accounts(ws.trace("bitcoin", ransom["given"]["ransom_address"]))
        )
        # hack: the trace from the hacker's address reaches a mule account (the rest is behind the mixer)
        hack = key("hack-laundering")
        assert set(hack["accounts"]) & set(
            _terminal_accounts(ws.trace("bitcoin", hack["given"]["hacker_address"], hops=12))
        )
        # unexplained wealth: monitoring flags the customer, and the account's deposits show the amount
        wealth = key("unexplained-wealth")
        account = ws.account(wealth["accounts"][0])
        flagged = {a["rule"] for a in ws.alerts(customer_id=account["customer"]["customer_id"])}
        assert "profile-inconsistent-volume" in flagged
        deposits = sum(t["usd"] for t in account["totals"] if t["event_type"] == "deposit")
        assert deposits >= 0.95 * wealth["amount_usd"]
        # structuring: the threshold rule flags the customer of the true account
        structuring = key("structuring")
        customer = ws.account(structuring["accounts"][0])["customer"]["customer_id"]
        assert structuring["accounts"][0] in ws.customer(customer)["accounts"]
        assert any(a["rule"] == "structuring-below-threshold" for a in ws.alerts(customer_id=customer))


def test_sandbox_settings_ignore_a_production_database_url(academy: Academy, monkeypatch: pytest.MonkeyPatch) -> None:
    place = academy.world(COHORT, "alice")
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", PRODUCTION_URL)
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", "/srv/production")
    settings = sandbox_settings(place)
    assert settings.resolved_database_url == place.database_url
    assert settings.data_dir == place.sandbox
    assert settings.resolved_key_file == place.key_file
    env = sandbox_env(place)
    assert env["CHAINSLEUTH_DATABASE_URL"] == place.database_url
    assert PRODUCTION_URL not in env.values()
    assert "/srv/production" not in env.values()
    toml = (place.sandbox / "chainsleuth.toml").read_text()
    assert place.database_url in toml
    assert str(place.key_file) in toml


def test_academy_run_forces_the_sandbox(academy: Academy, monkeypatch: pytest.MonkeyPatch) -> None:
    from chainsleuth.cli import academy_cmd

    ran: dict[str, Any] = {}

    def fake_run(args: list[str], *, env: dict[str, str], check: bool) -> Any:
        ran.update(args=args, env=env)

        class Done:
            returncode = 0

        return Done()

    monkeypatch.setattr(academy_cmd.subprocess, "run", fake_run)
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(academy.dir.parent))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", str(academy.engine.url.render_as_string(hide_password=False)))
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", SECRET)
    result = CliRunner().invoke(academy_cmd.app, ["run", COHORT, "alice", "--", "chain", "stats"])
    assert result.exit_code == 0, result.output
    place = academy.world(COHORT, "alice")
    assert ran["args"][-2:] == ["chain", "stats"]
    assert ran["env"]["CHAINSLEUTH_DATABASE_URL"] == place.database_url
    assert ran["env"]["CHAINSLEUTH_CONFIG"] == str(place.sandbox / "chainsleuth.toml")
    assert "CHAINSLEUTH_SECRET_KEY" not in ran["env"]
