"""How the fold cache holds featurized folds under memory pressure, chosen once per search.

Once the first featurized fold is cached, its size (what Spark holds for it) says how much
every fold will take. Then, in order of preference:

- ``memory``: every fold fits the memory budget; all are kept in memory (Spark may still
  spill a block to local disk under pressure: ``MEMORY_AND_DISK``);
- ``disk``: the folds beyond what memory holds are persisted to local disk
  (``DISK_ONLY``; reading a fold back from disk costs far less than fitting the prefix
  and transforming the input again), and nothing is evicted;
- ``fold-major``: not every fold fits even on disk; the engine runs the fits fold by fold
  (all trials in flight on one fold, then the next: :data:`FOLD_MAJOR_WINDOW` trials at
  a time), and the least recently used fold is released when the next one needs room.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

#: Trials in flight under the fold-major plan: each fold is built once per this many trials.
FOLD_MAJOR_WINDOW = 16

#: The share of the local disk's free space the fold cache may fill.
DISK_SHARE = 0.5


@dataclass(frozen=True)
class FoldPlan:
    """What the cache does with folds of ``fold_bytes`` each (see the module docstring)."""

    kind: str
    fold_bytes: int
    folds: int
    in_memory: int
    window: int | None = None

    def describe(self, memory_bytes: int | None, budget_bytes: int | None) -> str:
        """One line for the log: what was chosen and why."""
        mib = 2**20
        sizes = (
            f"each featurized fold holds {self.fold_bytes / mib:.1f} MiB in Spark, "
            f"{self.folds} fold(s): {self.fold_bytes * self.folds / mib:.1f} MiB; memory "
            f"budget {_mib(memory_bytes)}, memory and local disk {_mib(budget_bytes)}"
        )
        if self.kind == "memory":
            return f"fold cache plan: all folds in memory ({sizes})"
        if self.kind == "disk":
            return (
                f"fold cache plan: {self.in_memory} fold(s) in memory, the others on local "
                f"disk (DISK_ONLY), none rebuilt ({sizes})"
            )
        return (
            f"fold cache plan: fold-major, {self.window} trials in flight, a fold released "
            f"when the next needs its room, so each is built once per {self.window} trials "
            f"({sizes})"
        )


def _mib(value: int | None) -> str:
    return "unbounded" if value is None else f"{value / 2**20:.0f} MiB"


def choose(
    fold_bytes: int, folds: int, memory_bytes: int | None, budget_bytes: int | None
) -> FoldPlan:
    """The plan for ``folds`` folds of ``fold_bytes`` each, given the memory budget and the
    budget for memory and local disk together (None: unbounded)."""
    size = max(fold_bytes, 1)
    in_memory = folds if memory_bytes is None else min(folds, memory_bytes // size)
    if in_memory >= folds:
        return FoldPlan("memory", fold_bytes, folds, folds)
    if budget_bytes is None or size * folds <= budget_bytes:
        return FoldPlan("disk", fold_bytes, folds, in_memory)
    return FoldPlan("fold-major", fold_bytes, folds, in_memory, FOLD_MAJOR_WINDOW)


def local_disk_budget(spark: Any) -> int | None:
    """:data:`DISK_SHARE` of the free space where Spark spills (``spark.local.dir``).

    Read on the driver; on a cluster the executors' local disks are taken to be alike.
    None where the directory cannot be read.
    """
    try:
        local = str(spark.conf.get("spark.local.dir", None) or tempfile.gettempdir())
        free = min(shutil.disk_usage(d.strip()).free for d in local.split(","))
    except Exception:  # a remote session's conf, a directory not on this machine
        logger.debug("cannot read the free space of Spark's local directories", exc_info=True)
        return None
    return int(free * DISK_SHARE)
