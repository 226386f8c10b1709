"""World simulator: a deterministic universe of chains, our exchange, its customers and criminals,
with ground truth.

Public API::

    from chainsleuth.world import WorldConfig, generate_world, load_manifest, verify_world
    manifest = generate_world(WorldConfig.from_size("tiny", seed=7), Path("out"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainsleuth.world.config import SIZE_PRESETS, WorldConfig, parse_size

if TYPE_CHECKING:
    from chainsleuth.world.generator import WorldManifest, generate_world, load_manifest
    from chainsleuth.world.verify import Report, verify_world

__all__ = [
    "SIZE_PRESETS",
    "Report",
    "WorldConfig",
    "WorldManifest",
    "generate_world",
    "load_manifest",
    "parse_size",
    "verify_world",
]


def __getattr__(name: str) -> Any:
    # The generator pulls in numpy and pyarrow; import it only when used so `chainsleuth --help` stays fast.
    if name in ("generate_world", "load_manifest", "WorldManifest"):
        from chainsleuth.world import generator

        return getattr(generator, name)
    if name in ("verify_world", "Report"):
        from chainsleuth.world import verify

        return getattr(verify, name)
    raise AttributeError(name)
