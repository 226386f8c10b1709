"""The monitoring engines: streaming (one event at a time) and batch (DuckDB over history).

Both run the same compiled rules with the same window semantics and produce the same hits; alerts are built
from hits by :mod:`chainsleuth.monitor.alerts`.
"""

from __future__ import annotations

from chainsleuth.monitor.engine.batch import BatchResult, run_batch
from chainsleuth.monitor.engine.context import EngineContext, RuleHit
from chainsleuth.monitor.engine.streaming import StreamingState, run_streaming

__all__ = ["BatchResult", "EngineContext", "RuleHit", "StreamingState", "run_batch", "run_streaming"]
