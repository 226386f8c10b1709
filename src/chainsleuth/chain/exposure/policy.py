"""The risk policy: which taxonomy concepts make an exposure category, and which shares make which tier.

Risk appetite differs between exchanges and changes with regulators' guidance, so it lives in a YAML file
(``default_policy.yaml`` ships with the package) rather than in code. Every tier decision names the rule
that fired (category, direct or indirect, direction, share, threshold), so an analyst can see *why* an
entity is "severe" and argue with the policy rather than with the software.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chainsleuth.chain.attribution.taxonomy import get_taxonomy
from chainsleuth.errors import InvalidInputError

DEFAULT_POLICY = "default_policy.yaml"
MODES = ("direct", "indirect")


@dataclass(frozen=True)
class Category:
    """An exposure category: its concepts and, per mode, tier → minimum share."""

    name: str
    concepts: tuple[str, ...]
    direct: tuple[tuple[str, float], ...]
    indirect: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class TierReason:
    """One rule that fired for an entity."""

    tier: str
    category: str
    mode: str
    direction: str
    share: float
    value: float
    threshold: float


@dataclass(frozen=True)
class ExposurePolicy:
    hops: int
    min_value: float
    tiers: tuple[str, ...]
    categories: tuple[Category, ...]
    source: str = DEFAULT_POLICY
    _concept_map: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.categories)

    @staticmethod
    def default() -> ExposurePolicy:
        text = resources.files("chainsleuth.chain.exposure").joinpath(DEFAULT_POLICY).read_text()
        return ExposurePolicy.parse(yaml.safe_load(text), source=DEFAULT_POLICY)

    @staticmethod
    def load(path: Path | str) -> ExposurePolicy:
        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidInputError("cannot read the exposure policy", path=str(path), error=str(exc)) from exc
        return ExposurePolicy.parse(data, source=str(path))

    @staticmethod
    def parse(data: Any, *, source: str = "<policy>") -> ExposurePolicy:
        """Validate a policy document; every problem names the field."""
        if not isinstance(data, Mapping) or not isinstance(data.get("categories"), Mapping):
            raise InvalidInputError("exposure policy needs a 'categories' mapping", path=source)
        tiers = tuple(str(t) for t in data.get("tiers", ("severe", "high", "medium", "low")))
        tax = get_taxonomy()
        categories: list[Category] = []
        for name, spec in data["categories"].items():
            if not isinstance(spec, Mapping):
                raise InvalidInputError("category must be a mapping", path=source, category=name)
            concepts = tuple(str(c) for c in spec.get("concepts", ()))
            unknown = [c for c in concepts if c not in tax.concepts]
            if unknown:
                raise InvalidInputError(
                    "unknown taxonomy concepts", path=source, category=name, concepts=", ".join(unknown)
                )
            modes: dict[str, tuple[tuple[str, float], ...]] = {}
            for mode in MODES:
                rules = spec.get(mode) or {}
                bad = [t for t in rules if t not in tiers]
                if bad:
                    raise InvalidInputError("unknown tier", path=source, category=name, mode=mode, tiers=", ".join(bad))
                ordered = sorted(((str(t), float(v)) for t, v in rules.items()), key=lambda r: tiers.index(r[0]))
                modes[mode] = tuple(ordered)
            categories.append(Category(str(name), concepts, modes["direct"], modes["indirect"]))
        return ExposurePolicy(
            hops=int(data.get("hops", 3)),
            min_value=float(data.get("min_value", 0.0)),
            tiers=tiers,
            categories=tuple(categories),
            source=source,
        )

    def categories_of(self, concepts: Iterable[str]) -> tuple[int, ...]:
        """Indices of the categories that any of ``concepts`` (or a broader concept of one) belongs to."""
        found: set[int] = set()
        tax = get_taxonomy()
        for concept in concepts:
            if concept not in self._concept_map:
                lineage = {concept, *tax.ancestors(concept)} if concept in tax.concepts else {concept}
                self._concept_map[concept] = tuple(
                    i for i, c in enumerate(self.categories) if lineage.intersection(c.concepts)
                )
            found.update(self._concept_map[concept])
        return tuple(sorted(found))

    def tier(self, shares: Mapping[tuple[str, str, str], tuple[float, float]]) -> tuple[str | None, list[TierReason]]:
        """The tier of one entity from ``{(category, mode, direction): (share, value)}``; None: no rule fired."""
        reasons: list[TierReason] = []
        for (category, mode, direction), (share, value) in shares.items():
            spec = next((c for c in self.categories if c.name == category), None)
            if spec is None or share <= 0 or value < self.min_value:
                continue
            for tier, threshold in spec.direct if mode == "direct" else spec.indirect:
                if share >= threshold:
                    reasons.append(TierReason(tier, category, mode, direction, share, value, threshold))
                    break
        if not reasons:
            return None, reasons
        reasons.sort(key=lambda r: (self.tiers.index(r.tier), -r.share))
        return reasons[0].tier, reasons
