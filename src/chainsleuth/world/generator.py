"""Orchestration: build the cast, the economy and the stories, run the clock day by day, write everything.

``generate_world`` is the public entry point; it streams every output while the simulation runs, so memory
stays bounded by the world's live state (unspent outputs, balances, customers' parameters), not its history.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainsleuth.errors import InvalidInputError, NotFoundError
from chainsleuth.world.account import BLOCK_REWARD_GWEI, GWEI, TOKENS_COLUMNS, USDT_CONTRACT
from chainsleuth.world.cast import build_cast
from chainsleuth.world.config import GENERATOR_VERSION, WorldConfig, size_label
from chainsleuth.world.economy import Economy
from chainsleuth.world.etl_columns import columns_for
from chainsleuth.world.sim import World
from chainsleuth.world.tagpacks import write_tagpacks
from chainsleuth.world.typologies import install_stories
from chainsleuth.world.utxo import SUBSIDY
from chainsleuth.world.writers import RecordWriter, iso_us

Progress = Callable[[int, int], None]
"""Called as ``progress(days_done, days_total)`` after every simulated day."""


@dataclass
class WorldManifest:
    """What manifest.json says about a generated world."""

    path: Path
    seed: int
    size: str
    target_transfers: int
    fmt: str
    start: str
    end: str
    row_counts: dict[str, int]
    files: dict[str, str]
    generator_version: str = GENERATOR_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def transfers(self) -> int:
        """On-chain transfers actually generated (bitcoin + ethereum transactions + token transfers)."""
        rc = self.row_counts
        return rc["bitcoin_transactions"] + rc["ethereum_transactions"] + rc["ethereum_token_transfers"]


def prepare_out_dir(out: Path, force: bool) -> None:
    """Refuse to mix a new world into a non-empty directory; with ``force``, replace only an earlier world.

    ``--force`` is meant for regenerating a world in place, so it must never delete anything else a user keeps
    there: the directory is emptied only if it holds a world's manifest.json and nothing but the files that
    manifest lists (see :func:`is_world_directory`). Anything else is refused, and nothing is deleted.
    """
    if out.exists() and not out.is_dir():
        raise InvalidInputError("output path exists and is not a directory", path=str(out))
    if out.exists() and any(out.iterdir()):
        if not force:
            raise InvalidInputError("output directory is not empty (use --force to replace it)", path=str(out))
        foreign = _foreign_files(out)
        if foreign is None:
            raise InvalidInputError(
                "refusing to replace a directory that is not an earlier world (no world manifest.json); "
                "choose an empty or new --out directory",
                path=str(out),
            )
        if foreign:
            raise InvalidInputError(
                f"refusing to replace the world: the directory also holds {len(foreign)} file(s) the world did not "
                f"write, such as {foreign[0]}; move them away or choose another --out directory",
                path=str(out),
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _foreign_files(out: Path) -> list[str] | None:
    """Files under ``out`` that its world manifest does not list, or None if ``out`` holds no world manifest."""
    manifest = out / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        body = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if (
        not isinstance(body, dict)
        or body.get("generator") != "chainsleuth world"
        or not isinstance(body.get("files"), dict)
    ):
        return None
    listed = set(body["files"]) | {"manifest.json"}
    folders = {parent.as_posix() for name in listed for parent in Path(name).parents} - {"."}
    foreign = []
    for path in out.rglob("*"):
        name = path.relative_to(out).as_posix()
        if path.is_symlink() or not path.is_dir():
            if name not in listed or path.is_symlink():
                foreign.append(name)
        elif name not in folders:  # a directory the world did not create, even an empty one
            foreign.append(name + "/")
    return sorted(foreign)


def is_world_directory(out: Path) -> bool:
    """True if ``out`` holds an earlier world and nothing else, so ``--force`` may replace it."""
    return _foreign_files(out) == []


def generate_world(
    config: WorldConfig, out_dir: Path, progress: Progress | None = None, *, force: bool = False
) -> WorldManifest:
    """Generate a world into ``out_dir`` and return its manifest (also written as manifest.json)."""
    out = Path(out_dir)
    prepare_out_dir(out, force)
    world = World(config, out)
    cast = build_cast(world)
    economy = Economy(world, cast)
    install_stories(world, cast, economy)
    world.ledger.flush_static()
    for day in range(config.n_days):
        economy.plan_day(day)
        world.run_until(config.start_ts + (day + 1) * 86_400)
        if progress is not None:
            progress(day + 1, config.n_days)
    world.run_until(config.end_ts + 30 * 86_400)  # let pending stories (and deposits) settle
    world.btc.close_block()
    world.eth.close_block()
    counts: dict[str, int] = {}
    for name, writer in (
        ("bitcoin_blocks", world.btc.blocks),
        ("bitcoin_transactions", world.btc.txs),
        ("ethereum_blocks", world.eth.blocks),
        ("ethereum_transactions", world.eth.txs),
        ("ethereum_token_transfers", world.eth.tokens),
    ):
        writer.close()
        counts[name] = writer.rows
    if world.eth.receipts is not None:
        world.eth.receipts.close()
        counts["ethereum_receipts"] = world.eth.receipts.rows
    tokens = RecordWriter(
        out / "ethereum" / "tokens", columns_for("ethereum/tokens", TOKENS_COLUMNS, config.fmt), config.fmt
    )
    tokens.write(
        {
            "type": "token",
            "address": USDT_CONTRACT,
            "symbol": "USDT",
            "name": "Tether USD",
            "decimals": 6,
            "total_supply": world.eth.minted,
            "block_number": 0,
            "block_timestamp": config.start_ts,
        }
    )
    tokens.close()
    counts["ethereum_tokens"] = tokens.rows
    counts["balances"] = world.ledger.close()
    led = world.ledger
    counts["customers"] = led.customer_writer.rows
    counts["accounts"] = led.account_writer.rows
    counts["deposit_addresses"] = led.deposit_writer.rows
    counts["ledger_events"] = led.event_writer.rows
    counts["prices"] = world.prices.write(out / "prices.csv")
    counts.update(world.truth.write(out / "ground_truth"))
    counts["tags"] = len(world.public_tags)
    write_tagpacks(world.public_tags, out / "tagpacks", config.start)
    return _write_manifest(world, out, counts)


def _write_manifest(world: World, out: Path, counts: dict[str, int]) -> WorldManifest:
    cfg = world.config
    files = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"):
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        files[path.relative_to(out).as_posix()] = digest.hexdigest()
    extra = {
        "customers": cfg.n_customers,
        "days": cfg.n_days,
        "ethereum_genesis_alloc": [
            {"address": world.eth_book.text(a), "wei": str(g * GWEI)} for a, g in world.eth.genesis_alloc
        ],
        "constants": {
            "bitcoin_block_subsidy_sat": SUBSIDY,
            "ethereum_block_reward_wei": str(BLOCK_REWARD_GWEI * GWEI),
            "usdt_contract": USDT_CONTRACT,
            "usdt_decimals": 6,
            "bitcoin_block_seconds": cfg.btc_block_seconds,
            "ethereum_slot_seconds": cfg.eth_block_seconds,
        },
        "our_exchange_entity_id": world.registry.get(world.our_entity).entity_id,
    }
    manifest = WorldManifest(
        path=out,
        seed=cfg.seed,
        size=size_label(cfg.transfers),
        target_transfers=cfg.transfers,
        fmt=cfg.fmt,
        start=iso_us(cfg.start_ts * 1_000_000),
        end=iso_us(cfg.end_ts * 1_000_000),
        row_counts=counts,
        files=files,
        extra=extra,
    )
    body = {
        "generator": "chainsleuth world",
        "generator_version": GENERATOR_VERSION,
        "seed": cfg.seed,
        "size": manifest.size,
        "target_transfers": cfg.transfers,
        "transfers": manifest.transfers,
        "format": cfg.fmt,
        "time_range": {"start": manifest.start, "end": manifest.end},
        "row_counts": counts,
        **extra,
        "files": files,
    }
    (out / "manifest.json").write_text(json.dumps(body, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return manifest


def load_manifest(directory: Path | str) -> WorldManifest:
    """Read manifest.json of a generated world."""
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        raise NotFoundError("no manifest.json: not a generated world directory", path=str(directory))
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        known = {
            "generator",
            "generator_version",
            "seed",
            "size",
            "target_transfers",
            "transfers",
            "format",
            "time_range",
            "row_counts",
            "files",
        }
        return WorldManifest(
            path=Path(directory),
            seed=int(body["seed"]),
            size=str(body["size"]),
            target_transfers=int(body["target_transfers"]),
            fmt=str(body["format"]),
            start=body["time_range"]["start"],
            end=body["time_range"]["end"],
            row_counts=dict(body["row_counts"]),
            files=dict(body["files"]),
            generator_version=str(body["generator_version"]),
            extra={k: v for k, v in body.items() if k not in known},
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInputError(f"manifest.json is malformed: {error}", path=str(path)) from None
