"""The example notebook runs top to bottom in a real Jupyter kernel, so it cannot rot.

Its ``parameters`` cell is swapped for a small sample and few trials; the kernel is this
venv's Python (jupyter_client starts ``python`` kernels with ``sys.executable``) and starts
its own local Spark.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from mlflow import MlflowClient
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parent.parent / "examples" / "tune_diamonds.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"


def outputs_of(cell) -> dict[str, str]:
    """Every output of a cell by MIME type (stream text under ``stream``), joined."""
    found: dict[str, str] = {}
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            found["stream"] = found.get("stream", "") + output.text
        for mime, data in output.get("data", {}).items():
            found[mime] = found.get(mime, "") + (data if isinstance(data, str) else str(data))
    return found


def cell_with(nb, text: str):
    return next(c for c in nb.cells if c.cell_type == "code" and text in c.source)


def test_example_notebook_executes(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    parameters = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source = (
        "SAMPLE = 0.03\nMAX_TRIALS = 3\nPARALLELISM = 2\nFOLDS = 2\n"
        f"TRACKING = 'sqlite:///{tmp_path / 'mlflow.db'}'\n"
    )
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    search = outputs_of(cell_with(nb, "sparktune.tune("))
    assert WIDGET in search  # tqdm.auto's progress bar renders as a Jupyter widget
    states = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    labels = [
        str(m["state"]["value"]).replace("\u2007", " ")  # tqdm pads with figure spaces
        for m in states.values()
        if "value" in m["state"]
    ]
    # The bar's text: its name and trials done of the total (the last update may reach the
    # kernel's output after the cell has finished, so the count itself is not checked).
    assert any("sparktune tpe" in label for label in labels), labels
    assert any("/3 [" in label and "best=" in label for label in labels), labels
    best = outputs_of(cell_with(nb, "result.best_params"))
    assert "best rmse" in best["stream"] and "LinearRegression.regParam" in best["text/plain"]
    table = outputs_of(cell_with(nb, "result.results"))["text/html"]
    assert "param_LinearRegression.regParam" in table and "mean_train_rmse" in table
    assert table.count("<tr>") == 3 and "..." not in table  # 3 trials, no column cut
    assert "image/png" in outputs_of(cell_with(nb, "result.plot()"))
    assert "prediction" in outputs_of(cell_with(nb, "best_model.transform"))["text/html"]
    local = outputs_of(cell_with(nb, "HistGradientBoostingRegressor("))
    assert "best neg_root_mean_squared_error" in local["stream"]
    assert local["text/html"].count("<tr>") == 3 and "split0_executor" in local["text/html"]
    groups = outputs_of(cell_with(nb, "tune_groups("))
    assert "'complete'" in groups["stream"] and "best_params" in groups["text/html"]
    assert "prediction" in outputs_of(cell_with(nb, "load_group_models("))["text/html"]

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("diamonds-notebook")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and len(runs) == 1 + 3
    files = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    plots = {a.path for a in client.list_artifacts(parents[0].info.run_id, "plots")}
    assert "results.csv" in files
    assert plots == {"plots/metric_history.png", "plots/param_effects.png"}
    groups_experiment = client.get_experiment_by_name("diamonds-notebook-groups")
    assert len(client.search_runs([groups_experiment.experiment_id])) == 1  # no run per group
