"""Address clustering: multi-input with CoinJoin detection, change heuristics, deposit addresses, stable ids.

See ``docs/clustering.md``. The kernels work on plain numpy arrays; :func:`cluster_chain` runs them on the
chain store and persists the address → cluster mapping under ``<chain store>/clusters/<chain>/``.
"""

from chainsleuth.chain.clustering.change import (
    DEFAULT_CONFIDENCE,
    HEURISTICS,
    ChangeResult,
    change_candidates,
)
from chainsleuth.chain.clustering.coinjoin import CoinJoinParams, CoinJoinResult, detect_coinjoins
from chainsleuth.chain.clustering.deposit import DepositParams, DepositResult, detect_deposit_addresses
from chainsleuth.chain.clustering.engine import (
    ClusterOptions,
    ClusterReport,
    EdgeSet,
    account_edges,
    cluster_chain,
    utxo_edges,
)
from chainsleuth.chain.clustering.kernel import apply_edges, compare_clusterings, components, group_edges
from chainsleuth.chain.clustering.persist import ClusterState, ClusterStore
from chainsleuth.chain.clustering.quality import (
    ClusterQuality,
    evaluate_clusters,
    tagpack_wallets,
    true_owners,
    wallets_from_tags,
)
from chainsleuth.chain.clustering.view import UtxoView, load_utxo_view

__all__ = [
    "DEFAULT_CONFIDENCE",
    "HEURISTICS",
    "ChangeResult",
    "ClusterOptions",
    "ClusterQuality",
    "ClusterReport",
    "ClusterState",
    "ClusterStore",
    "CoinJoinParams",
    "CoinJoinResult",
    "DepositParams",
    "DepositResult",
    "EdgeSet",
    "UtxoView",
    "account_edges",
    "apply_edges",
    "change_candidates",
    "cluster_chain",
    "compare_clusterings",
    "components",
    "detect_coinjoins",
    "detect_deposit_addresses",
    "evaluate_clusters",
    "group_edges",
    "load_utxo_view",
    "tagpack_wallets",
    "true_owners",
    "utxo_edges",
    "wallets_from_tags",
]
