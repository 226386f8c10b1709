"""Graph and behavioural features over transfer graphs: bulk (vectorised, for training) and streaming."""

from chainsleuth.monitor.features.bulk import (
    FeatureConfig,
    FeatureMatrix,
    account_feature_names,
    account_features,
    edge_feature_names,
    edge_features,
    profile_account_features,
    raw_account_features,
)
from chainsleuth.monitor.features.edges import EdgeList, FeatureError
from chainsleuth.monitor.features.incremental import StreamingFeatures
from chainsleuth.monitor.features.names import describe
from chainsleuth.monitor.features.profile import ProfileState, profile_feature_names, profile_features

__all__ = [
    "EdgeList",
    "FeatureConfig",
    "FeatureError",
    "FeatureMatrix",
    "ProfileState",
    "StreamingFeatures",
    "account_feature_names",
    "account_features",
    "describe",
    "edge_feature_names",
    "edge_features",
    "profile_account_features",
    "profile_feature_names",
    "profile_features",
    "raw_account_features",
]
