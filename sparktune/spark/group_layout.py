"""Where each group's search runs: groups spread over tasks so that the tasks end together.

Hashing the group keys into partitions leaves some partitions with many more groups than
others, and the last of them keeps one core busy while the others idle. Instead the groups
are counted (one small job), and each is placed, largest estimated cost first, in the
partition with the least cost so far (longest-processing-time first, within 4/3 of the
best possible end). A group's cost is its trials' fixed overhead (a strategy's proposal,
a fit's setup) plus its rows, estimated as ``mean rows + rows``.

A partition number is turned into a value whose hash lands in that very partition (Spark's
``repartition(n, col)`` hashes with Murmur3, seed 42, as the SQL ``hash`` function does), so
``repartition`` then ``groupBy(part, *keys)`` is one shuffle with one bin per partition.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType

logger = logging.getLogger(__name__)

#: The column naming a row's partition (dropped before a group's search sees its rows).
PART = "__sparktune_part"


def balance(sizes: Sequence[int], bins: int) -> list[int]:
    """The bin of each group (``sizes``: its rows) so every bin's estimated cost is close.

    Longest-processing-time first: groups by falling cost, each into the least loaded bin.
    """
    if not sizes:
        return []
    overhead = sum(sizes) / len(sizes)
    loads = [(0.0, b) for b in range(bins)]
    placed = [0] * len(sizes)
    for index in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        load, chosen = heapq.heappop(loads)
        placed[index] = chosen
        heapq.heappush(loads, (load + overhead + sizes[index], chosen))
    return placed


def hash_preimages(spark: Any, count: int) -> list[int]:
    """For each partition ``p < count``, a long whose Spark hash partition is ``p``."""
    width = 64 * count
    rows = spark.range(width).select("id", F.expr(f"pmod(hash(id), {count})").alias("p"))
    found: dict[int, int] = {}
    for row in rows.collect():
        found.setdefault(int(row["p"]), int(row["id"]))
    missing = [p for p in range(count) if p not in found]
    if missing:  # 64 tries each; practically never
        raise RuntimeError(f"no value hashes to partition(s) {missing} of {count}")
    return [found[p] for p in range(count)]


def spread(data: DataFrame, keys: Sequence[str], partitions: int) -> DataFrame:
    """``data`` with :data:`PART`, repartitioned so each partition holds one balanced bin."""
    spark = data.sparkSession
    counts = data.groupBy(*keys).count().collect()
    bins = max(1, min(partitions, len(counts)))
    placed = balance([int(row["count"]) for row in counts], bins)
    values = hash_preimages(spark, bins)
    table = spark.createDataFrame(
        [(*[row[k] for k in keys], values[b]) for row, b in zip(counts, placed)],
        StructType(
            [StructField(f"__key{i}", data.schema[k].dataType, True) for i, k in enumerate(keys)]
            + [StructField(PART, LongType(), False)]
        ),
    )
    condition = [data[k].eqNullSafe(table[f"__key{i}"]) for i, k in enumerate(keys)]
    joined = data.join(F.broadcast(table), condition).drop(*[f"__key{i}" for i in range(len(keys))])
    logger.info("%d group(s) balanced over %d partition(s)", len(counts), bins)
    return joined.repartition(bins, PART)
