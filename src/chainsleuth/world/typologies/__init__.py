"""Criminal stories with ground truth. Each story creates its cast at setup and schedules its actions."""

from __future__ import annotations

from chainsleuth.world.cast import Cast
from chainsleuth.world.economy import Economy
from chainsleuth.world.sim import World
from chainsleuth.world.typologies import accounts, onchain, patterns
from chainsleuth.world.typologies.common import Ctx

#: Every story, in installation order (the order fixes entity, customer and incident ids).
STORIES = (
    onchain.phone_theft,
    accounts.unexplained_wealth,
    onchain.hack_laundering,
    onchain.ransomware,
    accounts.sanctioned,
    accounts.structuring,
    accounts.money_mules,
    accounts.pig_butchering,
    accounts.shared_devices,
    accounts.dormant_reactivated,
    patterns.aml_patterns,
)
TYPOLOGIES = (
    "phone_theft",
    "unexplained_wealth",
    "hack_laundering",
    "ransomware",
    "sanctions",
    "structuring",
    "money_mule",
    "pig_butchering",
    "shared_device",
    "dormant_reactivated",
    "aml_pattern",
)


def install_stories(world: World, cast: Cast, economy: Economy) -> None:
    """Create every story's cast and schedule its actions."""
    ctx = Ctx(world, cast, economy)
    for story in STORIES:
        story(ctx)
