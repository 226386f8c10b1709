"""Path search between addresses or clusters (bidirectional BFS with depth and degree limits)."""

from chainsleuth.chain.paths.search import PathResult, find_paths

__all__ = ["PathResult", "find_paths"]
