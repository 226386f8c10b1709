"""Attribution: who is behind an address, according to whom, and how sure we are.

Tags come from GraphSense TagPacks (:mod:`.tagpack`, :mod:`.actorpack`), the OFAC sanctioned-address lists
(:mod:`chainsleuth.ingest.ofac`) and analysts; all are validated against the packaged GraphSense taxonomies
(:mod:`.taxonomy`) and kept with their evidence in the tag store (:mod:`.store`). :mod:`.clusters` resolves
tags to clusters, keeping and flagging conflicting ones. ``docs/attribution.md`` describes the model.
"""

from __future__ import annotations

from chainsleuth.chain.attribution.clusters import ClusterAttribution, attribute_cluster, resolve_to_clusters
from chainsleuth.chain.attribution.records import ActorRecord, TagRecord, normalize_address, normalize_network
from chainsleuth.chain.attribution.store import (
    ImportReport,
    add_tag,
    export_actorpack,
    export_tagpack,
    find_actors,
    find_tags,
    import_actorpack,
    import_ofac,
    import_pack,
    import_tagpack,
    tags_for,
)
from chainsleuth.chain.attribution.taxonomy import Taxonomy, get_taxonomy

__all__ = [
    "ActorRecord",
    "ClusterAttribution",
    "ImportReport",
    "TagRecord",
    "Taxonomy",
    "add_tag",
    "attribute_cluster",
    "export_actorpack",
    "export_tagpack",
    "find_actors",
    "find_tags",
    "get_taxonomy",
    "import_actorpack",
    "import_ofac",
    "import_pack",
    "import_tagpack",
    "normalize_address",
    "normalize_network",
    "resolve_to_clusters",
    "tags_for",
]
