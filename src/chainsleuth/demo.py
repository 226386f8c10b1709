"""The demo pipeline: a generated world, ingested into both stores, with seeded users, ready to serve.

This sits at the end of the data flow (like the web layer) because it drives every capability in order:
world -> ingest (ledger, chains) -> stores -> analytics. Each later capability adds its step here, so the demo always
shows everything the product can do, on the same code paths a real deployment uses.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import Progress, TaskID
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.api.deps import Principal
from chainsleuth.chain.attribution.store import find_tags, import_tagpack
from chainsleuth.chain.clustering import ClusterOptions, cluster_chain
from chainsleuth.chain.clustering.quality import wallets_from_tags
from chainsleuth.config import Settings
from chainsleuth.demo_story import seed_demo_story
from chainsleuth.errors import ConflictError, InvalidInputError
from chainsleuth.ingest.etl import IngestReport, ingest_world_chains
from chainsleuth.ingest.etl_common import IngestProgress
from chainsleuth.ingest.ledger import LoadReport, load_exchange
from chainsleuth.lawenforcement.demo_seed import seed_demo_officer
from chainsleuth.monitor.models.backfill import Backfill, train_and_backfill
from chainsleuth.monitor.rules import load_rules
from chainsleuth.monitor.service import MonitorRun, run_rules_over_store
from chainsleuth.privacy.keyfile import create_key_file
from chainsleuth.privacy.keyring import configure_privacy
from chainsleuth.privacy.policy import SystemActor
from chainsleuth.store.chainstore import ChainStore
from chainsleuth.store.db import create_engine_for, session_scope
from chainsleuth.store.migrate import upgrade_to_head
from chainsleuth.store.models.tags import Tag
from chainsleuth.store.models.users import Role
from chainsleuth.store.users import seed_demo_users
from chainsleuth.world.config import WorldConfig

WORLD_SUBDIR = "world"


@dataclass
class DemoReport:
    """What the demo prepared, for the summary it prints."""

    world_dir: Path
    world: dict[str, Any]
    generated: bool
    ledger: LoadReport
    chains: IngestReport
    chain_stats: dict[str, dict[str, Any]]
    database_url: str
    tags: int = 0
    tagpacks: int = 0
    clusters: dict[str, tuple[int, int]] = field(default_factory=dict)
    monitoring: MonitorRun | None = None
    model: Backfill | None = None
    model_skipped: str | None = None  # why no model was trained (too few labelled customers in a small world)
    users: list[tuple[str, str, str]] = field(default_factory=list)
    officer_totp_secret: str = ""

    def summary_rows(self) -> list[tuple[str, str]]:
        counts = self.world.get("row_counts", {})
        rows = [
            ("world", f"{self.world_dir} ({'generated now' if self.generated else 'reused'})"),
            ("seed / size", f"{self.world.get('seed')} / {self.world.get('size')}"),
            ("customers", f"{counts.get('customers', 0):,}"),
            ("on-chain transfers", f"{self.world.get('transfers', 0):,}"),
            ("ledger events", f"{counts.get('ledger_events', 0):,}"),
            ("exchange rows loaded now", f"{self.ledger.rows_inserted:,}"),
            ("attribution tags", f"{self.tags:,} from {self.tagpacks} TagPacks"),
            ("database", self.database_url),
        ]
        for chain, stats in sorted(self.chain_stats.items()):
            rows.append(
                (
                    f"{chain} chain",
                    f"blocks {stats['first_block']}..{stats['height']}, "
                    f"{stats['rows'].get('transactions', 0):,} transactions, {stats['addresses']:,} addresses",
                )
            )
        for chain, (addresses, clusters) in sorted(self.clusters.items()):
            rows.append((f"{chain} clustering", f"{addresses:,} addresses in {clusters:,} clusters"))
        if self.monitoring is not None and self.monitoring.stored is not None:
            stored = self.monitoring.stored
            rows.append(
                (
                    "monitoring (rule library)",
                    f"{self.monitoring.hits:,} rule hits: {stored.created:,} new alerts, {stored.updated:,} updated, "
                    f"{stored.shadow_hits:,} shadow hits",
                )
            )
        if self.model is not None:
            m = self.model
            auc = f", validation PR-AUC {m.validation_pr_auc:.2f}" if m.validation_pr_auc is not None else ""
            rows.append(
                (
                    "monitoring (model)",
                    f"trained on cases confirmed by {_day(m.cut)}{auc}; {m.weeks} weekly scorings since alerted "
                    f"{m.customers_alerted:,} customers ({m.created:,} new alerts, {m.updated:,} updates)",
                )
            )
        elif self.model_skipped:
            rows.append(("monitoring (model)", f"not trained: {self.model_skipped}"))
        return rows


def _day(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).date().isoformat()


class _RichTasks:
    """Adapts the stores' progress callbacks to one rich progress bar with a task per stage."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def update(self, label: str, done: int, total: int | None) -> None:
        if self.progress is None:
            return
        if label not in self.tasks:
            self.tasks[label] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[label], completed=done, total=total)

    def ledger(self) -> Callable[[str, int, int], None]:
        return lambda table, done, total: self.update(f"load {table}", done, total)

    def chains(self) -> Callable[[IngestProgress], None]:
        def _update(state: IngestProgress) -> None:
            total = None if state.target_block is None else state.target_block - state.start_block + 1
            self.update(f"ingest {state.chain}", state.height - state.start_block + 1, total)

        return _update


def _read_manifest(world_dir: Path) -> dict[str, Any] | None:
    manifest = world_dir / "manifest.json"
    if not manifest.is_file():
        return None
    data: dict[str, Any] = json.loads(manifest.read_text())
    return data


def reset_demo_data(data_dir: Path) -> None:
    """Remove what the demo created under ``data_dir`` (only the demo's own files, never the directory itself)."""
    for name in (WORLD_SUBDIR, "chain"):
        shutil.rmtree(data_dir / name, ignore_errors=True)
    for path in data_dir.glob("chainsleuth.db*"):
        path.unlink()


def prepare_demo(
    settings: Settings, *, size: str, seed: int, regenerate: bool = False, progress: Progress | None = None
) -> DemoReport:
    """Generate (or reuse) the world under the data directory, load it, and seed the demo users."""
    from chainsleuth.world import generate_world

    data_dir = settings.data_dir
    if regenerate:
        reset_demo_data(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.resolved_key_file.exists():
        create_key_file(settings.resolved_key_file)
    tasks = _RichTasks(progress)

    world_dir = data_dir / WORLD_SUBDIR
    config = WorldConfig.from_size(size, seed=seed)
    manifest = _read_manifest(world_dir)
    generated = False
    if manifest is None:
        if world_dir.exists():
            shutil.rmtree(world_dir)  # an interrupted generation: start it again
        generate_world(config, world_dir, progress=lambda done, total: tasks.update("generate world", done, total))
        manifest = _read_manifest(world_dir) or {}
        generated = True
    elif (manifest.get("seed"), manifest.get("target_transfers")) != (config.seed, config.transfers):
        raise ConflictError(
            "the demo data directory holds a different world; run again with --regenerate to replace it",
            data_dir=str(data_dir),
            existing_seed=manifest.get("seed"),
            requested_seed=seed,
        )

    engine = create_engine_for(settings.resolved_database_url)
    configure_privacy(engine, settings)
    try:
        upgrade_to_head(engine)
        ledger = load_exchange(world_dir, engine, tasks.ledger())
        store = ChainStore(settings.chain_dir)
        chains = ingest_world_chains(world_dir, store, tasks.chains())
        with session_scope(engine) as session:
            tags, tagpacks = import_world_tagpacks(session, world_dir)
            exchange_wallets = wallets_from_tags(
                store, "ethereum", find_tags(session, network="ethereum", category="exchange")
            )
            users = [(name, password, role.value) for name, password, role in seed_demo_users(session)]
            admin = Principal(username="admin", display_name="Alex Admin", role=Role.ADMIN, agency_id=None)
            officer_totp = seed_demo_officer(session, admin)
        clusters = {
            "bitcoin": cluster_chain(store, "bitcoin"),
            "ethereum": cluster_chain(store, "ethereum", ClusterOptions(hot_wallets=exchange_wallets)),
        }
        with session_scope(engine) as session:
            monitoring = run_rules_over_store(engine, session, load_rules(), chain_store=store)  # indirect exposure
        tasks.update("train the detector and score each week", 0, None)
        model: Backfill | None = None
        model_skipped = None
        try:  # the world's ground truth stands in for the cases the exchange has confirmed
            labels = world_dir / "ground_truth" / "customer_labels.csv"
            model = train_and_backfill(engine, labels, data_dir / "models" / "ledger", SystemActor("demo"))
        except InvalidInputError as error:
            model_skipped = error.message
        tasks.update("train the detector and score each week", 1, 1)
        seed_demo_story(engine, store, world_dir, upload_limit=settings.max_upload_bytes)  # cases, approvals, requests
    finally:
        engine.dispose()
    return DemoReport(
        world_dir=world_dir,
        world=manifest,
        generated=generated,
        ledger=ledger,
        chains=chains,
        chain_stats=store.stats(),
        database_url=settings.resolved_database_url,
        tags=tags,
        tagpacks=tagpacks,
        clusters={chain: (report.addresses, report.clusters) for chain, report in clusters.items()},
        monitoring=monitoring,
        model=model,
        model_skipped=model_skipped,
        users=users,
        officer_totp_secret=officer_totp,
    )


def import_world_tagpacks(session: Session, world_dir: Path) -> tuple[int, int]:
    """Import the world's public attribution; re-importing unchanged packs adds nothing. Returns (tags, packs)."""
    packs = sorted((world_dir / "tagpacks").glob("*.yaml"))
    for pack in packs:
        import_tagpack(session, pack)
    return session.scalar(select(func.count()).select_from(Tag)) or 0, len(packs)
