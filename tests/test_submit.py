"""``sparktune submit`` against a real standalone master and worker on 127.0.0.1."""

from __future__ import annotations

import math
import subprocess
import sys
import zipfile

import pandas as pd
import pytest
from cluster import spark_env, standalone_cluster
from pyspark.ml import PipelineModel
from test_cli import GRID, SAME_LAYOUT, SPARKTUNE, tiny

import sparktune.jobs.submit
from sparktune.jobs import cli, config
from sparktune.jobs.submit import command, package_zip


def best_row(results: pd.DataFrame) -> pd.Series:
    return results.loc[results["rank"] == 1].iloc[0]


def test_command_puts_spec_settings_first_and_merges_py_files(tmp_path):
    spec = config.load(GRID, ["spark.master=local[2]", "spark.conf.spark.executor.memory=1g"])
    cmd = command(
        spec,
        ["data.sample=0.1"],
        ["--master", "spark://h:7077", "--py-files", "extra.py", "--conf", "a=b"],
        tmp_path / "sparktune.zip",
        tmp_path / "driver.py",
    )
    assert cmd[0].endswith("bin/spark-submit")
    masters = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--master"]
    assert masters == ["local[2]", "spark://h:7077"]  # spark-submit keeps the last: the user's
    assert cmd[cmd.index("--py-files") + 1] == f"{tmp_path / 'sparktune.zip'},extra.py"
    assert cmd.count("--py-files") == 1
    driver = cmd.index(str(tmp_path / "driver.py"))
    assert cmd[driver + 1 :] == ["run", str(GRID.resolve()), "--set", "data.sample=0.1"]
    assert "spark.executor.memory=1g" in cmd[:driver]


def test_submit_resume_reaches_the_drivers_run(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(sparktune.jobs.submit, "submit", lambda *args, **kw: calls.append(kw) or 0)
    assert cli.main(["submit", str(GRID), "--resume", "--", "--master", "local[1]"]) == 0
    assert calls == [{"resume": True}]
    cmd = command(
        config.load(GRID), [], [], tmp_path / "sparktune.zip", tmp_path / "driver.py", resume=True
    )
    driver = cmd.index(str(tmp_path / "driver.py"))
    assert cmd[driver + 1 :] == ["run", str(GRID.resolve()), "--resume"]


def test_submit_resume_without_a_checkpoint_fails_before_spark_submit(capsys):
    no_outputs = ["--set", "output.model=null", "--set", "output.results=null"]
    assert cli.main(["submit", str(GRID), *no_outputs, "--resume"]) == 2
    assert "output.checkpoint: --resume needs output.checkpoint" in capsys.readouterr().err


def test_package_zip_holds_the_code_and_the_bundled_data(tmp_path):
    names = zipfile.ZipFile(package_zip(tmp_path)).namelist()
    assert "sparktune/jobs/cli.py" in names and "sparktune/jobs/config/validate.py" in names
    assert "sparktune/jobs/data/diamonds.csv.gz" in names
    assert not [n for n in names if "__pycache__" in n]


@pytest.mark.cluster
def test_submit_to_standalone_cluster_matches_run(spark, tmp_path):
    flags = [*tiny(tmp_path / "submitted"), *SAME_LAYOUT]
    with standalone_cluster(tmp_path / "cluster", workers=1, cores=2, memory="1g") as cluster:
        done = subprocess.run(
            [
                str(SPARKTUNE),
                "submit",
                str(GRID),
                *flags,
                "--",
                "--master",
                cluster.master_url,
                "--conf",
                "spark.executor.memory=1g",
                "--conf",
                "spark.driver.memory=1g",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            env=spark_env(),
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:] + cluster.logs()
        apps = cluster.status()["completedapps"]
    assert [(a["name"], a["state"]) for a in apps] == [("sparktune diamonds_grid", "FINISHED")]
    assert "best params:" in done.stdout

    local_out = tmp_path / "local"
    assert cli.main(["run", str(GRID), "--no-progress", *tiny(local_out), *SAME_LAYOUT]) == 0
    submitted = best_row(pd.read_csv(tmp_path / "submitted" / "results.csv"))
    local = best_row(pd.read_csv(local_out / "results.csv"))
    params = [c for c in submitted.index if c.startswith("param_")]
    assert params and all(submitted[p] == local[p] for p in params)
    assert math.isclose(submitted["mean_val_rmse"], local["mean_val_rmse"], rel_tol=1e-4)
    model = PipelineModel.load(str(tmp_path / "submitted" / "model"))
    assert len(model.stages) == 5


def test_submit_refuses_a_bad_spec_before_spark_submit(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GRID.read_text().replace("metric: rmse", "metric: rsme"))
    done = subprocess.run(
        [sys.executable, "-m", "sparktune", "submit", str(bad), "--", "--master", "local[1]"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert "evaluation.metric: unknown metric 'rsme'" in done.stderr
