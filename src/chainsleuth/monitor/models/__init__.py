"""The LightGBM detector: time-based training, validation-chosen thresholds, saved models, reason codes."""

from chainsleuth.monitor.models.lgbm import Reason, TrainConfig, TrainedModel, load_model, train_model
from chainsleuth.monitor.models.threshold import ThresholdPolicy, best_f1_threshold, budget_threshold

__all__ = [
    "Reason",
    "ThresholdPolicy",
    "TrainConfig",
    "TrainedModel",
    "best_f1_threshold",
    "budget_threshold",
    "load_model",
    "train_model",
]
