"""Exposure: how much of an entity's funds come from (or go to) sanctioned, criminal or risky entities.

:mod:`.bulk` computes it for every address or cluster with sparse matrices; :mod:`.query` for one entity,
time-respecting and with evidence (paths, tags); :mod:`.policy` turns shares into risk tiers from a YAML
policy. ``docs/tracing.md`` describes the model.
"""

from chainsleuth.chain.exposure.bulk import ExposureModel, ExposureResult, category_matrix, flow_matrix
from chainsleuth.chain.exposure.policy import Category, ExposurePolicy, TierReason
from chainsleuth.chain.exposure.query import CategoryExposure, EntityExposure, Evidence, entity_exposure

__all__ = [
    "Category",
    "CategoryExposure",
    "EntityExposure",
    "Evidence",
    "ExposureModel",
    "ExposurePolicy",
    "ExposureResult",
    "TierReason",
    "category_matrix",
    "entity_exposure",
    "flow_matrix",
]
