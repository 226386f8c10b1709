"""The attribution taxonomies and TagPack schemas, shipped with the package.

The files beside this module are GraphSense's (graphsense-lib ``src/graphsenselib/tagpack/``, MIT licence in
``LICENSE``): ``concepts.yaml`` (derived from the INTERPOL Darknet and Cryptocurrencies Working Group
taxonomy), ``confidence.csv``, ``tag_types.csv``, ``tag_subject.csv``, ``countries.csv`` and the TagPack and
ActorPack schemas. They are packaged rather than read from a shared folder so that an installed chainsleuth
validates packs exactly as GraphSense does with nothing else on disk, and so that a pack exported here is
accepted by GraphSense's own tooling.

:func:`get_taxonomy` loads them once per process; the result is immutable and safe to share between threads.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chainsleuth.errors import MalformedFileError

_PACKAGE = "chainsleuth.chain.attribution.taxonomy"
FILES = (
    "concepts.yaml",
    "confidence.csv",
    "tag_types.csv",
    "tag_subject.csv",
    "countries.csv",
    "tagpack_schema.yaml",
    "actorpack_schema.yaml",
)


@dataclass(frozen=True)
class Concept:
    """One node of the concept taxonomy (``sanction``, ``exchange``, ``ransomware``...)."""

    id: str
    label: str
    description: str
    parent: str | None


@dataclass(frozen=True)
class ConfidenceLevel:
    """A named confidence (``authority_data``) and its numeric level (60) used to rank conflicting tags."""

    id: str
    label: str
    description: str
    level: int


@dataclass(frozen=True)
class Term:
    """An entry of a flat taxonomy: tag types, tag subjects, countries."""

    id: str
    label: str
    description: str


@dataclass(frozen=True)
class FieldSpec:
    """One field of a TagPack or ActorPack schema: its type, whether it is mandatory, its taxonomy."""

    name: str
    type: str
    mandatory: bool
    item_type: str | None = None
    taxonomies: tuple[str, ...] = ()


@dataclass(frozen=True)
class PackSchema:
    """The sections of ``tagpack_schema.yaml``/``actorpack_schema.yaml``: ``header``, ``tag``, ``actor``."""

    sections: Mapping[str, Mapping[str, FieldSpec]]

    def section(self, name: str) -> Mapping[str, FieldSpec]:
        return self.sections.get(name, {})

    def mandatory(self, name: str) -> list[str]:
        return [spec.name for spec in self.section(name).values() if spec.mandatory]


@dataclass(frozen=True)
class Taxonomy:
    """Every taxonomy a tag is validated against, keyed by id."""

    concepts: Mapping[str, Concept]
    confidence: Mapping[str, ConfidenceLevel]
    tag_types: Mapping[str, Term]
    tag_subjects: Mapping[str, Term]
    countries: Mapping[str, Term]
    tagpack_schema: PackSchema
    actorpack_schema: PackSchema
    version: str = ""
    _children: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def is_concept(self, value: str) -> bool:
        return value in self.concepts

    def confidence_level(self, confidence: str) -> int:
        """The numeric level of a confidence id; KeyError for an unknown one."""
        return self.confidence[confidence].level

    @property
    def lowest_confidence(self) -> ConfidenceLevel:
        """The least trusted level (``unknown``): what GraphSense assigns when a pack gives none."""
        return min(self.confidence.values(), key=lambda level: (level.level, level.id))

    def ancestors(self, concept: str) -> list[str]:
        """``concept``'s parents up to the root, nearest first (``ransomware`` → ``malware`` → ...)."""
        chain: list[str] = []
        current = self.concepts.get(concept)
        while current is not None and current.parent is not None and current.parent not in chain:
            chain.append(current.parent)
            current = self.concepts.get(current.parent)
        return chain

    def descendants(self, concept: str) -> list[str]:
        """Every concept below ``concept`` (for "everything that is abuse" queries)."""
        found: list[str] = []
        stack = list(self._children.get(concept, ()))
        while stack:
            child = stack.pop()
            if child not in found:
                found.append(child)
                stack.extend(self._children.get(child, ()))
        return sorted(found)

    def check_terms(self, taxonomy: str, values: list[str]) -> list[str]:
        """The values not in ``taxonomy`` (``concept``, ``confidence``, ``tag_type``, ``country``)."""
        known: Mapping[str, object] = {
            "concept": self.concepts,
            "confidence": self.confidence,
            "tag_type": self.tag_types,
            "tag_subject": self.tag_subjects,
            "country": self.countries,
        }.get(taxonomy, {})
        return [value for value in values if value not in known]


def _read_text(directory: Path | None, name: str) -> str:
    if directory is not None:
        return (directory / name).read_text(encoding="utf-8")
    return resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def _csv_rows(text: str) -> list[dict[str, str]]:
    return [
        {key.strip(): (value or "").strip() for key, value in row.items() if key}
        for row in csv.DictReader(io.StringIO(text))
    ]


def _schema(data: Any, name: str) -> PackSchema:
    if not isinstance(data, dict):
        raise MalformedFileError(f"{name}: expected a mapping of sections", path=name)
    sections: dict[str, dict[str, FieldSpec]] = {}
    for section, fields in data.items():
        specs: dict[str, FieldSpec] = {}
        for field_name, spec in (fields or {}).items():
            raw_taxonomy = spec.get("taxonomy")
            taxonomies = (
                tuple(raw_taxonomy) if isinstance(raw_taxonomy, list) else ((raw_taxonomy,) if raw_taxonomy else ())
            )
            specs[field_name] = FieldSpec(
                name=field_name,
                type=str(spec.get("type", "text")),
                mandatory=bool(spec.get("mandatory", False)),
                item_type=spec.get("item_type"),
                taxonomies=taxonomies,
            )
        sections[str(section)] = specs
    return PackSchema(sections)


def load_taxonomy(directory: Path | None = None) -> Taxonomy:
    """Read the taxonomy files from ``directory`` (default: the copy shipped in this package)."""
    concepts_doc = yaml.load(_read_text(directory, "concepts.yaml"), Loader=yaml.CSafeLoader)
    concepts: dict[str, Concept] = {}
    children: dict[str, list[str]] = {}
    for key, entry in concepts_doc.items():
        if key == "scheme" or not isinstance(entry, dict):
            continue
        concept_id = str(entry.get("id", key))
        parent = entry.get("broader")
        concepts[concept_id] = Concept(
            id=concept_id,
            label=str(entry.get("prefLabel", concept_id)),
            description=" ".join(str(entry.get("description", "")).split()),
            parent=str(parent) if parent else None,
        )
        if parent:
            children.setdefault(str(parent), []).append(concept_id)
    confidence = {
        row["id"]: ConfidenceLevel(row["id"], row["label"], row["description"], int(row["level"]))
        for row in _csv_rows(_read_text(directory, "confidence.csv"))
    }

    def terms(name: str) -> dict[str, Term]:
        return {
            row["id"]: Term(row["id"], row["label"], row.get("description", ""))
            for row in _csv_rows(_read_text(directory, name))
        }

    scheme = concepts_doc.get("scheme", {})
    return Taxonomy(
        concepts=concepts,
        confidence=confidence,
        tag_types=terms("tag_types.csv"),
        tag_subjects=terms("tag_subject.csv"),
        countries=terms("countries.csv"),
        tagpack_schema=_schema(yaml.safe_load(_read_text(directory, "tagpack_schema.yaml")), "tagpack_schema.yaml"),
        actorpack_schema=_schema(
            yaml.safe_load(_read_text(directory, "actorpack_schema.yaml")), "actorpack_schema.yaml"
        ),
        version=str(scheme.get("version", "")) if isinstance(scheme, dict) else "",
        _children={key: tuple(sorted(value)) for key, value in children.items()},
    )


@lru_cache(maxsize=1)
def get_taxonomy() -> Taxonomy:
    """The packaged taxonomy, loaded on first use and shared afterwards."""
    return load_taxonomy()


__all__ = [
    "FILES",
    "Concept",
    "ConfidenceLevel",
    "FieldSpec",
    "PackSchema",
    "Taxonomy",
    "Term",
    "get_taxonomy",
    "load_taxonomy",
]
