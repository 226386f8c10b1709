"""Tracing funds forward and backward under the poison, haircut and FIFO taint policies.

:mod:`.graph` is the flow graph (numpy arrays, CSR), :mod:`.loader` builds it from the chain store with the
bridge links, :mod:`.kernel` propagates taint hop by hop, :mod:`.trace` is the API with terminals and
evidence paths, :mod:`.stops` where traces end, :mod:`.sources` what they start from. See
``docs/tracing.md``.
"""

from chainsleuth.chain.tracing.graph import BridgeLinks, FlowGraph, Segment, build_flow_graph
from chainsleuth.chain.tracing.kernel import POLICIES, Kernel, Policy
from chainsleuth.chain.tracing.loader import PriceTable, find_bridge_links, load_flow_graph
from chainsleuth.chain.tracing.sources import (
    StoreResolver,
    address_source,
    output_source,
    resolve_source,
    tx_source,
)
from chainsleuth.chain.tracing.stops import (
    StopEntity,
    StopSet,
    is_service,
    stops_from_addresses,
    stops_from_attributions,
    stops_from_tags,
)
from chainsleuth.chain.tracing.trace import (
    Direction,
    EvidencePath,
    Hop,
    Resolver,
    Source,
    Terminal,
    TraceResult,
    trace,
)

__all__ = [
    "POLICIES",
    "BridgeLinks",
    "Direction",
    "EvidencePath",
    "FlowGraph",
    "Hop",
    "Kernel",
    "Policy",
    "PriceTable",
    "Resolver",
    "Segment",
    "Source",
    "StopEntity",
    "StopSet",
    "StoreResolver",
    "Terminal",
    "TraceResult",
    "address_source",
    "build_flow_graph",
    "find_bridge_links",
    "is_service",
    "load_flow_graph",
    "output_source",
    "resolve_source",
    "stops_from_addresses",
    "stops_from_attributions",
    "stops_from_tags",
    "trace",
    "tx_source",
]
