"""Issue 26: bench cv's grid on diamonds x16 / x64 read from parquet, uncached, at driver
memory 1g and 4g: sparktune vs pyspark ``CrossValidator(parallelism=2)``.

Each (scale, memory) cell runs in a driver process of its own (``--cell``), which times
both contenders once (pyspark first), samples what Spark holds cached (memory and disk)
while each runs, and reads the task metrics of the stages each ran (run time, GC, spill)
from Spark's status store. ``python -m bench.bench_large`` runs every cell and prints the
table; ``make bench-large`` calls it. It is not part of ``make bench``: a pyspark run at
x64 takes many minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCALES = (16, 64)
MEMORIES = ("1g", "4g")
DATA_DIR = Path(os.environ.get("SPARKTUNE_BENCH_DIR", tempfile.gettempdir())) / "sparktune-large"


class _Sampler(threading.Thread):
    """Polls Spark's storage info every ``interval`` seconds, keeping the peaks."""

    def __init__(self, spark: Any, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.spark, self.interval = spark, interval
        self.peak_memory = self.peak_disk = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        from sparktune.compat import spark_status

        while not self._stop_event.wait(self.interval):
            held = spark_status.cached(self.spark)
            if held is not None:
                self.peak_memory = max(self.peak_memory, held.memory)
                self.peak_disk = max(self.peak_disk, held.disk)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class _CacheLog(logging.Handler):
    """Keeps the fold cache's log records: its plan, builds and evictions."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _diff(after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Per stage name, the metrics ``after`` adds to ``before``; totals under ``"all"``."""
    out: dict[str, Any] = {}
    total: dict[str, int] = {}
    for name, row in after.items():
        prev = before.get(name, {})
        delta = {k: v - prev.get(k, 0) for k, v in row.items()}
        if delta["stages"]:
            out[name] = delta
            for k, v in delta.items():
                total[k] = total.get(k, 0) + v
    out["all"] = total
    return out


def _measure(spark: Any, label: str, fn: Callable[[], Any]) -> tuple[dict[str, Any], Any]:
    """Run ``fn`` once; its time, peak cached memory and disk, and task metrics by stage."""
    from sparktune.compat import spark_status

    before = spark_status.stage_totals(spark)
    sampler = _Sampler(spark)
    sampler.start()
    start = time.perf_counter()
    try:
        result = fn()
    finally:
        seconds = time.perf_counter() - start
        sampler.stop()
    stages = _diff(spark_status.stage_totals(spark), before)
    print(f"  {label:<28s} {seconds:8.1f} s", flush=True)
    return {
        "seconds": seconds,
        "peak_cached_memory": sampler.peak_memory,
        "peak_cached_disk": sampler.peak_disk,
        "stages": stages,
    }, result


def write_data(spark: Any, scale: int) -> str:
    """Diamonds x ``scale`` as parquet under :data:`DATA_DIR` (written once, then reused)."""
    from sparktune.jobs.datasets import load_diamonds

    path = DATA_DIR / f"diamonds_x{scale}.parquet"
    if not (path / "_SUCCESS").exists():
        load_diamonds(spark, scale=scale).repartition(8).write.mode("overwrite").parquet(str(path))
    return str(path)


def cell(scale: int, memory: str, with_pyspark: bool = True) -> dict[str, Any]:
    """One (scale, driver memory) cell in this process: pyspark (unless not
    ``with_pyspark``), then sparktune."""
    from pyspark.ml import tuning as pt

    import sparktune
    from bench.common import cv_grid, warm_up
    from sparktune.compat import spark_status
    from sparktune.spark.session import get_session

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = get_session(
        "local[2]",
        {"spark.driver.memory": memory, "spark.ui.retainedStages": "100000"},
        app_name=f"bench-large-x{scale}-{memory}",
    )
    data = spark.read.parquet(write_data(spark, scale))
    rows = data.count()
    warm_up(data.sample(fraction=1 / scale, seed=1))  # warm the JVM on about x1 data
    storage = spark_status.storage_memory(spark)
    print(
        f"diamonds x{scale} ({rows} rows, parquet, uncached), driver memory {memory} "
        f"(storage memory {storage.total / 2**20 if storage else math.nan:.0f} MiB)",
        flush=True,
    )
    common = cv_grid()
    pyspark_run, pm = (
        _measure(
            spark,
            "pyspark CrossValidator",
            lambda: pt.CrossValidator(parallelism=2, **common).fit(data),
        )
        if with_pyspark
        else ({"seconds": math.nan, "stages": {"all": {}}}, None)
    )
    log = _CacheLog()
    cache_logger = logging.getLogger("sparktune.spark.cache")
    cache_logger.addHandler(log)
    cache_logger.setLevel(logging.DEBUG)
    try:
        sparktune_run, sm = _measure(
            spark,
            "sparktune CrossValidator",
            lambda: sparktune.CrossValidator(parallelism=2, **common).fit(data),
        )
    finally:
        cache_logger.removeHandler(log)
    sparktune_run["cache_log"] = log.messages
    sparktune_run["left_cached"] = len(spark.sparkContext._jsc.getPersistentRDDs())
    out = {
        "scale": scale,
        "rows": rows,
        "memory": memory,
        "storage_memory": storage.total if storage else None,
        "pyspark": pyspark_run,
        "sparktune": sparktune_run,
        "best_pyspark": min(pm.avgMetrics) if pm is not None else math.nan,
        "best_sparktune": min(sm.avgMetrics),
        "ratio": sparktune_run["seconds"] / pyspark_run["seconds"],
    }
    spark.stop()
    return out


def _mib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:.0f}"


def table(cells: list[dict[str, Any]]) -> str:
    """The markdown table of ``cells``."""
    lines = [
        "| data | driver memory | pyspark s | sparktune s | ratio | sparktune peak cached "
        "MiB (memory / disk) | spill MiB (pyspark / sparktune) | GC s (pyspark / sparktune) "
        "| fold builds / evictions | same best rmse |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        p, s = c["pyspark"], c["sparktune"]
        ps, ss = p["stages"]["all"], s["stages"]["all"]
        builds = sum(m.startswith("cached fold") for m in s["cache_log"])
        evictions = sum(m.startswith("evicted") for m in s["cache_log"])
        same = math.isclose(c["best_pyspark"], c["best_sparktune"], rel_tol=1e-4)
        lines.append(
            f"| x{c['scale']} ({c['rows']:,} rows) | {c['memory']} | {p['seconds']:.1f} | "
            f"{s['seconds']:.1f} | {c['ratio']:.2f} | {_mib(s['peak_cached_memory'])} / "
            f"{_mib(s['peak_cached_disk'])} | "
            f"{_mib(ps.get('memoryBytesSpilled', 0))} / {_mib(ss.get('memoryBytesSpilled', 0))} | "
            f"{ps.get('jvmGcTime', 0) / 1000:.1f} / {ss.get('jvmGcTime', 0) / 1000:.1f} | "
            f"{builds} / {evictions} | {'yes' if same else 'NO'} |"
        )
    return "\n".join(lines)


def main(
    scales: tuple[int, ...] = SCALES,
    memories: tuple[str, ...] = MEMORIES,
    with_pyspark: bool = True,
) -> list[dict[str, Any]]:
    """Run every (scale, memory) cell in a driver process of its own; print the table."""
    cells = []
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for scale in scales:
        for memory in memories:
            out = DATA_DIR / f"cell_x{scale}_{memory}.json"
            args = ["--cell", str(scale), memory, str(out)]
            args += [] if with_pyspark else ["--no-pyspark"]
            subprocess.run([sys.executable, "-m", "bench.bench_large", *args], check=True)
            cells.append(json.loads(out.read_text()))
            print(table(cells[-1:]).splitlines()[-1], flush=True)
    print(table(cells), flush=True)
    return cells


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.bench_large", description=__doc__)
    parser.add_argument("--cell", nargs=3, metavar=("SCALE", "MEMORY", "OUT"))
    parser.add_argument("--scales", type=int, nargs="*", default=list(SCALES))
    parser.add_argument("--memories", nargs="*", default=list(MEMORIES))
    parser.add_argument("--no-pyspark", action="store_true", help="time sparktune only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.cell:
        scale, memory, path = args.cell
        logging.getLogger("sparktune").setLevel(logging.INFO)
        Path(path).write_text(json.dumps(cell(int(scale), memory, not args.no_pyspark)))
    else:
        main(tuple(args.scales), tuple(args.memories), not args.no_pyspark)
