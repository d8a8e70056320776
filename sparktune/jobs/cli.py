"""The ``sparktune`` command: run, submit and validate job specs; show a finished search.

    sparktune run SPEC [--set key.path=value ...] [--master M | --remote sc://H:P] [--resume]
    sparktune submit SPEC [--set ...] [--resume] -- [spark-submit options]
    sparktune validate SPEC [--set ...]
    sparktune init DATA --label COL [--task classification|regression] [-o SPEC]
    sparktune schema
    sparktune results RUN_ID [--tracking-uri URI]
    sparktune --version

Global options (``-v``) go before or after the subcommand.

A mistake in the spec (or any input sparktune checks) is printed as one line per problem,
without a traceback, and the command exits with status 2; a failed job exits with 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyspark
import yaml

from sparktune.core.errors import SparktuneError, ValidationError
from sparktune.core.version import __version__
from sparktune.jobs import config, starter

#: Rows of the results table printed after a run (the CSV and MLflow hold all of them).
TOP_ROWS = 10


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparktune", description="Tune Spark ML pipelines described by YAML job specs."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log sparktune's progress")
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {__version__} (pyspark {pyspark.__version__}, "
        f"Python {platform.python_version()})",
    )
    # The same option on every subcommand, so it may come after it too (SUPPRESS: an absent
    # one leaves the value given before the subcommand).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="as above"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, parents=[common])

    def spec_command(name: str, text: str) -> argparse.ArgumentParser:
        sub = command(name, text)
        sub.add_argument("spec", help="the job spec (YAML), e.g. conf/examples/diamonds_grid.yaml")
        sub.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY.PATH=VALUE",
            help="override a spec value (YAML), e.g. --set search.max_trials=4; repeatable",
        )
        return sub

    run = spec_command("run", "run a job in this process (embedded Spark unless --master)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--master", help="Spark master, e.g. local[4] (default: the spec's)")
    where.add_argument("--remote", help="a Spark Connect server, e.g. sc://host:15002")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    submit = spec_command(
        "submit", "run a job through spark-submit; options after -- go to spark-submit"
    )
    for sub in (run, submit):
        sub.add_argument(
            "--resume",
            action="store_true",
            help="keep the finished trials of the checkpoint (output.checkpoint); run the rest",
        )
    spec_command("validate", "check a job spec without running it")
    init = command("init", "write a starter job spec from a data file's columns")
    init.add_argument("data", help="a CSV, Parquet or JSON-lines file, or a bundled data set")
    init.add_argument("--label", required=True, help="the column to predict")
    init.add_argument(
        "--task", choices=starter.TASKS, help="default: inferred from the label's values"
    )
    init.add_argument("-o", "--output", help="write the spec here (default: print it)")
    init.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    command(
        "schema", "print the JSON Schema of a job spec (for editors to complete and check specs)"
    )
    results = command("results", "print a finished search's results table from MLflow")
    results.add_argument("run_id", help="the MLflow run id of the search (its parent run)")
    results.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLflow's)")
    results.add_argument("--top", type=int, default=None, help="print only the N best trials")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sparktune`` command; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, passthrough = args[:cut], args[cut + 1 :]
    options = _parser().parse_args(args)
    if passthrough and options.command != "submit":
        print("sparktune: error: only `submit` takes options after --", file=sys.stderr)
        return 2
    configure_logging(options.verbose)
    if options.command == "schema":
        print(json.dumps(config.json_schema(), indent=2))
        return 0
    try:
        if options.command == "init":
            return _init(options)
        if options.command == "validate":
            return _validate(options)
        if options.command == "run":
            return _run(options)
        if options.command == "submit":
            from sparktune.jobs.submit import submit

            spec = config.load(options.spec, options.overrides)
            if options.resume:
                from sparktune.jobs.runner import resume_checkpoint

                resume_checkpoint(spec)  # before spark-submit starts a driver
            return submit(spec, options.overrides, passthrough, resume=options.resume)
        return _results(options)
    except ValidationError as exc:
        print(f"sparktune: {exc}", file=sys.stderr)
        return 2
    except SparktuneError as exc:
        print(f"sparktune: error: {exc}", file=sys.stderr)
        return 1


def configure_logging(verbose: bool) -> None:
    """Log warnings (INFO with ``--verbose``) from sparktune and from MLflow alike.

    MLflow logs through a handler of its own at INFO (creating ``mlflow.db``, its
    migrations, where a model's files went), which a run's summary already covers; it
    follows ``--verbose`` too, unless MLFLOW_LOGGING_LEVEL is set. The variable is set
    before MLflow is imported, as MLflow reads it then, and reaches ``submit``'s driver.
    """
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not os.environ.get("MLFLOW_LOGGING_LEVEL"):
        os.environ["MLFLOW_LOGGING_LEVEL"] = logging.getLevelName(level)
        if "mlflow" in sys.modules:  # imported already: it has read the variable
            logging.getLogger("mlflow").setLevel(level)


def _validate(options: argparse.Namespace) -> int:
    spec = config.load(options.spec, options.overrides)
    space = ", ".join(spec.search.space)
    if spec.estimator is not None:
        groups = spec.groups
        per = f" per group of {', '.join(groups.group_by)}" if groups is not None else ""
        what = f"{spec.estimator.title}{per}"
        scored = f"metric {spec.evaluation.scoring}"
    else:
        scheduler = spec.search.scheduler
        what = f"{len(spec.stages)} stages"
        space += f" under {scheduler.type}" if scheduler is not None else ""
        scored = f"metric {spec.evaluation.metric.name}" if spec.evaluation.metric else ""
    print(f"{options.spec}: OK ({what}; {spec.search.strategy} search over {space}; {scored})")
    return 0


def _run(options: argparse.Namespace) -> int:
    from sparktune.jobs import runner as job

    spec = config.load(options.spec, options.overrides)
    result = job.run(
        spec,
        master=options.master,
        progress=not options.no_progress,
        resume=options.resume,
        remote=options.remote,
    )
    print(group_summary(result, spec) if spec.groups is not None else summary(result, spec))
    return 0


def _init(options: argparse.Namespace) -> int:
    frame, source = starter.read_sample(options.data)
    spec, comment = starter.starter_spec(frame, source, options.label, options.task)
    text = starter.render(spec, comment)
    config.parse(yaml.safe_load(text), options.output or "<init>")  # as `validate` would
    if options.output is None:
        print(text, end="")
        return 0
    out = Path(options.output)
    if out.exists() and not options.force:
        raise ValidationError(f"{out} exists; give another -o, or --force to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}; run it with: sparktune run {shlex.quote(str(out))}", file=sys.stderr)
    return 0


def _results(options: argparse.Namespace) -> int:
    from sparktune.jobs.stores import StoreNotFound, open_run
    from sparktune.tracking.plots import primary_metric

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        client, _ = open_run(options.run_id, options.tracking_uri)
    except StoreNotFound as exc:
        print(f"sparktune: error: {exc}", file=sys.stderr)
        return 1
    try:
        path = client.download_artifacts(options.run_id, "results.csv")
    except Exception as exc:
        print(
            f"sparktune: error: no results table for run {options.run_id!r} "
            f"({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )
        return 1
    results = pd.read_csv(path)
    print(table(results, primary_metric(results), options.top))
    return 0


def summary(result: Any, spec: config.JobSpec) -> str:
    """What a finished run prints: the best trial, its params, the table, where things went."""
    metric = result.metric
    direction = "larger" if result.larger_is_better else "smaller"
    folds = spec.evaluation.folds
    scored = f"mean of {folds} folds" if folds else "validation split"
    results = result.results
    done = int((results["state"] == "complete").sum()) if "state" in results else len(results)
    lines = [
        "",
        f"best {metric} = {_number(result.best_metric)} ({scored}; {direction} is better) "
        f"in trial {result.best_trial.number}; {done} of {len(results)} trials complete",
        "best params:",
    ]
    width = max((len(name) for name in result.best_params), default=0)
    lines += [f"  {name:<{width}}  {value}" for name, value in result.best_params.items()]
    top = TOP_ROWS if len(results) > TOP_ROWS else None
    lines += ["", table(results, metric, top), ""]
    lines.append(f"stopped: {result.stop_reason}; {result.elapsed:.1f} s")
    if getattr(result, "run_id", None):
        lines.append(f"MLflow run: {result.run_id} (sparktune results {result.run_id})")
        lines.append(f"see it in the MLflow UI: {_ui_command(result.run_id, spec)}")
    if spec.output.model and result.best_model is not None:
        lines.append(f"best model: {spec.output.model}")
    if spec.output.results:
        lines.append(f"results table: {spec.output.results}")
    return "\n".join(lines)


def _ui_command(run_id: str, spec: config.JobSpec) -> str:
    """The command that opens the run's experiment in the MLflow UI (its store's URI)."""
    from mlflow import MlflowClient

    from sparktune.jobs.stores import tracking_uri, ui_command

    uri = tracking_uri(spec.tracking.uri)
    experiment = MlflowClient(tracking_uri=uri).get_run(run_id).info.experiment_id
    return ui_command(uri, run_id, experiment)


def group_summary(table: pd.DataFrame, spec: config.JobSpec) -> str:
    """What a finished per-group run prints: groups by state, the best metric's spread, the
    best groups and where the table and the models went."""
    assert spec.groups is not None  # only for a per-group job
    keys = list(spec.groups.group_by)
    states = table["state"].value_counts()
    counts = ", ".join(f"{int(states.get(s, 0))} {s}" for s in ("complete", "failed", "skipped"))
    lines = ["", f"{len(table)} group(s) by {', '.join(keys)}: {counts}"]
    metric = table["best_metric"].dropna()
    if len(metric):
        low, mid, high = (_number(metric.quantile(q)) for q in (0, 0.5, 1))
        lines.append(
            f"best {spec.evaluation.scoring} per group: min {low}, median {mid}, max {high} "
            f"(mean of {spec.evaluation.folds} folds; larger is better)"
        )
    columns = [*keys, "state", "best_metric", "n_rows", "n_trials", "best_params", "error"]
    ordered = table.sort_values("best_metric", ascending=False, na_position="last")
    shown = ordered[[c for c in columns if c in ordered]].head(TOP_ROWS)
    lines += ["", shown.to_string(index=False, na_rep="-", float_format=_number)]
    if len(table) > TOP_ROWS:
        lines.append(f"... {len(table) - TOP_ROWS} more group(s)")
    if spec.output.model:
        lines.append(f"per-group models: {spec.output.model}")
    if spec.output.results:
        lines.append(f"per-group table: {spec.output.results}")
    return "\n".join(lines)


def table(results: pd.DataFrame, metric: str, top: int | None = None) -> str:
    """A compact text table: rank, trial, state, params, mean validation metrics, fit time.

    Rows are ordered best first; ``top`` keeps only that many (the rest are counted).
    """
    if results.empty:
        return "(no trials)"
    params = [c for c in results.columns if c.startswith("param_")]
    means = [c for c in results.columns if c.startswith("mean_val_")]
    primary = f"mean_val_{metric}"
    ordered_means = [primary, f"std_val_{metric}"] + [m for m in means if m != primary]
    columns = ["rank", "trial", "state", *params, *ordered_means, "fit_time"]
    frame = results[[c for c in columns if c in results.columns]]
    if "rank" in frame:
        frame = frame.sort_values(["rank", "trial"], na_position="last")
    shown = frame if top is None else frame.head(top)
    shown = shown.rename(columns=lambda c: c.removeprefix("param_").removeprefix("mean_val_"))
    shown = shown.rename(columns={f"std_val_{metric}": "std"})
    text = shown.to_string(index=False, na_rep="-", float_format=_number)
    if len(shown) < len(frame):
        text += f"\n... {len(frame) - len(shown)} more trial(s)"
    return text


def _number(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.6g}"


if __name__ == "__main__":
    sys.exit(main())
