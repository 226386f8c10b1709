"""The tag store: attribution tags with their evidence, the packs they came from, and the actors they name.

Every tag row is one claim and keeps the evidence behind it: ``source`` (where the claim was published),
``confidence`` (a confidence id of the taxonomy) with its numeric ``confidence_level`` (denormalised so that
ranking conflicting tags is a plain ``ORDER BY``), ``creator`` (who made the claim: the pack's creator, "OFAC
import", or the analyst's user name), ``created_at`` (when it entered this store) and ``lastmod`` (when the
source last changed it), and ``origin`` (``tagpack``, ``ofac`` or ``analyst``). Tags are never merged or
overwritten by other tags: two sources that disagree about an address are two rows.

A pack (a TagPack file, or the OFAC list) is a :class:`TagPackRecord`; its tags reference it and go with it
when a changed version of the pack replaces them. Analysts' tags have no pack.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.store.models.base import Base, one_of
from chainsleuth.store.types import UTCDateTime, utcnow

TAG_ORIGINS = ("tagpack", "ofac", "analyst")
PACK_KINDS = ("tagpack", "actorpack", "ofac")


class TagPackRecord(Base):
    """One imported pack: what it is (uri, title, creator), its exact content (sha256) and when it came in.

    ``uri`` identifies the pack across versions (re-importing a changed file with the same uri replaces its
    tags); ``sha256`` identifies one version (re-importing identical content does nothing).
    """

    __tablename__ = "tagpacks"
    __table_args__ = (one_of("kind", PACK_KINDS),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uri: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="tagpack")
    title: Mapped[str] = mapped_column(Text)
    creator: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    lastmod: Mapped[date | None] = mapped_column(Date)
    sha256: Mapped[str] = mapped_column(String(64))
    header: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tag_count: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"TagPackRecord({self.uri!r}, {self.kind!r}, {self.tag_count} tags)"


class Tag(Base):
    """One attribution claim about an address or a transaction, with its evidence (see the module doc)."""

    __tablename__ = "tags"
    __table_args__ = (
        one_of("origin", TAG_ORIGINS),
        CheckConstraint(
            "(address IS NOT NULL AND tx_hash IS NULL) OR (address IS NULL AND tx_hash IS NOT NULL)",
            name="address_xor_tx_hash",
        ),
        Index(None, "network", "address"),
        Index(None, "network", "tx_hash"),
        Index(None, "tagpack_id"),
        Index(None, "category"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(Text)
    tx_hash: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str | None] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(64))
    abuse: Mapped[str | None] = mapped_column(String(64))
    concepts: Mapped[list[str]] = mapped_column(JSON, default=list)
    actor: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    confidence: Mapped[str] = mapped_column(String(32))
    confidence_level: Mapped[int] = mapped_column(SmallInteger)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    is_cluster_definer: Mapped[bool | None] = mapped_column(Boolean)
    tag_type: Mapped[str | None] = mapped_column(String(32))
    context: Mapped[str | None] = mapped_column(Text)
    creator: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lastmod: Mapped[date | None] = mapped_column(Date)
    origin: Mapped[str] = mapped_column(String(10))
    tagpack_id: Mapped[int | None] = mapped_column(ForeignKey("tagpacks.id", ondelete="CASCADE"))
    source_line: Mapped[int | None] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"Tag({self.network!r}, {self.address or self.tx_hash!r}, {self.label!r}, {self.confidence!r})"


class Actor(Base):
    """A real-world actor from an ActorPack: the entity behind the ``actor`` field of tags."""

    __tablename__ = "actors"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    label: Mapped[str] = mapped_column(Text)
    uri: Mapped[str] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    jurisdictions: Mapped[list[str]] = mapped_column(JSON, default=list)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    context: Mapped[str | None] = mapped_column(Text)
    lastmod: Mapped[date | None] = mapped_column(Date)
    tagpack_id: Mapped[int | None] = mapped_column(ForeignKey("tagpacks.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"Actor({self.id!r}, {self.label!r})"


__all__ = ["PACK_KINDS", "TAG_ORIGINS", "Actor", "Tag", "TagPackRecord"]
