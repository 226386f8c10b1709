"""Per-trainee simulated worlds: generated, split into sandbox and answer key, ingested into their own stores.

Layout under ``<data dir>/academy/``::

    worlds/<cohort>/<trainee>/world/        chains, exchange files, tag packs: what the trainee investigates
    worlds/<cohort>/<trainee>/chain/        the trainee's own chain store (same tools as the analysts)
    worlds/<cohort>/<trainee>/chainsleuth.db    the trainee's own SQLite database with the simulated exchange
    worlds/<cohort>/<trainee>/keys/master.key   the sandbox's own encryption key (simulated people only)
    worlds/<cohort>/<trainee>/chainsleuth.toml  settings inside the sandbox only
    worlds/<cohort>/<trainee>/ASSIGNMENT.json   submission token, exercises and the facts given to start from
    answer-keys/<cohort>/<trainee>/         ground_truth/, answer_key.json, identifiers.txt (instructor only)

Why the split: a generated world carries its own ground truth, which would give every answer away, so
``ground_truth/`` is moved out of the sandbox before the trainee ever sees it, and its manifest is rewritten
without the seed and generation parameters (with them the world, ground truth included, could be regenerated);
account and customer ids are renumbered per trainee first (see :mod:`chainsleuth.academy.sandbox`).

Nothing here touches the platform's real database or chain store: a trainee's world holds only simulated people,
and their investigation runs against their own copy, so no real customer data can reach a training session. The
sandbox is laid out like a data directory (``chain/``, ``chainsleuth.db``, ``keys/master.key``,
``chainsleuth.toml``); trainees work on it in the web application's academy workspace or with ``chainsleuth
academy run``, both of which force the sandbox's settings (environment variables would otherwise win). Its key
encrypts only invented people, which is why the trainee may hold it, and why it is never the platform's key.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from chainsleuth.academy.exercises import build_answer_keys, exercises, world_identifiers
from chainsleuth.errors import InvalidInputError, NotFoundError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(kind: str, value: str) -> str:
    """Cohort and trainee names become directory names: letters, digits, ``.``, ``_`` and ``-`` only."""
    if not _NAME.match(value) or ".." in value:
        raise InvalidInputError(f"{kind} names use letters, digits, '.', '_' and '-' (1-64 characters)", value=value)
    return value


@dataclass(frozen=True)
class TraineeWorld:
    """Where one trainee's world and answer key live."""

    root: Path
    cohort: str
    trainee: str

    @property
    def sandbox(self) -> Path:
        return self.root / "worlds" / self.cohort / self.trainee

    @property
    def world_dir(self) -> Path:
        return self.sandbox / "world"

    @property
    def chain_dir(self) -> Path:
        return self.sandbox / "chain"

    @property
    def database(self) -> Path:
        return self.sandbox / "chainsleuth.db"

    @property
    def key_file(self) -> Path:
        return self.sandbox / "keys" / "master.key"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database}"

    @property
    def assignment_file(self) -> Path:
        return self.sandbox / "ASSIGNMENT.json"

    @property
    def key_dir(self) -> Path:
        return self.root / "answer-keys" / self.cohort / self.trainee

    @property
    def ready(self) -> bool:
        return (self.key_dir / "answer_key.json").exists() and self.assignment_file.exists()

    def answer_keys(self) -> dict[str, Any]:
        path = self.key_dir / "answer_key.json"
        if not path.exists():
            raise NotFoundError("this trainee's world has not been generated yet", trainee=self.trainee)
        keys: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return keys

    def identifiers(self) -> frozenset[str]:
        path = self.key_dir / "identifiers.txt"
        return _identifiers(str(path), path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=256)
def _identifiers(path: str, mtime: int) -> frozenset[str]:
    """The identifier set of a world, cached per file version (grading compares against the whole cohort)."""
    if not mtime:
        return frozenset()
    return frozenset(Path(path).read_text(encoding="utf-8").split())


def trainee_world(academy_dir: Path, cohort: str, trainee: str) -> TraineeWorld:
    return TraineeWorld(Path(academy_dir), check_name("cohort", cohort), check_name("trainee", trainee))


Step = Callable[[str], None]
#: The stages :func:`generate_trainee_world` reports, in order (for progress bars).
WORLD_STAGES = ("generate", "renumber accounts", "answer key", "chain store", "database", "tags", "clusters",
                "monitoring", "done")  # fmt: skip


def generate_trainee_world(
    place: TraineeWorld,
    *,
    seed: int,
    size: str,
    customers: int | None,
    token: str,
    display_name: str,
    id_key: bytes,
    step: Step | None = None,
) -> dict[str, Any]:
    """Generate, split, ingest, prepare and describe one trainee's world; returns the assignment written for them.

    Re-running replaces the world (same seed and ``id_key``: the same world). ``id_key`` renumbers accounts and
    customers (see :func:`chainsleuth.academy.sandbox.remap_ids`). ``step`` is called with the name of each
    stage, for progress bars.
    """
    from chainsleuth.academy import sandbox
    from chainsleuth.ingest.etl import ingest_world_chains
    from chainsleuth.ingest.ledger import load_exchange
    from chainsleuth.privacy.keyfile import create_key_file, read_key_file
    from chainsleuth.privacy.keyring import install_privacy
    from chainsleuth.store.chainstore import ChainStore
    from chainsleuth.store.db import create_engine_for
    from chainsleuth.store.migrate import upgrade_to_head
    from chainsleuth.world import WorldConfig, generate_world

    def tell(stage: str) -> None:
        if step is not None:
            step(stage)

    for directory in (place.sandbox, place.key_dir):
        if directory.exists():
            shutil.rmtree(directory)
    place.key_dir.mkdir(parents=True)
    tell("generate")
    generate_world(WorldConfig.from_size(size, seed=seed, customers=customers), place.world_dir)
    tell("renumber accounts")
    sandbox.remap_ids(place.world_dir, id_key)
    tell("answer key")
    keys = build_answer_keys(place.world_dir)
    shutil.move(str(place.world_dir / "ground_truth"), str(place.key_dir / "ground_truth"))
    shutil.move(str(place.world_dir / "manifest.json"), str(place.key_dir / "manifest.json"))
    shutil.copyfile(place.key_dir / "manifest.json", place.world_dir / "manifest.json")
    sandbox.scrub_manifest(place.world_dir)
    (place.key_dir / "answer_key.json").write_text(json.dumps(keys, indent=1), encoding="utf-8")
    (place.key_dir / "identifiers.txt").write_text("\n".join(sorted(world_identifiers(place.world_dir))) + "\n")
    tell("chain store")
    ingest_world_chains(place.world_dir, ChainStore(place.chain_dir))
    tell("database")
    create_key_file(place.key_file)
    engine = create_engine_for(place.database_url)
    try:
        install_privacy(engine, master_key=read_key_file(place.key_file))
        upgrade_to_head(engine)
        load_exchange(place.world_dir, engine)
        prepared = sandbox.prepare(place.world_dir, engine, place.chain_dir, tell)
    finally:
        engine.dispose()
    sandbox.write_config(place)
    assignment = {
        "cohort": place.cohort,
        "trainee": place.trainee,
        "display_name": display_name,
        "submission_token": token,
        "world": str(place.world_dir),
        "chain_store": str(place.chain_dir),
        "database_url": place.database_url,
        "config": str(place.sandbox / "chainsleuth.toml"),
        "use_with": f"chainsleuth academy run {place.cohort} {place.trainee} -- <chainsleuth command>",
        "workspace": f"/academy/cohorts/{place.cohort}/workspace",
        "prepared": prepared,
        "note": "A simulated world: every person in it is invented. Send the token with every answer. "
        "Work on it in the web workspace or with `chainsleuth academy run`, never by setting CHAINSLEUTH_* "
        "variables yourself (a configured production database would win).",
        "exercises": [{**exercise.public(), "given": keys[exercise.id]["given"]} for exercise in exercises().values()],
    }
    place.assignment_file.write_text(json.dumps(assignment, indent=1), encoding="utf-8")
    tell("done")
    return assignment
