"""Conversions between tag rows of the relational store and :class:`TagRecord` values.

Callers of the tag store get immutable records, never live ORM rows: a record can outlive its session, be
passed to another thread or serialised, and cannot be changed by accident behind the store's back.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from chainsleuth.chain.attribution.records import TagRecord
from chainsleuth.store.models.tags import Tag

#: Key of the per-tag creator written into ``context`` on export when it differs from the pack's creator.
CREATOR_CONTEXT_KEY = "chainsleuth_creator"


def record_from_row(row: Tag, pack_uri: str | None = None) -> TagRecord:
    return TagRecord(
        id=row.id,
        network=row.network,
        address=row.address,
        tx_hash=row.tx_hash,
        currency=row.currency,
        label=row.label,
        category=row.category,
        abuse=row.abuse,
        concepts=tuple(row.concepts or ()),
        actor=row.actor,
        source=row.source,
        confidence=row.confidence,
        confidence_level=row.confidence_level,
        is_public=row.is_public,
        is_cluster_definer=row.is_cluster_definer,
        tag_type=row.tag_type,
        context=row.context,
        creator=row.creator,
        created_at=row.created_at,
        lastmod=row.lastmod,
        origin=row.origin,
        line=row.source_line,
        tagpack=pack_uri,
    )


def row_values(tag: TagRecord, tagpack_id: int | None, now: dt.datetime) -> dict[str, Any]:
    return {
        "network": tag.network,
        "address": tag.address,
        "tx_hash": tag.tx_hash,
        "currency": tag.currency,
        "label": tag.label,
        "category": tag.category,
        "abuse": tag.abuse,
        "concepts": list(tag.concepts),
        "actor": tag.actor,
        "source": tag.source,
        "confidence": tag.confidence,
        "confidence_level": tag.confidence_level,
        "is_public": tag.is_public,
        "is_cluster_definer": tag.is_cluster_definer,
        "tag_type": tag.tag_type,
        "context": tag.context,
        "creator": tag.creator,
        "created_at": now,
        "lastmod": tag.lastmod,
        "origin": tag.origin,
        "tagpack_id": tagpack_id,
        "source_line": tag.line,
    }


def restore_creator(tag: TagRecord) -> TagRecord:
    """Undo :func:`export_tagpack`'s per-tag creator note, so an export re-imports with its creators."""
    if not tag.context or CREATOR_CONTEXT_KEY not in tag.context:
        return tag
    try:
        context = json.loads(tag.context)
    except ValueError:
        return tag
    if not isinstance(context, dict) or not isinstance(context.get(CREATOR_CONTEXT_KEY), str):
        return tag
    creator = context.pop(CREATOR_CONTEXT_KEY)
    return tag.with_changes(creator=creator, context=json.dumps(context, sort_keys=True) if context else None)


__all__ = ["CREATOR_CONTEXT_KEY", "record_from_row", "restore_creator", "row_values"]
