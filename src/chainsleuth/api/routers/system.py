"""Health and the description of the loaded world: what an operator checks first."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import Engine

from chainsleuth import __version__
from chainsleuth.api.deps import Principal, get_engine
from chainsleuth.api.permissions import requires
from chainsleuth.errors import NotFoundError
from chainsleuth.store.migrate import current_revision, head_revision

router = APIRouter(prefix="/api", tags=["system"])


class Health(BaseModel):
    status: str
    version: str
    demo: bool
    database_revision: str | None
    expected_revision: str


@router.get("/health", response_model=Health, summary="Liveness and schema version (no login needed)")
def health(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> Health:
    revision = current_revision(engine)
    expected = head_revision()
    return Health(
        status="ok" if revision == expected else "migration_needed",
        version=__version__,
        demo=request.app.state.settings.demo,
        database_revision=revision,
        expected_revision=expected,
    )


@router.get("/world", summary="The simulated world this deployment was loaded from (demo and training)")
def world(request: Request, _: Annotated[Principal, Depends(requires("system.read"))]) -> dict[str, Any]:
    """The world's manifest: seed, size, time range and row counts; 404 when the data did not come from a world."""
    world_dir = request.app.state.world_dir
    manifest = world_dir / "manifest.json" if world_dir is not None else None
    if manifest is None or not manifest.is_file():
        raise NotFoundError("this deployment was not loaded from a generated world")
    data: dict[str, Any] = json.loads(manifest.read_text())
    data.pop("files", None)
    return data
