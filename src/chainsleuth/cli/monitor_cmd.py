"""``chainsleuth monitor``: rules, batch runs over the store's ledger, backtests and alerts.

Rules come from the shipped library unless ``--rules`` names files or directories. ``run`` evaluates them over
the relational store's ledger and stores alerts (and shadow-mode hits) there; ``backtest`` measures them on a
generated world against its ground truth.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from chainsleuth.config import get_settings
from chainsleuth.monitor.rules.loader import load_rules
from chainsleuth.monitor.rules.model import RuleSet
from chainsleuth.store.db import open_store, session_scope

app = typer.Typer(help="Transaction monitoring: rules, batch runs, backtests and alerts.", no_args_is_help=True)
rules_app = typer.Typer(help="The rule library and your own rule files.", no_args_is_help=True)
alerts_app = typer.Typer(help="Stored alerts (trigger warnings).", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(alerts_app, name="alerts")
stdout = Console()

RulePaths = Annotated[
    list[Path] | None, typer.Option("--rules", "-r", help="Rule files or directories (default: the library).")
]


def _rules(paths: list[Path] | None) -> RuleSet:
    return load_rules(paths or None)


@contextmanager
def _store() -> Iterator[Engine]:
    engine = open_store(get_settings().resolved_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@rules_app.command("list")
def rules_list(rules: RulePaths = None) -> None:
    """List rules: id, version, mode, severity, content hash, scope and title (one line each)."""
    for rule in _rules(rules):
        typer.echo(
            f"{rule.id:38} v{rule.version:<3} {rule.mode:6} {rule.severity:8} {rule.content_hash[:12]} "
            f"[{','.join(rule.scope)}] {rule.title}"
        )


@rules_app.command("show")
def rules_show(rule_id: str, rules: RulePaths = None, sql: bool = typer.Option(False, help="Print its SQL.")) -> None:
    """Show one rule's definition (and, with --sql, the batch engine's query)."""
    try:
        rule = _rules(rules).get(rule_id)
    except KeyError:
        stdout.print(f"[red]no rule {rule_id!r}[/]")
        raise typer.Exit(1) from None
    stdout.print_json(json.dumps(rule.definition(), default=str))
    if sql:
        from chainsleuth.monitor.engine.batch import rule_sql

        stdout.print(rule_sql(rule)[0], markup=False, highlight=False)


@rules_app.command("validate")
def rules_validate(paths: list[Path]) -> None:
    """Load and compile rule files; the first error names the file, rule, line and column (exit 65)."""
    loaded = load_rules(paths)
    stdout.print(f"{len(loaded)} rules valid ({sum(r.mode == 'shadow' for r in loaded)} in shadow mode)")


def _store_context(session: Session) -> object:
    from chainsleuth.monitor.service import store_context

    return store_context(session)


@app.command("run")
def run(
    rules: RulePaths = None,
    batch: bool = typer.Option(True, "--batch/--stream", help="DuckDB batch (default) or the streaming engine."),
    dry_run: bool = typer.Option(False, help="Report what would be stored, store nothing."),
    exposure_hops: int = typer.Option(3, min=1, help="Hops of indirect exposure (chain store)."),
    exposure_min_share: float = typer.Option(0.0, min=0.0, max=1.0, help="Ignore indirect shares below this."),
) -> None:
    """Run the rules over the relational store's ledger and store alerts and shadow hits."""
    from chainsleuth.monitor.service import run_rules_over_store
    from chainsleuth.store.chainstore import ChainStore

    ruleset = _rules(rules)
    # Indirect exposure (issue 4): the configured chain store, when one was ingested.
    chain_dir = get_settings().chain_dir
    chain_store = ChainStore(chain_dir) if Path(chain_dir).is_dir() else None
    with _store() as engine, session_scope(engine) as session:
        result = run_rules_over_store(
            engine, session, ruleset, streaming=not batch, dry_run=dry_run, chain_store=chain_store,
            exposure_hops=exposure_hops, exposure_min_share=exposure_min_share,
        )  # fmt: skip
    if result.stored is None:
        stdout.print(f"{result.hits} hits, {result.alerts} alerts, {result.shadow_hits} shadow hits")
        return
    stdout.print(
        f"{result.hits} hits: {result.stored.created} alerts created, {result.stored.updated} updated, "
        f"{result.stored.shadow_hits} shadow hits recorded"
    )


@app.command("backtest")
def backtest_cmd(
    world_dir: Path,
    rules: RulePaths = None,
    engine: str = typer.Option("batch", help="batch or streaming"),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON here."),
    store: bool = typer.Option(False, help="Store the report in the relational store."),
) -> None:
    """Backtest rules on a generated world: precision and recall per rule, overall and per typology."""
    from chainsleuth.monitor.alerts.store import store_backtest
    from chainsleuth.monitor.backtest import backtest

    if engine not in ("batch", "streaming"):
        raise typer.BadParameter("engine must be batch or streaming")
    ruleset = _rules(rules)
    report = backtest(world_dir, ruleset, engine=engine)
    typer.echo(report.table())
    if json_out is not None:
        json_out.write_text(report.to_json(), encoding="utf-8")
    if store:
        with _store() as db, session_scope(db) as session:
            number = store_backtest(session, str(world_dir), engine, ruleset, report.as_dict())
        stdout.print(f"stored as backtest {number}")


@alerts_app.command("list")
def alerts_list(
    queue: str | None = None,
    status: str | None = None,
    rule: str | None = None,
    customer: str | None = None,
    limit: int = 50,
) -> None:
    """Stored alerts, highest combined score first."""
    from chainsleuth.monitor.alerts.store import list_alerts

    with _store() as engine, session_scope(engine) as session:
        rows, total = list_alerts(session, queue=queue, status=status, rule_id=rule, customer_id=customer, limit=limit)
        for row in rows:
            typer.echo(
                f"{row.id:>6} {row.queue:13} {row.severity:8} {row.combined_score:5.1f} "
                f"{row.rule_id} v{row.rule_version}  {row.subject_type}:{row.subject_id}  hits {row.hit_count}  "
                f"last {row.last_event_at.isoformat()}  {row.status}"
            )
    stdout.print(f"{len(rows)} of {total} alerts")


@alerts_app.command("show")
def alerts_show(alert_id: int) -> None:
    """One alert with its explanation, values, thresholds, events and chain evidence."""
    from chainsleuth.monitor.alerts.store import alert_view, get_alert

    with _store() as engine, session_scope(engine) as session:
        view = alert_view(get_alert(session, alert_id))
    stdout.print_json(json.dumps(view, default=str))
