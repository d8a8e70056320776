"""Run the benchmarks: ``python -m bench [cv] [tpe] [xgboost] [connect] [halving] [local]
[groups] [racing] [functions]``: all of them by default, each ratio measured within one run."""

from __future__ import annotations

import argparse
import importlib
import logging
import subprocess
import sys

BENCHES = {
    "cv": "bench.bench_cv",
    "tpe": "bench.bench_tpe",
    "xgboost": "bench.bench_xgboost",
    "connect": "bench.bench_connect",
    "local": "bench.bench_local",
    "groups": "bench.bench_groups",
    "halving": "bench.bench_halving",
    "racing": "bench.bench_racing",
    "functions": "bench.bench_functions",
}
#: Benches on a Spark Connect session: pyspark.ml is classic or Connect for a whole process.
CONNECT = {"connect"}


def main() -> None:
    """Run the named benchmarks in one process, so each ratio is measured in the same run."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"any of {sorted(BENCHES)}; all by default")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHES)}")
    logging.basicConfig(level=logging.WARNING)
    names = args.names or list(BENCHES)
    classic = [name for name in names if name not in CONNECT]
    for name in names:
        if name in CONNECT and classic:  # after classic benches: a process of its own
            subprocess.run([sys.executable, "-m", "bench", name], check=True)
            continue
        print(f"== {name}", flush=True)
        importlib.import_module(BENCHES[name]).main()


if __name__ == "__main__":
    main()
