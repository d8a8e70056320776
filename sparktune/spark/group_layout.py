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
bin per partition. Every row also gets its group's number (:data:`GROUP`, the group's
place in the count), each partition is sorted by it and read by one ``mapInArrow`` task,
which cuts its Arrow batches where the number changes (:func:`each_group`) and turns each
group into pandas on its own, as ``applyInPandas`` does, without the 4 ms ``applyInPandas``
spends per group on an Arrow stream of its own and back. Cutting on a number Spark
assigned keeps Spark's grouping (null and NaN keys, collations, nested keys), and a
group's pandas types depend on its own rows only (an integer column of a batch with a
null elsewhere would be floats).
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType

logger = logging.getLogger(__name__)

#: The column naming a row's partition (a group's search reads only its own columns).
PART = "__sparktune_part"
#: The column numbering a row's group: its place in the list :func:`spread` returns.
GROUP = "__sparktune_group"
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


def spread(data: DataFrame, keys: Sequence[str], partitions: int) -> tuple[DataFrame, list[Row]]:
    """``data`` with :data:`PART` and :data:`GROUP`, repartitioned so each partition holds
    one balanced bin, its rows sorted by group; and the groups' keys (row ``i``: group ``i``)."""
    spark = data.sparkSession
    counts = data.groupBy(*keys).count().collect()
    bins = max(1, min(partitions, len(counts)))
    placed = balance([int(row["count"]) for row in counts], bins)
    values = hash_preimages(bins)
    table = spark.createDataFrame(
        [(*[row[k] for k in keys], values[b], g) for g, (row, b) in enumerate(zip(counts, placed))],
        StructType(
            [StructField(f"__key{i}", data.schema[k].dataType, True) for i, k in enumerate(keys)]
            + [StructField(PART, LongType(), False), StructField(GROUP, LongType(), False)]
        ),
    )
    condition = [data[k].eqNullSafe(table[f"__key{i}"]) for i, k in enumerate(keys)]
    joined = data.join(F.broadcast(table), condition).drop(*[f"__key{i}" for i in range(len(keys))])
    logger.info("%d group(s) balanced over %d partition(s)", len(counts), bins)
    groups = [Row(**{k: row[k] for k in keys}) for row in counts]
    return joined.repartition(bins, PART).sortWithinPartitions(GROUP), groups


def each_group(batches: Iterable[pa.RecordBatch]) -> Iterator[pd.DataFrame]:
    """Each group's rows as pandas, from Arrow ``batches`` sorted by :data:`GROUP`.

    A group may go on into the next batches: its pieces are held (zero-copy slices) until
    another group starts, so one group is in memory at a time; each group is converted on
    its own, dates as ``datetime.date`` as pyspark's pandas functions get them.
    """
    pieces: list[pa.RecordBatch] = []
    current = None
    for batch in batches:
        if batch.num_rows == 0:
            continue
        ids = batch.column(GROUP).to_numpy()
        bounds = [0, *(np.flatnonzero(ids[1:] != ids[:-1]) + 1), batch.num_rows]
        for start, end in zip(bounds[:-1], bounds[1:]):
            if pieces and ids[start] != current:
                yield _frame(pieces)
                pieces = []
            pieces.append(batch.slice(start, end - start))
            current = ids[start]
    if pieces:
        yield _frame(pieces)


def _frame(pieces: list[pa.RecordBatch]) -> pd.DataFrame:
    return pa.Table.from_batches(pieces).to_pandas(date_as_object=True)
