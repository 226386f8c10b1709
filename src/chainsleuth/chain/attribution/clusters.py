"""Resolving address tags to clusters without losing any of them.

A cluster (from the clustering engine: any mapping address → cluster id) often collects tags from several
sources, and they can disagree: a walletexplorer tag says "exchange", a hack report says "service_hack", two
scam databases give different names. Commercial tools show one label and hide the rest; an investigator then
cannot see why a cluster is called what it is. Here every tag stays attached to its cluster, disagreement is
flagged (``conflict`` with the distinct categories and labels), and the label shown is chosen by a stated
rule: the highest confidence level first, then the most recent tag, then the label's alphabetical order so
the choice is deterministic. ``reason`` says which rule decided.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from chainsleuth.chain.attribution.records import TagRecord
from chainsleuth.chain.attribution.taxonomy import Taxonomy, get_taxonomy

ClusterOf = Callable[[str], Hashable | None] | Mapping[str, Hashable]


@dataclass(frozen=True)
class ClusterAttribution:
    """Everything known about one cluster: all its tags, the displayed label and why, and any conflict."""

    cluster_id: Hashable
    tags: tuple[TagRecord, ...]
    label: str
    category: str | None
    display_tag: TagRecord
    reason: str
    #: Every distinct category and abuse concept the tags name.
    categories: tuple[str, ...]
    labels: tuple[str, ...]
    conflict: bool
    conflicts: tuple[str, ...]
    addresses: tuple[str, ...]


def _recency(tag: TagRecord) -> date:
    if tag.lastmod is not None:
        return tag.lastmod
    if isinstance(tag.created_at, datetime):
        return tag.created_at.date()
    return date.min


def _label_key(label: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", label.lower())


def display_category(tag: TagRecord) -> str | None:
    """What a tag says the owner *is* or *did*: its category, or its abuse when it has no category."""
    return tag.category or tag.abuse


def _rank(tag: TagRecord) -> tuple[int, date, str, str]:
    return (tag.confidence_level, _recency(tag), tag.label, tag.source)


def _reason(ordered: Sequence[TagRecord]) -> str:
    best = ordered[0]
    if len(ordered) == 1:
        return f"only tag ({best.confidence}, level {best.confidence_level}, source {best.source})"
    same_level = [tag for tag in ordered if tag.confidence_level == best.confidence_level]
    if len(same_level) == 1:
        return (
            f"highest confidence: {best.confidence} (level {best.confidence_level}) among "
            f"{len(ordered)} tags, source {best.source}"
        )
    newest = [tag for tag in same_level if _recency(tag) == _recency(best)]
    if len(newest) == 1:
        return (
            f"most recent ({_recency(best).isoformat()}) of {len(same_level)} tags at the highest confidence "
            f"{best.confidence} (level {best.confidence_level}), source {best.source}"
        )
    return (
        f"{len(newest)} tags tie on confidence {best.confidence} and date; the first label in alphabetical "
        f"order is shown, source {best.source}"
    )


def _most_specific(kinds: set[str], taxonomy: Taxonomy | None) -> list[str]:
    """``kinds`` without those that are a broader concept of another (``defi`` next to ``defi_dex``)."""
    tax = taxonomy or get_taxonomy()
    broader = {ancestor for kind in kinds for ancestor in tax.ancestors(kind)}
    return sorted(kind for kind in kinds if kind not in broader)


def attribute_cluster(
    cluster_id: Hashable, tags: Iterable[TagRecord], *, taxonomy: Taxonomy | None = None
) -> ClusterAttribution:
    """The attribution of one cluster from its tags (at least one).

    Tags conflict when they name different actors, different labels, or categories of which neither is a
    broader concept of the other (``exchange`` and ``ransomware`` conflict; ``defi`` and ``defi_dex`` do not).
    """
    ordered = sorted(tags, key=_rank, reverse=True)
    if not ordered:
        raise ValueError(f"cluster {cluster_id!r} has no tags")
    # Among equal rank the reverse sort puts the alphabetically last label first; prefer the first instead.
    top = [tag for tag in ordered if _rank(tag)[:2] == _rank(ordered[0])[:2]]
    best = min(top, key=lambda tag: (tag.label, tag.source))
    ordered = [best, *[tag for tag in ordered if tag is not best]]
    kinds = _most_specific({kind for tag in ordered if (kind := display_category(tag))}, taxonomy)
    categories = tuple(sorted({c for tag in ordered for c in (tag.category, tag.abuse) if c}))
    labels_by_key: dict[str, str] = {}
    for tag in ordered:
        labels_by_key.setdefault(_label_key(tag.label), tag.label)
    labels = tuple(sorted(labels_by_key.values()))
    conflicts: list[str] = []
    if len(kinds) > 1:
        conflicts.append(f"categories differ: {', '.join(kinds)}")
    if len(labels) > 1:
        conflicts.append(f"labels differ: {', '.join(labels)}")
    actors = sorted({tag.actor for tag in ordered if tag.actor})
    if len(actors) > 1:
        conflicts.append(f"actors differ: {', '.join(actors)}")
    addresses = tuple(sorted({tag.address for tag in ordered if tag.address is not None}))
    return ClusterAttribution(
        cluster_id=cluster_id,
        tags=tuple(ordered),
        label=best.label,
        category=display_category(best),
        display_tag=best,
        reason=_reason(ordered),
        categories=categories,
        labels=labels,
        conflict=bool(conflicts),
        conflicts=tuple(conflicts),
        addresses=addresses,
    )


def resolve_to_clusters(
    tags: Iterable[TagRecord] | Mapping[str, Sequence[TagRecord]],
    cluster_of: ClusterOf,
    *,
    taxonomy: Taxonomy | None = None,
) -> dict[Hashable, ClusterAttribution]:
    """Group address tags by cluster and attribute each cluster (see the module docstring).

    ``tags`` is any iterable of tags, or the ``address → tags`` mapping :func:`tags_for` returns.
    ``cluster_of`` maps an address to its cluster id (a mapping or a function); an address it does not know
    (``None`` or missing) is its own cluster, keyed by the address. Transaction tags belong to no cluster
    and are ignored.
    """
    if isinstance(tags, Mapping):
        flat: Iterable[TagRecord] = (tag for group in tags.values() for tag in group)
    else:
        flat = tags
    lookup: Callable[[str], Hashable | None]
    if isinstance(cluster_of, Mapping):
        mapping = cluster_of
        lookup = mapping.get
    else:
        lookup = cluster_of
    groups: dict[Hashable, list[TagRecord]] = {}
    for tag in flat:
        if tag.address is None:
            continue
        cluster = lookup(tag.address)
        key: Hashable = tag.address if cluster is None else cluster
        groups.setdefault(key, []).append(tag)
    return {cluster: attribute_cluster(cluster, group, taxonomy=taxonomy) for cluster, group in groups.items()}


__all__ = ["ClusterAttribution", "ClusterOf", "attribute_cluster", "display_category", "resolve_to_clusters"]
