"""The command as people use it: ``sparktune init`` on a file it never saw, then ``run``;
spec files that cannot be read; options after the subcommand; ``results`` that creates no
store; every mistake of a spec reported at once.

All but the quick start run without Spark (a spec is validated from classes).
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hyperopt import hp
from mlflow import MlflowClient

from sparktune.jobs import cli, config
from sparktune.jobs.config import SpecError

ROOT = Path(__file__).parent.parent
GRID = ROOT / "conf" / "examples" / "diamonds_grid.yaml"
SKLEARN = ROOT / "conf" / "examples" / "diamonds_sklearn.yaml"


def fails(capsys, *argv: str, status: int = 2) -> str:
    """Run the command expecting ``status``; its stderr, checked to hold no traceback."""
    got = cli.main(list(argv))
    err = capsys.readouterr().err
    assert got == status, err
    assert "Traceback" not in err
    return err


def churn_csv(path: Path, rows: int = 160) -> Path:
    """A CSV sparktune never saw: string features (one with gaps), numbers with gaps, an id
    column and a binary label."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(rows)],
            "age": rng.integers(18, 80, rows).astype(float),
            "monthly_fee": rng.normal(40, 12, rows).round(2),
            "region": rng.choice(["north", "south", "east", None], rows),
            "plan": rng.choice(["basic", "pro", "family"], rows),
        }
    )
    frame.loc[rng.choice(rows, 15, replace=False), "monthly_fee"] = np.nan
    frame["churned"] = ((frame["age"] < 35) ^ (rng.random(rows) < 0.2)).astype(int)
    frame.to_csv(path, index=False)
    return path


# -- sparktune init ------------------------------------------------------------------------


def test_init_then_run_on_a_csv_it_never_saw(spark, tmp_path, capsys, monkeypatch):
    """The quick start: init writes a spec from the file's columns; run runs it as written
    (a few trials, two folds); the run prints the MLflow UI command and logs the spec."""
    monkeypatch.chdir(tmp_path)
    churn_csv(tmp_path / "churn.csv")
    assert cli.main(["init", "churn.csv", "--label", "churned", "-o", "churn.yaml"]) == 0
    assert "sparktune run churn.yaml" in capsys.readouterr().err
    text = (tmp_path / "churn.yaml").read_text()
    assert "Task: classification" in text and "customer_id" in text  # left out, said why
    spec = config.load(tmp_path / "churn.yaml")
    assert spec.evaluation.metric.name == "areaUnderROC"
    classes = [s.cls.__name__ for s in spec.stages]
    assert classes == [
        "Imputer", "StringIndexer", "OneHotEncoder", "VectorAssembler", "RandomForestClassifier"
    ]  # fmt: skip
    assert spec.stages[0].params["inputCols"] == ["monthly_fee"]

    small = "{model.numTrees: 10, model.maxDepth: 3, model.minInstancesPerNode: %d}"
    point = f"[{small % 5}, {small % 1}]"  # two small forests: a quick test
    status = cli.main(
        [
            "run", "churn.yaml", "--no-progress",
            "--set", "search.max_trials=2", "--set", "evaluation.folds=2",
            "--set", "evaluation.train_metrics=false",
            "--set", f"search.points_to_evaluate={point}",
            "--set", f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    results = pd.read_csv(tmp_path / "output" / "churn" / "results.csv")
    assert len(results) == 2 and set(results["state"]) == {"complete"}
    first = results.loc[results["trial"] == 0].iloc[0]  # the point given in YAML, first
    assert (first["param_model.numTrees"], first["param_model.maxDepth"]) == (10, 3)
    assert 0.5 <= results["mean_val_areaUnderROC"].max() <= 1.0
    assert (tmp_path / "output" / "churn" / "model").is_dir()
    run_id = re.search(r"MLflow run: (\w+)", out).group(1)
    assert f"mlflow ui --backend-store-uri sqlite:///{tmp_path / 'mlflow.db'}" in out
    assert f"/runs/{run_id}" in out
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    logged = {a.path for a in client.list_artifacts(run_id, "spec")}
    assert logged == {"spec/churn.yaml", "spec/as_run.yaml"}
    as_run = yaml.safe_load(
        Path(client.download_artifacts(run_id, "spec/as_run.yaml", str(tmp_path))).read_text()
    )
    assert as_run["search"]["max_trials"] == 2  # the --set override is in the spec as run
    assert config.parse(as_run).search.max_trials == 2
    settings = client.download_artifacts(run_id, "settings.json", str(tmp_path))
    assert '"strategy": "tpe"' in Path(settings).read_text()


def test_init_on_the_bundled_data_infers_the_task(capsys):
    assert cli.main(["init", "diamonds", "--label", "price"]) == 0
    regression = config.parse(yaml.safe_load(capsys.readouterr().out))
    assert regression.evaluation.metric.name == "rmse"
    assert regression.stages[-1].cls.__name__ == "RandomForestRegressor"
    assert cli.main(["init", "diamonds", "--label", "cut"]) == 0
    classes = config.parse(yaml.safe_load(capsys.readouterr().out))
    assert classes.data.label == "cut_index"  # a string label is indexed by the first stage
    assert classes.stages[0].params == {"inputCol": "cut", "outputCol": "cut_index"}
    assert classes.evaluation.metric.name == "f1"
    assert cli.main(["init", "diamonds", "--label", "price", "--task", "classification"]) == 0
    assert "as --task says; the label 'price' looked like regression" in capsys.readouterr().out


def test_init_of_a_label_that_is_not_a_column(tmp_path, capsys):
    err = fails(capsys, "init", str(churn_csv(tmp_path / "c.csv")), "--label", "churnd")
    assert "'churnd' is not a column" in err and "did you mean 'churned'" in err


def test_init_of_a_missing_file(tmp_path, capsys):
    err = fails(capsys, "init", str(tmp_path / "nope.csv"), "--label", "y")
    assert "no such file or directory" in err and "nope.csv" in err


def test_init_of_a_file_of_unknown_format(tmp_path, capsys):
    data = tmp_path / "data.xlsx"
    data.write_text("x")
    assert "cannot tell the format of" in fails(capsys, "init", str(data), "--label", "y")


def test_init_does_not_overwrite_a_spec(tmp_path, capsys):
    out = tmp_path / "job.yaml"
    out.write_text("mine")
    err = fails(capsys, "init", "diamonds", "--label", "price", "-o", str(out))
    assert "exists" in err and "--force" in err and out.read_text() == "mine"


def test_init_of_an_unknown_task(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["init", "diamonds", "--label", "price", "--task", "ranking"])
    assert info.value.code == 2
    assert "invalid choice: 'ranking'" in capsys.readouterr().err


# -- spec files that cannot be read: one line, the file and the line, exit 2 ------------------


def test_spec_not_utf8(tmp_path, capsys):
    spec = tmp_path / "latin1.yaml"
    spec.write_bytes("data:\n  label: pr\u00e9cio\n".encode("latin-1"))
    err = fails(capsys, "validate", str(spec))
    assert err.strip() == f"sparktune: {spec}:2: not UTF-8 text (byte 0xe9); save the spec as UTF-8"


def test_spec_yaml_error_names_the_line_and_column(tmp_path, capsys):
    spec = tmp_path / "job.yaml"
    spec.write_text("data:\n  label: price\nsearch: [unclosed\n  strategy: : grid\n")
    err = fails(capsys, "validate", str(spec))
    assert len(err.strip().splitlines()) == 1
    assert f"{spec}:4:" in err and "not valid YAML" in err and "<unicode string>" not in err


def test_spec_with_a_tab_for_indentation(tmp_path, capsys):
    spec = tmp_path / "job.yaml"
    spec.write_text("data:\n\tlabel: price\n")
    assert f"{spec}:2:1: not valid YAML" in fails(capsys, "validate", str(spec))


def test_spec_that_is_a_directory(tmp_path, capsys):
    assert "cannot read the spec file" in fails(capsys, "run", str(tmp_path))


# -- every mistake at once; YAML forms --------------------------------------------------------


def problems(raw) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        config.parse(raw, "job.yaml")
    return {p.path: p.message for p in info.value.problems}


def test_scheduler_mistakes_are_all_reported():
    raw = yaml.safe_load(GRID.read_text())
    raw["search"]["scheduler"] = {"type": "asha", "reduction_factor": 1, "min_resource": -2}
    raw["search"]["space"]["lr.elasticNetParam"] = [0.0, "half"]
    found = problems(raw)
    assert "reduction_factor must be a number >= 2" in found["search.scheduler.reduction_factor"]
    assert "min_resource must be a positive number" in found["search.scheduler.min_resource"]
    assert "search.space.lr.elasticNetParam[1]" in found


def test_a_bad_estimator_param_does_not_hide_the_space_mistakes():
    raw = yaml.safe_load(SKLEARN.read_text())
    raw["estimator"]["params"]["max_iterr"] = 5
    raw["search"]["space"]["max_dept"] = [2, 3]
    found = problems(raw)
    assert "did you mean 'max_iter'" in found["estimator.params.max_iterr"]
    assert "did you mean 'max_depth'" in found["search.space.max_dept"]


def test_loguniform_bounds_written_as_logs_get_a_did_you_mean():
    raw = yaml.safe_load(SKLEARN.read_text())
    raw["search"]["space"]["learning_rate"] = {"loguniform": [-6, 0]}
    message = problems(raw)["search.space.learning_rate.loguniform"]
    assert "did you mean {loguniform: [0.00248, 1]}" in message


def test_python_loguniform_with_natural_looking_bounds_warns(spark, caplog):
    from pyspark.ml.regression import LinearRegression

    from sparktune.search.space import resolve

    lr = LinearRegression()._resetUid("lr")
    with caplog.at_level(logging.WARNING, logger="sparktune.search.pyll"):
        space = resolve(lr, {"lr.regParam": hp.loguniform("reg", 0.001, 1.0)})
    assert "Did you mean hp.loguniform('reg', math.log(0.001), math.log(1.0))" in caplog.text
    assert space.log_scaled() == ("lr.regParam",)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sparktune.search.pyll"):
        space = resolve(
            lr,
            {
                "lr.regParam": hp.loguniform("reg", math.log(0.001), 0.0),
                "lr.elasticNetParam": hp.uniform("mix", 0.0, 1.0),
            },
        )
    assert caplog.text == "" and space.log_scaled() == ("lr.regParam",)


def test_points_to_evaluate_names_and_values_are_checked():
    raw = yaml.safe_load(GRID.read_text())
    raw["search"]["points_to_evaluate"] = [{"lr.regParm": 0.1}, {"lr.regParam": 0.5}]
    found = problems(raw)
    assert "did you mean 'lr.regParam'" in found["search.points_to_evaluate[0].lr.regParm"]
    assert "is not one of the space's values" in found["search.points_to_evaluate[1].lr.regParam"]
    raw["search"]["points_to_evaluate"] = {"lr.regParam": 0.1}
    assert "a list of points" in problems(raw)["search.points_to_evaluate"]


# -- options anywhere; results that create no store ----------------------------------------


def test_global_options_before_or_after_the_subcommand(capsys):
    assert cli.main(["-v", "validate", str(GRID)]) == 0
    assert cli.main(["validate", str(GRID), "-v"]) == 0
    assert cli.main(["validate", "--verbose", str(GRID)]) == 0
    assert capsys.readouterr().out.count(": OK (") == 3
    options = cli._parser().parse_args(["validate", str(GRID), "-v"])
    assert options.verbose is True
    assert cli._parser().parse_args(["validate", str(GRID)]).verbose is False


def test_results_in_an_empty_folder_creates_no_store(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    err = fails(capsys, "results", "0123456789abcdef", status=1)
    assert f"no MLflow tracking store at {tmp_path / 'mlflow.db'}" in err
    assert "--tracking-uri" in err
    assert list(tmp_path.iterdir()) == []


def test_results_of_an_unknown_run_says_where_it_looked(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()  # an existing store without that run
    err = fails(capsys, "results", "0123456789abcdef", "--tracking-uri", uri, status=1)
    assert f"no run '0123456789abcdef' in the MLflow tracking store {uri}" in err
