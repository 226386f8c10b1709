"""Graph and behavioural features over transfer graphs: bulk (vectorised, for training) and streaming."""

from chainsleuth.monitor.features.bulk import (
    FeatureConfig,
    FeatureMatrix,
    account_feature_names,
    account_features,
    edge_feature_names,
    edge_features,
    raw_account_features,
)
from chainsleuth.monitor.features.edges import EdgeList, FeatureError
from chainsleuth.monitor.features.incremental import StreamingFeatures
from chainsleuth.monitor.features.names import describe

__all__ = [
    "EdgeList",
    "FeatureConfig",
    "FeatureError",
    "FeatureMatrix",
    "StreamingFeatures",
    "account_feature_names",
    "account_features",
    "describe",
    "edge_feature_names",
    "edge_features",
    "raw_account_features",
]
