"""The demo's seeded work in progress (``chainsleuth.demo_story``) on the tiny world, on SQLite and PostgreSQL:
every page has something on a first visit, each step is audited as its seeded user, and a re-run adds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from chainsleuth.api.deps import Principal
from chainsleuth.config import Settings
from chainsleuth.demo_story import CASE_TITLE, LE_CASE_NUMBER, StoryReport, seed_demo_story
from chainsleuth.lawenforcement.demo_seed import seed_demo_officer
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import session_scope
from chainsleuth.store.models import AuditEntry
from chainsleuth.store.models.alerts import MonitorBacktest, MonitorShadowHit
from chainsleuth.store.models.cases import AccountAction, Case, CaseEvidence, CaseLink
from chainsleuth.store.models.lawenforcement import LeRequest
from chainsleuth.store.models.rule_modes import MonitorRuleMode
from chainsleuth.store.models.users import Role
from tests.web.helpers import loaded_world, login, web_client
from tests.web.test_alerts_cases import phone_theft, run_monitoring

ADMIN = Principal(username="admin", display_name="Alex Admin", role=Role.ADMIN, agency_id=None)


@pytest.fixture(scope="module")
def seeded(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Engine, StoryReport]]:
    with loaded_world(tiny_world, module_database_url, tmp_path_factory.mktemp("demo-story")) as (settings, engine):
        run_monitoring(engine)
        with session_scope(engine) as session:
            seed_demo_officer(session, ADMIN)
        report = seed_demo_story(engine, ChainStore(settings.chain_dir), tiny_world)
        yield settings, engine, report


def _counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return {model.__name__: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Case, CaseLink, CaseEvidence, AccountAction, LeRequest, MonitorRuleMode,
                              MonitorShadowHit, MonitorBacktest)}  # fmt: skip


def _actors(engine: Engine, action: str) -> set[str]:
    with session_scope(engine) as session:
        return set(session.scalars(select(AuditEntry.actor).where(AuditEntry.action == action)))


def test_the_story_is_seeded_through_the_services_as_the_seeded_users(
    seeded: tuple[Settings, Engine, StoryReport], tiny_world: Path
) -> None:
    _, engine, report = seeded
    truth = phone_theft(tiny_world)
    assert report.skipped == []
    assert report.account_id == truth["account"]  # found by the trace, not read from the ground truth
    with session_scope(engine) as session:
        case = session.get(Case, report.case_id)
        assert case is not None
        assert case.title == CASE_TITLE
        assert case.created_by == "senior"
        links = {(link.link_type, link.target) for link in session.scalars(select(CaseLink))}
        assert ("address", truth["victim"]) in links
        assert ("account", truth["account"]) in links
        trace = session.scalars(select(CaseEvidence).where(CaseEvidence.kind == "trace")).one()
        assert truth["deposit"] in (trace.content or "")
        freeze = session.get(AccountAction, report.freeze_action_id)
        assert freeze is not None
        assert (freeze.kind, freeze.status, freeze.proposed_by) == ("freeze", "proposed", "senior")
        request = session.scalars(select(LeRequest).where(LeRequest.case_number == LE_CASE_NUMBER)).one()
        assert request.officer_username == "officer"
        assert request.status == "submitted"
        assert request.instrument_sha256
        mode = session.get(MonitorRuleMode, report.shadow_rule)
        assert mode is not None
        assert mode.mode == "shadow"
        assert mode.changed_by == "compliance"
        assert report.shadow_hits > 0
        assert session.get(MonitorBacktest, report.backtest_id) is not None
    assert _actors(engine, "case.create") == {"senior"}
    assert "senior" in _actors(engine, "action.propose")
    assert _actors(engine, "le_request.submit") == {"officer"}
    assert _actors(engine, "rules.demote") == {"compliance"}
    assert _actors(engine, "rules.backtest") == {"compliance"}


def test_a_second_run_adds_nothing(seeded: tuple[Settings, Engine, StoryReport], tiny_world: Path) -> None:
    settings, engine, first = seeded
    before = _counts(engine)
    again = seed_demo_story(engine, ChainStore(settings.chain_dir), tiny_world)
    assert _counts(engine) == before
    assert set(again.skipped) == {"case", "freeze", "le_request", "shadow", "backtest"}
    assert (again.case_id, again.freeze_action_id, again.le_reference, again.backtest_id) == (
        first.case_id, first.freeze_action_id, first.le_reference, first.backtest_id)  # fmt: skip


def test_the_first_visit_shows_every_queue(seeded: tuple[Settings, Engine, StoryReport], tiny_world: Path) -> None:
    settings, engine, report = seeded
    with web_client(settings, engine, tiny_world) as client:
        login(client, "compliance")
        dashboard = client.get("/dashboard").text
        for section in ("section-alerts", "section-cases", "section-approvals"):
            assert section in dashboard
        approvals = dashboard.split('id="section-approvals"')[1].split("</section>")[0]
        assert "1 proposed account action" in approvals
        inbox = client.get("/approvals").text
        assert f'id="approve-{report.freeze_action_id}"' in inbox  # compliance is the second officer
        assert CASE_TITLE.split(":")[0] in client.get("/cases").text
        assert f"Backtest #{report.backtest_id}" in client.get("/rules/backtests").text
        assert 'id="shadow-hits-table"' in client.get("/rules/shadow-hits").text
        assert "disclosure package" not in approvals  # compliance does not approve packages
        login(client, "leresponse")
        packages = client.get("/dashboard").text.split('id="section-approvals"')[1].split("</section>")[0]
        assert "0 disclosure packages" in packages  # the LE-response team's count, zero included
        assert LE_CASE_NUMBER in client.get("/le/queue").text or str(report.le_reference) in client.get(
            "/le/queue").text  # fmt: skip


def test_empty_queues_still_show_on_the_dashboard(
    module_database_url: str, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Without any case or proposal the sections are there, with zero and an empty-state line."""
    if "postgresql" in module_database_url:
        pytest.skip("one database is enough for the empty state (the module's world is seeded)")
    data_dir = tmp_path_factory.mktemp("demo-story-empty")
    url = f"sqlite:///{data_dir / 'empty.db'}"
    from chainsleuth.store.migrate import upgrade_to_head

    upgrade_to_head(url)
    with loaded_world(tiny_world, url, data_dir) as (settings, engine), web_client(settings, engine,
                                                                                    tiny_world) as client:  # fmt: skip
        login(client, "compliance")
        html = client.get("/dashboard").text
        for section in ("section-cases", "section-approvals", "section-alerts"):
            assert "empty-state" in html.split(f'id="{section}"')[1].split("</section>")[0]
        with session_scope(engine) as session:
            listed = session.scalar(select(func.count()).where(AuditEntry.action == "case.list"))
        assert listed == 0  # counting cases for the dashboard is not a case-list read
