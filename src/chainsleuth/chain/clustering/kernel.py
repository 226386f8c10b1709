"""Numpy kernels of address clustering: edge lists, connected components, stable cluster ids.

Every heuristic in this package reduces to an *edge list* ``(src, dst)`` of dense address ids meaning "same
owner". Clustering is the transitive closure of those edges, which ``scipy.sparse.csgraph.connected_components``
computes in C in O(addresses + edges); everything here is plain vectorised numpy around that one call, so the
kernel runs at the speed of that practical floor (see ``benchmarks/bench_clustering.py``).

Cluster ids are *the smallest address id in the cluster*. Dense address ids are handed out in order of first
appearance and never change, so the smallest id is the address seen first: a cluster keeps its id when it
grows, and when two clusters merge the result carries the id of the one that appeared first (the older one).
Because the minimum does not depend on the order in which edges arrive, clustering in increments gives exactly
the same ids as clustering everything at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def as_int64(values: npt.ArrayLike) -> Int64Array:
    """``values`` as a contiguous int64 array (no copy when it already is one)."""
    return np.ascontiguousarray(values, dtype=np.int64)


def group_starts(group_ids: Int64Array) -> Int64Array:
    """Positions where a new group starts in an array sorted (or at least grouped) by group id."""
    n = len(group_ids)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    flags = np.empty(n, dtype=bool)
    flags[0] = True
    np.not_equal(group_ids[1:], group_ids[:-1], out=flags[1:])
    result: Int64Array = np.flatnonzero(flags)
    return result


Groups = tuple[Int64Array, Int64Array]


def group_counts(group_ids: Int64Array) -> Groups:
    """Distinct ids and their row counts of a grouped array, in O(n) (``np.unique`` would sort)."""
    starts = group_starts(group_ids)
    counts = np.diff(starts, append=len(group_ids)).astype(np.int64, copy=False)
    return group_ids[starts], counts


def sorted_member(ids: Int64Array, wanted: Int64Array) -> BoolArray:
    """For sorted distinct ``ids``, which are in ``wanted``: a binary search per *wanted* value (usually few)."""
    flags = np.zeros(len(ids), dtype=bool)
    if len(ids) == 0 or len(wanted) == 0:
        return flags
    pos = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
    flags[pos[ids[pos] == wanted]] = True
    return flags


def rows_in_groups(group_ids: Int64Array, wanted: Int64Array, groups: Groups | None = None) -> BoolArray:
    """Which rows of a grouped array belong to a group in ``wanted`` (pass ``groups`` to reuse a scan)."""
    if len(group_ids) == 0 or len(wanted) == 0:
        return np.zeros(len(group_ids), dtype=bool)
    ids, counts = groups if groups is not None else group_counts(group_ids)
    result: BoolArray = np.repeat(sorted_member(ids, np.unique(wanted)), counts)
    return result


def ids_with_at_least(group_ids: Int64Array, k: int) -> Int64Array:
    """Ids of the groups with at least ``k`` rows, by one comparison of rows ``k-1`` apart (no grouping pass)."""
    if k <= 1:
        return group_ids[group_starts(group_ids)]
    if len(group_ids) < k:
        return np.empty(0, dtype=np.int64)
    ids = group_ids[np.flatnonzero(group_ids[k - 1 :] == group_ids[: -(k - 1)])]
    if len(ids) < 2:
        return ids
    result: Int64Array = ids[np.concatenate(([True], ids[1:] != ids[:-1]))]
    return result


def expand_ranges(left: Int64Array, right: Int64Array) -> Int64Array:
    """All integers of the half-open ranges ``[left[i], right[i])``, concatenated, without a Python loop."""
    lengths = np.maximum(right - left, 0)
    total = int(lengths.sum())
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    result: Int64Array = np.repeat(left, lengths) + np.arange(total, dtype=np.int64) - offsets
    return result


def group_rows(group_ids: Int64Array, wanted: Int64Array) -> Int64Array:
    """Row indices of the groups in ``wanted`` (sorted) within a grouped array: binary searches, no scan."""
    left = np.searchsorted(group_ids, wanted, side="left")
    right = np.searchsorted(group_ids, wanted, side="right")
    return expand_ranges(left.astype(np.int64), right.astype(np.int64))


def sorted_intersection(a: Int64Array, b: Int64Array) -> Int64Array:
    """Values in both sorted, duplicate-free arrays (binary searches of the shorter one, no re-sort)."""
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 0:
        return np.empty(0, dtype=np.int64)
    pos = np.minimum(np.searchsorted(b, a), len(b) - 1)
    result: Int64Array = a[b[pos] == a]
    return result


def group_edges(
    group_ids: Int64Array, address_ids: Int64Array, exclude: Int64Array | None = None
) -> tuple[Int64Array, Int64Array]:
    """Edges joining the addresses of each group (e.g. the inputs of one transaction) into one component.

    ``group_ids`` must be grouped (inputs sorted by transaction id). Each row is joined to the row before it when
    both belong to the same group: a *path* through the group, n-1 edges like a star around the first input but
    built with one comparison of neighbouring rows instead of gathering every group's first address, which
    makes this the cheapest step of clustering. Self-loops (the same address spent twice in a row) and rows with
    no address (``-1``, dropped before pairing so that they do not break a path) carry no information.
    Groups listed in ``exclude`` (CoinJoins) give no edges; their rows are found by binary search, not a scan.
    """
    groups = as_int64(group_ids)
    addresses = as_int64(address_ids)
    if len(groups) != len(addresses):
        raise ValueError("group_ids and address_ids must have the same length")
    if len(addresses) and int(addresses.min()) < 0:
        valid = addresses >= 0
        groups, addresses = groups[valid], addresses[valid]
    if len(groups) < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    keep = groups[1:] == groups[:-1]
    keep &= addresses[1:] != addresses[:-1]
    if exclude is not None and len(exclude):
        wanted = np.unique(as_int64(exclude))
        left = np.searchsorted(groups, wanted, side="left").astype(np.int64)
        right = np.searchsorted(groups, wanted, side="right").astype(np.int64)
        keep[expand_ranges(left, right - 1)] = False  # the pairs inside each excluded group
    return addresses[1:][keep], addresses[:-1][keep]


def components(n_nodes: int, src: Int64Array, dst: Int64Array) -> Int64Array:
    """For every node ``0..n_nodes-1``, the smallest node id of its connected component.

    Most addresses of a chain never share a multi-input transaction with another one, so the graph handed to
    scipy holds only the nodes that touch an edge, renumbered densely in id order (which keeps "smallest id"
    meaningful); every other node is its own singleton cluster. On real chains that halves the nodes scipy walks.
    """
    if n_nodes == 0:
        return np.empty(0, dtype=np.int64)
    result = np.arange(n_nodes, dtype=np.int64)
    if len(src) == 0:
        return result
    a, b = as_int64(src), as_int64(dst)
    present = np.zeros(n_nodes, dtype=bool)
    present[a] = True
    present[b] = True
    nodes = np.flatnonzero(present)
    k = len(nodes)
    # scipy indexes sparse graphs with int32 when it can: hand it int32 to save a conversion copy
    index_type = np.int32 if k < 2**31 - 1 else np.int64
    dense = np.empty(n_nodes, dtype=index_type)
    dense[nodes] = np.arange(k, dtype=index_type)
    # Duplicate edges and unsorted rows do not change components, so the COO → CSR conversion may skip its
    # duplicate-summing sort (the costliest step of building the graph): declare the COO canonical.
    graph = sp.coo_array((np.ones(len(a), dtype=np.float64), (dense[a], dense[b])), shape=(k, k))
    graph.has_canonical_format = True
    count, labels = connected_components(graph.tocsr(), directed=False)
    result[nodes] = nodes[_smallest_member(labels, count)[labels]]
    return result


def _smallest_member(labels: npt.NDArray[np.int32], count: int) -> Int64Array:
    """The smallest node of each component label.

    scipy numbers components in the order it meets their first node while scanning nodes 0, 1, ..., so the
    first occurrences of the labels are exactly the smallest members, in label order: one running maximum finds
    them. The order is checked (O(components)) and a generic ``minimum.at`` is the fallback should scipy change.
    """
    k = len(labels)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    is_first = np.empty(k, dtype=bool)
    is_first[0] = True
    np.greater(labels[1:], np.maximum.accumulate(labels)[:-1], out=is_first[1:])
    firsts = np.flatnonzero(is_first)
    if len(firsts) == count and np.array_equal(labels[firsts], np.arange(count)):
        return firsts.astype(np.int64)
    smallest = np.full(count, k, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(k, dtype=np.int64))
    return smallest


@dataclass(frozen=True)
class Merge:
    """Clusters that existed before an update and were joined by it (``absorbed`` now carry ``into``'s id)."""

    into: Int64Array
    absorbed: Int64Array
    into_size_before: Int64Array
    absorbed_size_before: Int64Array

    def __len__(self) -> int:
        return len(self.into)


@dataclass(frozen=True)
class Comparison:
    """How a new clustering relates to the previous one (for the merge log and the super-cluster warning).

    ``largest_before[c]`` is the size of the biggest previous cluster that went into new cluster ``c`` (1 for
    clusters made only of new addresses); ``splits`` counts previous clusters now spread over several clusters
    (only possible when a look-ahead heuristic withdrew a link).
    """

    merges: Merge
    largest_before: Int64Array
    splits: int


def apply_edges(previous: Int64Array | None, n_addresses: int, src: Int64Array, dst: Int64Array) -> Int64Array:
    """Extend ``previous`` (cluster id per address, or None) to ``n_addresses`` and union the new edges.

    Only the new edges and one relabelling pass over the mapping are processed: each old cluster enters the
    graph as its id (its smallest address, itself a node), so the graph has ``n_addresses`` nodes and
    ``len(src)`` edges whatever the history was, and the result equals clustering all edges ever seen at once.
    """
    old = np.empty(0, dtype=np.int64) if previous is None else as_int64(previous)
    if len(old) > n_addresses:
        raise ValueError("the address count went down: the chain was rolled back, recluster from scratch")
    if len(old) == 0:
        return components(n_addresses, as_int64(src), as_int64(dst))
    root = np.concatenate((old, np.arange(len(old), n_addresses, dtype=np.int64)))
    a, b = root[as_int64(src)], root[as_int64(dst)]
    keep = a != b
    if not keep.any():
        return root
    new_root = components(n_addresses, a[keep], b[keep])
    result: Int64Array = new_root[root]
    return result


def compare_clusterings(previous: Int64Array | None, current: Int64Array, *, count_splits: bool = True) -> Comparison:
    """Merges, splits and pre-merge sizes between two mappings (``current`` may cover more addresses).

    Counting splits sorts the (old, new) pairs; an incremental update cannot split, so it may skip that.
    """
    n = len(current)
    old = np.empty(0, dtype=np.int64) if previous is None else as_int64(previous)
    m = min(len(old), n)
    old, now = old[:m], current[:m]
    old_sizes = np.bincount(old, minlength=n).astype(np.int64) if m else np.zeros(n, dtype=np.int64)
    largest = np.ones(n, dtype=np.int64)
    if m:
        np.maximum.at(largest, now, old_sizes[old])
    old_roots = np.flatnonzero(old == np.arange(m, dtype=np.int64))
    moved = old_roots[now[old_roots] != old_roots]
    into = now[moved]
    merges = Merge(into, moved, old_sizes[into], old_sizes[moved])
    splits = 0
    if m and count_splits:
        pairs = np.unique(old * n + now)
        splits = int(np.count_nonzero(np.bincount(pairs // n, minlength=n) > 1))
    return Comparison(merges, largest, splits)


def python_union_find(n_nodes: int, src: Int64Array, dst: Int64Array) -> list[int]:
    """Reference union-find in plain Python (path halving, union by smaller id): the benchmark's baseline.

    Returns the smallest node id of each node's component, the same convention as :func:`components`, so tests
    can compare the two.
    """
    parent = list(range(n_nodes))
    for x, y in zip(src.tolist(), dst.tolist(), strict=True):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x < y:
            parent[y] = x
        elif y < x:
            parent[x] = y
    result = [0] * n_nodes
    for node in range(n_nodes):
        x = node
        while parent[x] != x:
            x = parent[x]
        result[node] = x
    return result
