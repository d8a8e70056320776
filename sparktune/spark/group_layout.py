"""Where each group's search runs: groups spread over tasks so that the tasks end together.

Hashing the group keys into partitions leaves some partitions with many more groups than
others, and the last of them keeps one core busy while the others idle. Instead the groups
are counted (one small job), and each is placed, largest estimated cost first, in the
partition with the least cost so far (longest-processing-time first, within 4/3 of the
best possible end). A group's cost is its trials' fixed overhead (a strategy's proposal,
a fit's setup) plus its rows, estimated as ``mean rows + rows``.

A partition number is turned into a value whose hash lands in that very partition (Spark's
``repartition(n, col)`` hashes with Murmur3, seed 42, as the SQL ``hash`` function does;
:func:`spark_hash` computes it without a job), so ``repartition`` is one shuffle with one
bin per partition. Each partition is sorted by its groups' keys and read by one
``mapInPandas`` task, which cuts its batches into groups (:func:`each_group`): a group's
rows reach Python together, as with ``applyInPandas``, without the 4 ms that
``applyInPandas`` spends per group turning each one into its own Arrow stream and back.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType

logger = logging.getLogger(__name__)

#: The column naming a row's partition (a group's search reads only its own columns).
PART = "__sparktune_part"
MASK = 0xFFFFFFFF


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


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & MASK


def _mix(h1: int, word: int) -> int:
    k1 = _rotl((word * 0xCC9E2D51) & MASK, 15) * 0x1B873593 & MASK
    return (_rotl(h1 ^ k1, 13) * 5 + 0xE6546B64) & MASK


def spark_hash(value: int, seed: int = 42) -> int:
    """Spark's ``hash()`` of a long (Murmur3 x86 32-bit, as ``Murmur3Hash`` computes it)."""
    h1 = _mix(_mix(seed, value & MASK), (value >> 32) & MASK) ^ 8
    h1 = (h1 ^ (h1 >> 16)) * 0x85EBCA6B & MASK
    h1 = (h1 ^ (h1 >> 13)) * 0xC2B2AE35 & MASK
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 & 0x80000000 else h1


def hash_preimages(count: int) -> list[int]:
    """For each partition ``p < count``, a long that ``repartition(count, col)`` sends to ``p``."""
    found: dict[int, int] = {}
    value = 0
    while len(found) < count:
        found.setdefault(spark_hash(value) % count, value)
        value += 1
    return [found[p] for p in range(count)]


def spread(data: DataFrame, keys: Sequence[str], partitions: int) -> DataFrame:
    """``data`` with :data:`PART`, repartitioned so each partition holds one balanced bin,
    its rows sorted by the keys (so :func:`each_group` can cut them into groups)."""
    spark = data.sparkSession
    counts = data.groupBy(*keys).count().collect()
    bins = max(1, min(partitions, len(counts)))
    placed = balance([int(row["count"]) for row in counts], bins)
    values = hash_preimages(bins)
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
    return joined.repartition(bins, PART).sortWithinPartitions(*keys)


def each_group(batches: Iterable[pd.DataFrame], keys: Sequence[str]) -> Iterator[pd.DataFrame]:
    """Each group's rows (a fresh index), from ``batches`` of rows sorted by ``keys``.

    A group may go on into the next batch, so the last group of a batch is held until
    a batch starts with another key (or the batches end): one group (and one batch) is in
    memory at a time.
    """
    held: pd.DataFrame | None = None
    for batch in batches:
        frame = batch if held is None else pd.concat([held, batch], ignore_index=True)
        if frame.empty:
            continue
        ids = frame.groupby(list(keys), sort=False, dropna=False).ngroup().to_numpy()
        starts = [0, *(np.flatnonzero(ids[1:] != ids[:-1]) + 1)]
        for start, end in zip(starts[:-1], starts[1:]):
            yield frame.iloc[start:end].reset_index(drop=True)
        held = frame.iloc[starts[-1] :]
    if held is not None and not held.empty:
        yield held.reset_index(drop=True)
