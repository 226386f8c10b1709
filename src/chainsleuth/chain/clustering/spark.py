"""Multi-input clustering on Apache Spark: the distributed path for chains that outgrow one machine.

The local engine (:mod:`~chainsleuth.chain.clustering.engine`) holds a chain's inputs in numpy arrays, which is
the fastest way up to a few hundred million inputs on one machine. Beyond that, the same job runs here on a
Spark cluster (or ``local[*]``), reading the chain store's Parquet parts directly, and produces the *same*
mapping: cluster id = smallest address id of each cluster, CoinJoins detected by the same five checks with the
same thresholds and excluded. The result is saved through :class:`ClusterStore` exactly like a local run, so
every reader (tracing, exposure, the pages) uses it unchanged. The tests check both engines agree.

What stays local: change heuristics (they are off by default and need per-transaction spend look-ups that do
not pay to distribute) and the Ethereum deposit-address heuristic (its statistics are per deposit address and
small). Asking the Spark engine for them is an error, not a silent fallback.

Connected components are computed with the *alternating large-star / small-star* algorithm of Kiveris et al.,
"Connected Components in MapReduce and Beyond" (SoCC 2014), written here by hand: GraphFrames, the usual Spark
library for it, is a separate JVM package fetched from a Maven repository at start-up, which a self-hosted
deployment without network cannot do. The algorithm converges in O(log² n) rounds and ends with every
component a star around its smallest node, which is exactly our cluster id.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.dataset as ds

from chainsleuth.chain.clustering.coinjoin import CHECKS, CoinJoinParams
from chainsleuth.chain.clustering.kernel import Int64Array, as_int64
from chainsleuth.errors import ConfigurationError, InvalidInputError
from chainsleuth.store.chainstore import ChainStore, chain_spec

Progress = Callable[[str], None]

#: Safety net: the algorithm needs O(log² n) rounds; a graph that does not converge in this many is a bug.
MAX_ROUNDS = 200


@dataclass
class SparkClustering:
    """The result of one Spark run: the mapping, the detected CoinJoins and the counts for the report."""

    cluster_of: Int64Array
    coinjoin_tx_ids: Int64Array
    coinjoin_scores: npt.NDArray[np.float64]
    counts: dict[str, int]
    rounds: int


def _pyspark() -> Any:
    try:
        import pyspark.sql  # optional dependency: imported only when the Spark engine is asked for
    except ImportError as error:  # pragma: no cover - exercised only without the extra
        raise ConfigurationError(
            "the Spark engine needs PySpark: install chainsleuth with the [spark] extra "
            "(pip install 'chainsleuth[spark]') and a Java 17+ runtime"
        ) from error
    return pyspark.sql


@contextlib.contextmanager
def spark_session(master: str = "local[*]", *, scratch: Path | None = None) -> Iterator[Any]:
    """A Spark session for one job, stopped afterwards; ``master`` is any Spark master URL.

    When the caller already has an active session, that one is used (and not stopped) instead.

    The web UI is off (a batch job on a server must not open a port), shuffle partitions are sized for the
    cores of a local master, and Spark's scratch space goes under ``scratch`` (the data directory) rather than
    ``/tmp``, which is often small.
    """
    sql = _pyspark()
    active = sql.SparkSession.getActiveSession()
    if active is not None:  # a caller's session (a notebook, a scheduler): use it and leave it running
        yield active
        return
    local_dir = Path(scratch or tempfile.gettempdir()) / "spark-scratch"
    local_dir.mkdir(parents=True, exist_ok=True)
    builder = (
        sql.SparkSession.builder.master(master)
        .appName("chainsleuth-clustering")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.local.dir", str(local_dir))
        .config("spark.sql.shuffle.partitions", "8" if master.startswith("local") else "200")
        .config("spark.sql.adaptive.enabled", "true")
    )
    try:
        session = builder.getOrCreate()
    except Exception as error:  # py4j raises plain exceptions when Java is missing or broken
        raise ConfigurationError(
            "could not start Spark (is a Java 17+ runtime installed and JAVA_HOME set?)",
            master=master,
            error=str(error).splitlines()[0] if str(error) else type(error).__name__,
        ) from error
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def _read(spark: Any, files: list[str], columns: list[str], max_block: int | None) -> Any:
    functions = _pyspark().functions
    frame = spark.read.parquet(*files).select(*columns, "block_number")
    if max_block is not None:
        frame = frame.where(functions.col("block_number") <= max_block)
    return frame.drop("block_number")


def detect_coinjoins_spark(inputs: Any, outputs: Any, params: CoinJoinParams) -> Any:
    """CoinJoin flags as a Spark DataFrame ``(tx_id, score, flagged)`` for every candidate transaction.

    The same candidates and checks as :func:`~chainsleuth.chain.clustering.coinjoin.detect_coinjoins`:
    candidates have ≥ 2 inputs and ≥ 3 outputs with an address; the denomination is the most frequent output
    value (ties: the larger value).
    """
    f = _pyspark().functions
    window = _pyspark().Window
    addressed = outputs.where(f.col("address_id") >= 0)
    per_out = addressed.groupBy("tx_id").agg(
        f.count("*").alias("n_out"), f.sum(f.col("value").cast("double")).alias("total")
    )
    per_in = inputs.groupBy("tx_id").agg(
        f.count("*").alias("n_in"), f.countDistinct("address_id").alias("distinct_inputs")
    )
    candidates = per_out.where(f.col("n_out") >= 3).join(per_in.where(f.col("n_in") >= 2), "tx_id")
    runs = (
        addressed.join(candidates.select("tx_id"), "tx_id")
        .groupBy("tx_id", "value")
        .agg(f.count("*").alias("run_len"), f.countDistinct("address_id").alias("payees"))
    )
    best = window.partitionBy("tx_id").orderBy(f.col("run_len").desc(), f.col("value").desc())
    top = runs.withColumn("rank", f.row_number().over(best)).where(f.col("rank") == 1).drop("rank")
    scored = candidates.join(top, "tx_id").select(
        "tx_id",
        (f.col("run_len") >= params.min_equal_outputs).alias("equal_outputs"),
        (f.col("distinct_inputs") >= f.col("run_len")).alias("participants"),
        (f.col("payees") == f.col("run_len")).alias("distinct_payees"),
        (f.col("n_out") <= 2 * f.col("run_len") + 1).alias("output_shape"),
        (
            f.when(f.col("total") > 0, f.col("run_len") * f.col("value").cast("double") / f.col("total")).otherwise(0.0)
            >= params.min_equal_share
        ).alias("value_share"),
    )
    score = sum((f.col(name).cast("double") for name in CHECKS[1:]), f.col(CHECKS[0]).cast("double")) / len(CHECKS)
    must_pass = f.col("equal_outputs") & f.col("participants") & f.col("distinct_payees")
    flagged = must_pass & (score >= params.min_score - 1e-9)
    return scored.select("tx_id", score.alias("score"), flagged.alias("flagged"))


def multi_input_edges(inputs: Any, excluded: Any) -> Any:
    """Edges ``(src, dst)`` joining each input address to the smallest input address of its transaction.

    A star per transaction spans the same component as the local engine's path; inputs without an address
    (``-1``) and the transactions in ``excluded`` (CoinJoins) give none.
    """
    f = _pyspark().functions
    trusted = inputs.where(f.col("address_id") >= 0).join(excluded, "tx_id", "left_anti")
    roots = trusted.groupBy("tx_id").agg(f.min("address_id").alias("root"))
    return (
        trusted.join(roots, "tx_id")
        .where(f.col("address_id") != f.col("root"))
        .select(f.col("address_id").alias("src"), f.col("root").alias("dst"))
        .distinct()
    )


def _large_star(edges: Any) -> Any:
    """Each node links its larger neighbours to the smallest node of its closed neighbourhood."""
    f = _pyspark().functions
    both = edges.unionByName(edges.select(f.col("dst").alias("src"), f.col("src").alias("dst")))
    smallest = both.groupBy("src").agg(f.least(f.min("dst"), f.col("src")).alias("m"))
    return (
        both.join(smallest, "src")
        .where(f.col("dst") > f.col("src"))
        .select(f.col("dst").alias("src"), f.col("m").alias("dst"))
        .distinct()
    )


def _small_star(edges: Any) -> Any:
    """Each node links itself and its smaller neighbours to the smallest of them."""
    f = _pyspark().functions
    oriented = edges.select(f.greatest("src", "dst").alias("src"), f.least("src", "dst").alias("dst")).where(
        f.col("src") != f.col("dst")
    )
    smallest = oriented.groupBy("src").agg(f.min("dst").alias("m"))
    neighbours = oriented.join(smallest, "src").where(f.col("dst") != f.col("m"))
    return (
        neighbours.select(f.col("dst").alias("src"), f.col("m").alias("dst"))
        .unionByName(smallest.select("src", f.col("m").alias("dst")))
        .distinct()
    )


def _is_star_forest(edges: Any) -> bool:
    """True when every node points to one root and no root points anywhere: each component is a star."""
    f = _pyspark().functions
    if edges.groupBy("src").count().where(f.col("count") > 1).limit(1).count():
        return False
    roots = edges.select(f.col("dst").alias("src")).distinct()
    return bool(edges.join(roots, "src").limit(1).count() == 0)


def star_components(edges: Any, progress: Progress | None = None) -> tuple[Any, int]:
    """``(address_id, cluster_id)`` for every address on an edge (cluster id: the component's smallest id)."""
    f = _pyspark().functions
    current = edges.localCheckpoint()
    for rounds in range(1, MAX_ROUNDS + 1):
        current = _small_star(_large_star(current)).localCheckpoint()
        if progress is not None:
            progress(f"connected components, round {rounds}")
        if _is_star_forest(current):
            return current.select(f.col("src").alias("address_id"), f.col("dst").alias("cluster_id")), rounds
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")


def _collect(frame: Any, scratch: Path, name: str) -> pa.Table:
    """Write ``frame`` as Parquet with Spark and read it back with pyarrow (no pandas, no driver collect)."""
    target = scratch / name
    frame.write.mode("overwrite").parquet(str(target))
    return ds.dataset(str(target), format="parquet").to_table()


def spark_multi_input(
    spark: Any,
    store: ChainStore,
    chain: str,
    *,
    height: int,
    n_addresses: int,
    coinjoin: CoinJoinParams | None = None,
    scratch: Path,
    progress: Progress | None = None,
) -> SparkClustering:
    """Multi-input clustering of ``chain`` up to block ``height`` on ``spark``; CoinJoins excluded."""
    if chain_spec(chain).kind != "utxo":
        raise InvalidInputError("the Spark engine clusters UTXO chains (multi-input heuristic)", chain=chain)
    input_files, output_files = store.files(chain, "inputs"), store.files(chain, "outputs")
    if not input_files:
        raise InvalidInputError("the chain store holds no inputs for this chain", chain=chain)
    return multi_input_from_parquet(
        spark,
        input_files,
        output_files,
        n_addresses=n_addresses,
        max_block=height,
        coinjoin=coinjoin,
        scratch=scratch,
        progress=progress,
    )


def multi_input_from_parquet(
    spark: Any,
    input_files: list[str],
    output_files: list[str],
    *,
    n_addresses: int,
    max_block: int | None = None,
    coinjoin: CoinJoinParams | None = None,
    scratch: Path,
    progress: Progress | None = None,
) -> SparkClustering:
    """Multi-input clustering of Parquet files in the chain store's ``inputs`` / ``outputs`` layout.

    Only the columns ``tx_id``, ``address_id``, ``block_number`` (and the outputs' ``value``) are read, so
    files written by other tools in that layout work too (the benchmark writes its own).
    """
    say = progress or (lambda _stage: None)
    f = _pyspark().functions
    inputs = _read(spark, input_files, ["tx_id", "address_id"], max_block)
    outputs = _read(spark, output_files, ["tx_id", "address_id", "value"], max_block)
    say("detecting CoinJoins")
    scored = detect_coinjoins_spark(inputs, outputs, coinjoin or CoinJoinParams()).localCheckpoint()
    flagged = scored.where(f.col("flagged")).select("tx_id", "score")
    say("building multi-input edges")
    edges = multi_input_edges(inputs, flagged.select("tx_id"))
    members, rounds = star_components(edges, say)
    say("collecting the mapping")
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="spark-clusters-", dir=scratch))
    try:
        mapping = _collect(members, work, "mapping")
        joins = _collect(flagged, work, "coinjoins").sort_by("tx_id")
        counts = {
            "inputs": int(inputs.count()),
            "coinjoin_candidates": int(scored.count()),
            "coinjoins": joins.num_rows,
            "multi_input_edges": int(edges.count()),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cluster_of = np.arange(n_addresses, dtype=np.int64)
    if mapping.num_rows:
        cluster_of[as_int64(mapping.column("address_id").to_numpy())] = as_int64(
            mapping.column("cluster_id").to_numpy()
        )
    return SparkClustering(
        cluster_of=cluster_of,
        coinjoin_tx_ids=as_int64(joins.column("tx_id").to_numpy()),
        coinjoin_scores=np.asarray(joins.column("score").to_numpy(), dtype=np.float64),
        counts=counts,
        rounds=rounds,
    )
