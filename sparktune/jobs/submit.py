"""``sparktune submit``: run a job spec through ``$SPARK_HOME/bin/spark-submit``, any master.

The driver (client deploy mode) is a two-line script that calls ``sparktune run`` on the
same spec; sparktune itself reaches the driver and executors as a zip of this package built
on the fly and passed with ``--py-files``, so workers need only Python with sparktune's
dependencies (pyspark, pandas, pyarrow, and xgboost for ``xgboost.spark`` stages), not
sparktune. The spec's ``spark.master`` and ``spark.conf`` become ``--master`` and
``--conf`` options placed before yours, so options after ``--`` win.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pyspark

import sparktune
from sparktune.jobs.config import JobSpec

logger = logging.getLogger(__name__)

DRIVER = '''"""spark-submit's primary resource: run a sparktune job spec on this driver."""
import sys

from sparktune.jobs.cli import main

sys.exit(main())
'''


def spark_home() -> Path:
    """``$SPARK_HOME`` if set, else the pip-installed pyspark (which ships spark-submit)."""
    return Path(os.environ.get("SPARK_HOME") or Path(pyspark.__file__).parent)


def package_zip(directory: Path) -> Path:
    """Zip the sparktune package (code and bundled data) into ``directory`` for --py-files."""
    root = Path(sparktune.__file__).parent
    target = directory / "sparktune.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, Path("sparktune") / path.relative_to(root))
    return target


def _split_py_files(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Take ``--py-files`` out of spark-submit options (spark-submit keeps only the last one)."""
    rest, py_files = [], []
    items = iter(args)
    for item in items:
        if item == "--py-files":
            py_files.append(next(items, ""))
        elif item.startswith("--py-files="):
            py_files.append(item.split("=", 1)[1])
        else:
            rest.append(item)
    return rest, [f for f in py_files if f]


def command(
    spec: JobSpec,
    overrides: Sequence[str],
    spark_args: Sequence[str],
    package: Path,
    driver: Path,
    resume: bool = False,
) -> list[str]:
    """The spark-submit command line that runs ``spec`` with ``driver`` as the primary resource.

    ``resume`` passes ``--resume`` on to the driver's ``sparktune run``.
    """
    rest, py_files = _split_py_files(spark_args)
    cmd = [
        str(spark_home() / "bin" / "spark-submit"),
        "--name",
        f"sparktune {Path(spec.source).stem}",
    ]
    if spec.spark.master:
        cmd += ["--master", spec.spark.master]
    for key, value in spec.spark.conf.items():
        cmd += ["--conf", f"{key}={value}"]
    cmd += ["--py-files", ",".join([str(package), *py_files]), *rest, str(driver)]
    cmd += ["run", str(Path(spec.source).resolve())]
    for item in overrides:
        cmd += ["--set", item]
    if resume:
        cmd.append("--resume")
    return cmd


def submit(
    spec: JobSpec, overrides: Sequence[str], spark_args: Sequence[str], resume: bool = False
) -> int:
    """Run ``spec`` through spark-submit (already validated here); return its exit status.

    ``resume`` keeps the finished trials of the spec's checkpoint, as ``sparktune run --resume``.
    """
    env = dict(os.environ)
    env.setdefault("SPARK_HOME", str(spark_home()))
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    with tempfile.TemporaryDirectory(prefix="sparktune-submit-") as tmp:
        directory = Path(tmp)
        driver = directory / "sparktune_driver.py"
        driver.write_text(DRIVER)
        cmd = command(spec, overrides, spark_args, package_zip(directory), driver, resume)
        logger.info("running %s", " ".join(cmd))
        return subprocess.run(cmd, env=env, check=False).returncode
