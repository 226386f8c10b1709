"""Turning a freshly generated world into a trainee's sandbox: nothing that gives answers away, data prepared
like the analysts', and settings that cannot reach the platform's own database.

Three things a raw generated world gets wrong for training, and why each is fixed here:

* **its manifest names the seed and the generation parameters**: with them anyone can run ``chainsleuth world
  generate`` and obtain the instructor-only ground truth byte for byte. :func:`scrub_manifest` rewrites it with
  the time range, constants and file hashes only;
* **its account and customer ids are sequential, criminals last**: the thief is always the first id after the
  ordinary customers, the other criminals follow in a fixed order, so one solved exercise predicts the others.
  :func:`remap_ids` applies a keyed permutation (different per trainee, unpredictable without the academy key)
  to every account and customer id in the exchange files *and* the ground truth before the answer key is read,
  so ledger, answer keys and every page agree;
* **it is only loaded, not prepared**: the analysts' data has tags imported, clusters built and monitoring run,
  so a trace stops at the exchange's account and alerts exist. :func:`prepare` runs the same steps as the demo.

:func:`sandbox_settings` and :func:`sandbox_env` give explicit settings for the sandbox: environment variables win
over a TOML file in the settings' priority, so a ``CHAINSLEUTH_DATABASE_URL`` set for production would otherwise
send "sandbox" work to the real customer database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from chainsleuth.academy.worlds import TraineeWorld
    from chainsleuth.config import Settings

#: Manifest fields kept in the sandbox: nothing that (with the generator) reproduces the world.
_MANIFEST_KEEP = (
    "generator",
    "generator_version",
    "format",
    "time_range",
    "constants",
    "our_exchange_entity_id",
    "ethereum_genesis_alloc",
)
#: Row counts of files that stay in the sandbox (ground-truth counts would hint at the answers).
_GROUND_TRUTH_COUNTS = (
    "incidents",
    "customer_labels",
    "event_labels",
    "entities",
    "address_owners",
    "tags",
    "coinjoins",
)
#: Columns of the exchange files holding account or customer ids.
_ID_COLUMNS = ("account_id", "customer_id", "counterparty_account_id", "counterparty_customer_id")
_ID = re.compile(r"\b[AC]\d{7}\b")


def _rank(key: bytes, kind: str, value: str) -> bytes:
    return hmac.new(key, f"{kind}|{value}".encode(), hashlib.sha256).digest()


def id_permutation(key: bytes, ids: list[str], kind: str) -> dict[str, str]:
    """A keyed permutation of ``ids`` onto themselves: the id set stays the same, who holds which one changes.

    Each id is ranked by its HMAC under ``key``; the id of rank *i* receives the *i*-th smallest id. Without the
    key the ranking is unpredictable, so position in the numbering says nothing about the holder.
    """
    ordered = sorted(set(ids))
    shuffled = sorted(ordered, key=lambda value: _rank(key, kind, value))
    return dict(zip(shuffled, ordered, strict=True))


def _remap_column(column: pa.ChunkedArray, mapping: Mapping[str, str]) -> pa.Array:
    values = column.to_pylist()
    return pa.array([mapping.get(v, v) if v is not None else None for v in values], type=column.type)


def remap_ids(world: Path, key: bytes) -> dict[str, str]:
    """Renumber every account and customer of ``world`` with a keyed permutation (exchange files and ground truth).

    Returns the mapping (old id → new id). Must run before the answer key is built, so the key, the ledger and
    everything a trainee sees use the new ids.
    """
    exchange = world / "exchange"
    accounts = pq.read_table(exchange / "accounts.parquet", columns=["account_id"]).column(0).to_pylist()
    customers = pq.read_table(exchange / "customers.parquet", columns=["customer_id"]).column(0).to_pylist()
    mapping = {
        **id_permutation(key, [str(a) for a in accounts], "account"),
        **id_permutation(key, [str(c) for c in customers], "customer"),
    }
    for path in sorted(exchange.glob("*.parquet")):
        table = pq.read_table(path)
        for name in _ID_COLUMNS:
            if name in table.column_names:
                table = table.set_column(table.column_names.index(name), name, _remap_column(table[name], mapping))
        for name in ("account_id", "customer_id"):  # keep the files ordered by id, as generated
            if path.stem in ("accounts", "customers") and name in table.column_names:
                table = table.sort_by([(name, "ascending")])
                break
        pq.write_table(table, path)
    for path in sorted((world / "ground_truth").glob("*")):
        if path.suffix in (".jsonl", ".csv", ".json"):
            text = path.read_text(encoding="utf-8")
            path.write_text(_ID.sub(lambda m: mapping.get(m.group(0), m.group(0)), text), encoding="utf-8")
    return mapping


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scrub_manifest(world: Path) -> dict[str, Any]:
    """Rewrite ``world/manifest.json`` without seed or generation parameters; file hashes of what stays.

    Call it after ``ground_truth/`` has left the world: the hashes then cover exactly the sandbox's files.
    """
    path = world / "manifest.json"
    original: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    scrubbed: dict[str, Any] = {name: original[name] for name in _MANIFEST_KEEP if name in original}
    scrubbed["row_counts"] = {
        name: count for name, count in (original.get("row_counts") or {}).items() if name not in _GROUND_TRUTH_COUNTS
    }
    scrubbed["files"] = {
        str(p.relative_to(world)): _sha256(p) for p in sorted(world.rglob("*")) if p.is_file() and p != path
    }
    scrubbed["note"] = "An academy sandbox: generation parameters and ground truth are kept by the instructor."
    path.write_text(json.dumps(scrubbed, indent=1), encoding="utf-8")
    return scrubbed


def prepare(world: Path, engine: Engine, chain_dir: Path, step: Callable[[str], None]) -> dict[str, Any]:
    """Prepare the loaded sandbox like the analysts' data (the demo's steps): tags, clusters, prices, monitoring."""
    from chainsleuth.chain.attribution.store import find_tags
    from chainsleuth.chain.clustering import ClusterOptions, cluster_chain
    from chainsleuth.chain.clustering.quality import wallets_from_tags
    from chainsleuth.demo import import_world_tagpacks
    from chainsleuth.monitor.rules import load_rules
    from chainsleuth.monitor.service import run_rules_over_store
    from chainsleuth.store.chainstore import ChainStore
    from chainsleuth.store.db import session_scope

    store = ChainStore(chain_dir)
    step("tags")
    with session_scope(engine) as session:
        tags, packs = import_world_tagpacks(session, world)
        wallets = wallets_from_tags(store, "ethereum", find_tags(session, network="ethereum", category="exchange"))
    step("clusters")
    cluster_chain(store, "bitcoin")
    cluster_chain(store, "ethereum", ClusterOptions(hot_wallets=wallets))
    if (world / "prices.csv").is_file():  # where the analysts' trace and exposure pages look for USD prices
        shutil.copyfile(world / "prices.csv", chain_dir / "prices.csv")
    step("monitoring")
    with session_scope(engine) as session:
        run = run_rules_over_store(engine, session, load_rules(), chain_store=store)
    return {"tags": tags, "tagpacks": packs, "alerts": run.alerts}


# -- settings that cannot reach production --------------------------------------------------------------------


def write_config(place: TraineeWorld) -> Path:
    """``<sandbox>/chainsleuth.toml``: data dir, database, key file and a secret of the sandbox's own."""
    path = place.sandbox / "chainsleuth.toml"
    lines = [
        "# An academy sandbox: every setting points inside it. Use `chainsleuth academy run` to apply it safely.",
        f"data_dir = {json.dumps(str(place.sandbox))}",
        f"database_url = {json.dumps(place.database_url)}",
        f"encryption_key_file = {json.dumps(str(place.key_file))}",
        f"secret_key = {json.dumps(secrets.token_urlsafe(32))}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sandbox_settings(place: TraineeWorld) -> Settings:
    """Settings for the sandbox given explicitly (init arguments beat every environment variable)."""
    from chainsleuth.config import Settings

    return Settings(
        data_dir=place.sandbox,
        database_url=place.database_url,
        encryption_key_file=place.key_file,
        secret_key=secrets.token_urlsafe(32),
    )


def sandbox_env(place: TraineeWorld, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a chainsleuth process on the sandbox: every ``CHAINSLEUTH_*`` variable of ``base``
    removed (a production ``CHAINSLEUTH_DATABASE_URL`` among them), the sandbox's own settings set explicitly."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("CHAINSLEUTH_")}
    env.update(
        CHAINSLEUTH_CONFIG=str(place.sandbox / "chainsleuth.toml"),
        CHAINSLEUTH_DATA_DIR=str(place.sandbox),
        CHAINSLEUTH_DATABASE_URL=place.database_url,
        CHAINSLEUTH_ENCRYPTION_KEY_FILE=str(place.key_file),
    )
    return env
