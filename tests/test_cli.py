"""The ``sparktune`` command: validate, run (in-process and as a fresh process), results.

In-process runs use the session's ``spark`` fixture (``sparktune run`` reuses an active
session); one test runs the installed entry point in a fresh process, as ``make run`` does.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pyspark.ml import PipelineModel

from sparktune.jobs import cli

ROOT = Path(__file__).parent.parent
GRID = ROOT / "conf" / "examples" / "diamonds_grid.yaml"
SPARKTUNE = Path(sys.executable).parent / "sparktune"
#: Flags that give a job the test session's partitions of the bundled data, so its sample()
#: and rand(seed) folds equal those of an in-process run.
SAME_LAYOUT = ["--set", "spark.conf.spark.default.parallelism=2"]


def tiny(out: Path, tracking: str | None = None) -> list[str]:
    """``--set`` flags that shrink the diamonds grid job to seconds and write under ``out``."""
    flags = {
        "data.sample": "0.03",
        "evaluation.folds": "2",
        "search.space.lr.regParam": "[0.01, 10.0]",
        "search.space.lr.elasticNetParam": "[0.0]",
        "pipeline.stages[lr].params.maxIter": "10",
        "evaluation.train_metrics": "false",
        "output.model": str(out / "model"),
        "output.results": str(out / "results.csv"),
        "tracking.enabled": "false" if tracking is None else "true",
    }
    if tracking is not None:
        flags["tracking.uri"] = tracking
        flags["tracking.experiment"] = "cli-test"
    return [arg for key, value in flags.items() for arg in ("--set", f"{key}={value}")]


def test_validate_reports_every_problem_on_one_line_each(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = GRID.read_text()
    text = text.replace("maxIter: 50", "maxIterr: 50")
    text = text.replace("folds: 3", "folds: three")
    text = text.replace("lr.regParam:", "lr.regParm:")
    bad.write_text(text)
    failed = subprocess.run(
        [str(SPARKTUNE), "validate", str(bad)], capture_output=True, text=True, timeout=300
    )
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr
    lines = [line for line in failed.stderr.splitlines() if line.strip()]
    assert "3 problems" in lines[0]
    assert sorted(line.split(": ")[1] for line in lines[1:]) == [
        "evaluation.folds",
        "pipeline.stages[4].params.maxIterr",
        "search.space.lr.regParm",
    ]
    ok = subprocess.run(
        [str(SPARKTUNE), "validate", str(GRID)], capture_output=True, text=True, timeout=300
    )
    assert ok.returncode == 0 and "OK" in ok.stdout


def test_run_prints_summary_saves_outputs_and_results_reads_mlflow(diamonds, tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    status = cli.main(["run", str(GRID), "--no-progress", *tiny(tmp_path, uri)])
    out = capsys.readouterr().out
    assert status == 0
    assert re.search(r"best rmse = [\d.]+ \(mean of 2 folds; smaller is better\)", out)
    results = pd.read_csv(tmp_path / "results.csv")
    assert len(results) == 2 and set(results["state"]) == {"complete"}
    best = results.loc[results["rank"] == 1].iloc[0]
    printed = float(re.search(r"^  lr\.regParam\s+(\S+)$", out, re.MULTILINE).group(1))
    assert math.isclose(printed, best["param_lr.regParam"])
    assert f"{best['mean_val_rmse']:.6g}" in out.splitlines()[1]
    model = PipelineModel.load(str(tmp_path / "model"))
    predicted = model.transform(diamonds.limit(5)).select("prediction").collect()
    assert len(predicted) == 5 and all(math.isfinite(row.prediction) for row in predicted)
    run_id = re.search(r"MLflow run: (\w+)", out).group(1)
    assert f"mlflow ui --backend-store-uri {uri}" in out and f"/runs/{run_id}" in out

    assert cli.main(["results", run_id, "--tracking-uri", uri]) == 0
    shown = capsys.readouterr().out
    assert "lr.regParam" in shown and "rmse" in shown
    assert len([line for line in shown.splitlines() if line.strip()]) == 1 + len(results)


#: A per-group job: 10% of the rows (the smallest of the 35 cut x color groups keeps a dozen
#: rows, enough for 2 folds); it records no training metrics.
PER_GROUP = ["data.sample=0.1", "evaluation.train_metrics=null"]


@pytest.mark.parametrize(
    ("name", "extra", "states"),
    [
        ("diamonds_tpe.yaml", [], ["complete"] * 2),
        ("diamonds_sklearn.yaml", [], ["complete"] * 2),
        ("diamonds_groups.yaml", PER_GROUP, ["complete"] * 35),  # one row per group
        (
            "diamonds_xgboost.yaml",
            ["pipeline.stages[xgb].params.n_estimators=10"],
            ["complete"] * 2,
        ),
        ("diamonds_cut_classification.yaml", [], ["complete"] * 2),
        # two rungs (2, 6 iterations): of 3 trials the best reaches the top, 2 are pruned
        (
            "diamonds_asha_gbt.yaml",
            ["search.max_trials=3", "search.scheduler.max_resource=6"],
            ["complete"] + ["pruned"] * 2,
        ),
        # 4 folds, burn-in 2: the heavily regularized candidate is dropped after 2 or 3
        (
            "diamonds_racing.yaml",
            [
                "evaluation.folds=4",
                "search.scheduler.burn_in=2",
                "search.space.lr.regParam=[0.01, 100000.0]",
                "search.space.lr.elasticNetParam=[0.0]",
            ],
            ["complete", "pruned"],
        ),
    ],
)
def test_every_example_job_runs(spark, tmp_path, capsys, name, extra, states):
    """The other examples, shrunk: a small sample, 2 folds, 2 trials (3 under ASHA; per group:
    2 trials in every group; 4 folds for racing), no tracking."""
    flags = {
        "data.sample": "0.02",
        "evaluation.folds": "2",
        "evaluation.train_metrics": "false",
        "search.max_trials": "2",
        "tracking.enabled": "false",
        "output.model": "null",
        "output.results": str(tmp_path / "results.csv"),
    }
    sets = [f"{k}={v}" for k, v in flags.items()] + extra
    argv = ["run", str(GRID.parent / name), "--no-progress"]
    assert cli.main([*argv, *[a for s in sets for a in ("--set", s)]]) == 0
    results = pd.read_csv(tmp_path / "results.csv")
    assert sorted(results["state"]) == states, results
    out = capsys.readouterr().out
    if name == "diamonds_groups.yaml":
        assert "35 group(s) by cut, color: 35 complete, 0 failed, 0 skipped" in out
        assert set(results["n_trials"]) == {2}
    else:
        assert "best params:" in out


def test_estimator_and_group_jobs_save_models_that_predict(spark, diamonds, tmp_path, capsys):
    """The joblib file of an estimator job and the per-group models of a groups job."""
    import joblib

    import sparktune

    shrink = ["data.sample=0.05", "search.max_trials=2", "tracking.enabled=false"]
    model = tmp_path / "model.joblib"
    sets = [*shrink, f"output.model={model}", f"output.results={tmp_path / 'results.csv'}"]
    argv = ["run", str(GRID.parent / "diamonds_sklearn.yaml"), "--no-progress"]
    assert cli.main([*argv, *[a for s in sets for a in ("--set", s)]]) == 0
    assert f"best model: {model}" in capsys.readouterr().out
    rows = diamonds.limit(5).toPandas()
    predicted = joblib.load(model).predict(rows[["carat", "depth", "table", "x", "y", "z"]])
    assert len(predicted) == 5 and all(math.isfinite(p) for p in predicted)

    models = tmp_path / "models"
    sets = [*shrink, "data.sample=0.1", f"output.model={models}", "output.results=null"]
    argv = ["run", str(GRID.parent / "diamonds_groups.yaml"), "--no-progress"]
    assert cli.main([*argv, *[a for s in sets for a in ("--set", s)]]) == 0
    assert f"per-group models: {models}" in capsys.readouterr().out
    scored = sparktune.load_group_models(models).predict(diamonds.limit(50)).toPandas()
    assert len(scored) == 50 and scored["prediction"].notna().all()


def test_run_reports_a_label_missing_from_the_data(spark, tmp_path, capsys):
    status = cli.main(["run", str(GRID), *tiny(tmp_path), "--set", "data.label=weight"])
    err = capsys.readouterr().err
    assert status == 2
    assert "data.label: column 'weight' is neither in the data nor made by a stage" in err
    assert not (tmp_path / "results.csv").exists()


def test_results_of_an_unknown_store_fails_cleanly(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert cli.main(["results", "0123456789abcdef", "--tracking-uri", uri]) == 1
    assert f"no MLflow tracking store at {tmp_path / 'mlflow.db'}" in capsys.readouterr().err
    assert not (tmp_path / "mlflow.db").exists()


def test_make_run_command_runs_a_real_job_in_a_fresh_process(tmp_path):
    """What ``make run`` does, on a small sample: embedded Spark, progress bar, summary."""
    done = subprocess.run(
        [str(SPARKTUNE), "run", str(GRID), *tiny(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "best params:" in done.stdout and "lr.regParam" in done.stdout
    assert "2/2" in done.stderr  # the progress bar, trials done of total
    assert (tmp_path / "results.csv").exists() and (tmp_path / "model").is_dir()
    # A quiet first run: no data inside tasks, no Spark banner, no MLflow INFO lines.
    for noise in ("very large size", "log4j", "NativeCodeLoader", "SPARK_LOCAL_IP", "INFO"):
        assert noise not in done.stderr, done.stderr[-3000:]


def test_logging_quiets_mlflow_unless_verbose_or_set(monkeypatch):
    monkeypatch.delenv("MLFLOW_LOGGING_LEVEL", raising=False)
    cli.configure_logging(verbose=False)
    assert os.environ["MLFLOW_LOGGING_LEVEL"] == "WARNING"
    monkeypatch.delenv("MLFLOW_LOGGING_LEVEL")
    cli.configure_logging(verbose=True)
    assert os.environ["MLFLOW_LOGGING_LEVEL"] == "INFO"
    monkeypatch.setenv("MLFLOW_LOGGING_LEVEL", "DEBUG")
    cli.configure_logging(verbose=False)
    assert os.environ["MLFLOW_LOGGING_LEVEL"] == "DEBUG"


def test_usage_errors_exit_with_status_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run"])
    assert info.value.code == 2
    assert cli.main(["validate", str(GRID), "--", "--master", "local"]) == 2
    assert "only `submit` takes options after --" in capsys.readouterr().err
