"""Read a raw spec into typed objects, collecting every mistake with its key path."""

from __future__ import annotations

import importlib.util
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pyspark.ml.param import Param

from sparktune.core.errors import ValidationError
from sparktune.core.settings import DEFAULT_FOLDS, STRATEGIES
from sparktune.jobs.config.classes import (
    check_value,
    class_params,
    constructor_names,
    resolve_class,
)
from sparktune.jobs.config.overrides import apply_override
from sparktune.jobs.config.spec import (
    DISTRIBUTIONS,
    ERROR_POLICIES,
    FORMATS,
    METRICS,
    DataSpec,
    Distribution,
    EvaluationSpec,
    JobSpec,
    MetricSpec,
    OutputSpec,
    Problem,
    SearchSpec,
    SparkSpec,
    SpecError,
    StageSpec,
    TrackingSpec,
)
from sparktune.jobs.config.suggest import did_you_mean
from sparktune.jobs.datasets import DATASETS
from sparktune.tracking import Tracking

_SECTIONS = ("data", "pipeline", "search", "evaluation", "tracking", "output", "spark")
_REQUIRED_SECTIONS = ("data", "pipeline", "search", "evaluation")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> JobSpec:
    """Read the spec at ``path``, apply ``--set key.path=value`` overrides, and validate it.

    Raises :class:`SpecError` listing every mistake found (file, key path, what is expected).
    """
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SpecError(
            source, [Problem("", f"cannot read the spec file: {exc.strerror}")]
        ) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(source, [Problem("", f"not valid YAML: {exc}")]) from exc
    return parse(raw, source, overrides)


def parse(raw: Any, source: str = "<spec>", overrides: Sequence[str] = ()) -> JobSpec:
    """Validate an already-loaded spec (a mapping); see :func:`load`."""
    checker = _Checker()
    if raw is None:
        raw = {}
    for item in overrides:
        raw = apply_override(raw, item, checker.problems)
    spec = checker.job(raw, source)
    if checker.problems or spec is None:
        raise SpecError(source, checker.problems)
    return spec


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class _Kind:
    expected: str
    accepts: Callable[[Any], bool]


_STR = _Kind("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip()))
_BOOL = _Kind("true or false", lambda v: isinstance(v, bool))
_POSITIVE_INT = _Kind("a positive integer", lambda v: _is_int(v) and v > 0)
_INT = _Kind("an integer", _is_int)
_POSITIVE_NUMBER = _Kind("a positive number (seconds)", lambda v: _is_number(v) and v > 0)
_FRACTION = _Kind("a number in (0, 1]", lambda v: _is_number(v) and 0 < v <= 1)
_OPEN_FRACTION = _Kind("a number strictly between 0 and 1", lambda v: _is_number(v) and 0 < v < 1)
_FOLDS = _Kind("an integer >= 2", lambda v: _is_int(v) and v >= 2)


class _Checker:
    """Collects problems while reading a raw spec into typed objects."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.named_stages: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def section(
        self, raw: Any, path: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> dict[str, Any] | None:
        """``raw`` as a mapping; unknown and missing keys are problems."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.add(path, f"expected a mapping with keys {list(allowed)}, got {_describe(raw)}")
            return None
        for key in raw:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                self.add(
                    _join(path, key), f"unknown key{hint or f'; expected one of {list(allowed)}'}"
                )
        for key in required:
            if raw.get(key) is None:
                self.add(_join(path, key), "missing; this key is required")
        return raw

    def value(
        self, raw: Mapping[str, Any], path: str, key: str, kind: _Kind, default: Any = None
    ) -> Any:
        """``raw[key]`` if it is of ``kind`` (else a problem and ``default``)."""
        value = raw.get(key)
        if value is None:
            return default
        if not kind.accepts(value):
            self.add(_join(path, key), f"expected {kind.expected}, got {_describe(value)}")
            return default
        return value

    def choice(
        self,
        raw: Mapping[str, Any],
        path: str,
        key: str,
        options: Sequence[str],
        default: str | None,
    ) -> str | None:
        value = raw.get(key)
        if value is None:
            return default
        if value not in options:
            hint = did_you_mean(str(value), options)
            self.add(
                _join(path, key), f"expected one of {list(options)}, got {_describe(value)}{hint}"
            )
            return default
        return value

    def strings(self, raw: Mapping[str, Any], path: str, key: str) -> dict[str, str]:
        """A mapping of names to scalars, as strings (reader options, Spark conf)."""
        value = raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(
                _join(path, key), f"expected a mapping of names to values, got {_describe(value)}"
            )
            return {}
        result = {}
        for name, item in value.items():
            if isinstance(item, dict | list) or item is None:
                self.add(
                    _join(_join(path, key), name), f"expected a single value, got {_describe(item)}"
                )
            else:
                result[str(name)] = str(item).lower() if isinstance(item, bool) else str(item)
        return result

    # -- sections ---------------------------------------------------------------------------

    def job(self, raw: Any, source: str) -> JobSpec | None:
        top = self.section(raw, "", _SECTIONS, _REQUIRED_SECTIONS)
        if top is None:
            return None
        # A missing required section is reported once, not once per key it lacks.
        present = {name: top.get(name) is not None for name in _REQUIRED_SECTIONS}
        data = self.data(top["data"], "data") if present["data"] else None
        stages = self.pipeline(top["pipeline"], "pipeline") if present["pipeline"] else []
        self.named_stages = _stage_names(top.get("pipeline"))
        stage_specs = {s.name: s for s in stages}
        search = self.search(top["search"], "search", stage_specs) if present["search"] else None
        evaluation = (
            self.evaluation(top["evaluation"], "evaluation") if present["evaluation"] else None
        )
        tracking = self.tracking(top.get("tracking"), "tracking")
        output = self.output(top.get("output"), "output")
        spark = self.spark(top.get("spark"), "spark")
        if None in (data, search, evaluation):
            return None
        return JobSpec(source, data, tuple(stages), search, evaluation, tracking, output, spark)

    def data(self, raw: Any, path: str) -> DataSpec | None:
        allowed = ("dataset", "path", "format", "options", "label", "scale", "sample", "limit")
        raw = self.section(raw, path, allowed, ("label",))
        if raw is None:
            return None
        label = self.value(raw, path, "label", _STR)
        dataset = self.choice(raw, path, "dataset", DATASETS, None)
        location = self.value(raw, path, "path", _STR)
        fmt = self.choice(raw, path, "format", FORMATS, None)
        scale = self.value(raw, path, "scale", _POSITIVE_INT, 1)
        if ("dataset" in raw) == ("path" in raw):
            self.add(path, f"give exactly one of `dataset` (bundled: {list(DATASETS)}) or `path`")
        if "dataset" in raw and ("format" in raw or "options" in raw):
            self.add(
                path, "`format` and `options` describe a file; a bundled `dataset` takes neither"
            )
        if "scale" in raw and "path" in raw:
            self.add(_join(path, "scale"), "`scale` repeats a bundled data set; it needs `dataset`")
        if location is not None:
            fmt = fmt or _format_of(location)
            if fmt is None:
                self.add(
                    _join(path, "format"),
                    f"cannot tell the format of {location!r}; set format to one of {list(FORMATS)}",
                )
            if _is_local(location) and not Path(_local_path(location)).exists():
                where = Path(_local_path(location)).resolve()
                self.add(_join(path, "path"), f"no such file or directory: {where}")
        if fmt == "delta" and importlib.util.find_spec("delta") is None:
            self.add(
                _join(path, "format"),
                "format 'delta' needs the delta-spark package: pip install delta-spark",
            )
        options = self.strings(raw, path, "options")
        sample = self.value(raw, path, "sample", _FRACTION)
        limit = self.value(raw, path, "limit", _POSITIVE_INT)
        if label is None:
            return None
        return DataSpec(label, dataset, location, fmt, options, scale, sample, limit)

    def pipeline(self, raw: Any, path: str) -> list[StageSpec]:
        raw = self.section(raw, path, ("stages",), ("stages",))
        if raw is None or raw.get("stages") is None:
            return []
        items = raw["stages"]
        path = _join(path, "stages")
        if not isinstance(items, list) or not items:
            self.add(path, f"expected a non-empty list of stages, got {_describe(items)}")
            return []
        stages, seen = [], set()
        for i, item in enumerate(items):
            stage = self.stage(item, _join(path, i))
            if stage is None:
                continue
            if stage.name in seen:
                self.add(
                    _join(_join(path, i), "name"),
                    f"stage name {stage.name!r} is used twice; names must be unique",
                )
            seen.add(stage.name)
            stages.append(stage)
        return stages

    def stage(self, raw: Any, path: str) -> StageSpec | None:
        raw = self.section(raw, path, ("name", "class", "params"), ("name", "class"))
        if raw is None:
            return None
        name = self.value(raw, path, "name", _STR)
        if name is not None and not _NAME.match(name):
            self.add(
                _join(path, "name"),
                f"expected letters, digits and _ (the space names its params {name}.param), "
                f"got {name!r}",
            )
            name = None
        class_path = self.value(raw, path, "class", _STR)
        cls = None
        if class_path is not None:
            try:
                cls = resolve_class(class_path)
            except ValueError as exc:
                self.add(_join(path, "class"), str(exc))
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            self.add(
                _join(path, "params"),
                f"expected a mapping of param names to values, got {_describe(params)}",
            )
            params = {}
        if cls is not None:
            self.params(cls, params, _join(path, "params"))
        if name is None or cls is None:
            return None
        return StageSpec(name, class_path, cls, dict(params))

    def params(self, cls: type, params: Mapping[str, Any], path: str) -> None:
        """Check param names against the class's Params (and ``__init__`` names) and types."""
        known = class_params(cls)
        aliases = constructor_names(cls) - set(known)
        for key, value in params.items():
            if key in known:
                expected = check_value(known[key], value)
                if expected is not None:
                    self.add(_join(path, key), f"expected {expected}, got {_describe(value)}")
            elif key not in aliases:
                names = sorted(known) + sorted(aliases)
                hint = did_you_mean(str(key), names) or f"; its params: {', '.join(names)}"
                self.add(_join(path, key), f"unknown param of {cls.__name__}{hint}")

    def search(self, raw: Any, path: str, stages: Mapping[str, StageSpec]) -> SearchSpec | None:
        allowed = (
            "strategy",
            "space",
            "max_trials",
            "parallelism",
            "seed",
            "early_stopping",
            "timeout",
            "error_policy",
        )
        raw = self.section(raw, path, allowed, ("strategy", "space"))
        if raw is None:
            return None
        strategy = self.choice(raw, path, "strategy", STRATEGIES, None)
        max_trials = self.value(raw, path, "max_trials", _POSITIVE_INT)
        if strategy in ("random", "tpe") and "max_trials" not in raw:
            self.add(
                _join(path, "max_trials"),
                f"missing; strategy {strategy!r} needs max_trials (a positive integer)",
            )
        space = self.space(raw.get("space"), _join(path, "space"), stages, strategy)
        spec = SearchSpec(
            strategy=strategy or "grid",
            space=space,
            max_trials=max_trials,
            parallelism=self.value(raw, path, "parallelism", _POSITIVE_INT, 1),
            seed=self.value(raw, path, "seed", _INT, 0),
            early_stopping=self.value(raw, path, "early_stopping", _POSITIVE_INT),
            timeout=self.value(raw, path, "timeout", _POSITIVE_NUMBER),
            error_policy=self.choice(raw, path, "error_policy", ERROR_POLICIES, "continue")
            or "continue",
        )
        return spec if strategy is not None else None

    def space(
        self, raw: Any, path: str, stages: Mapping[str, StageSpec], strategy: str | None
    ) -> dict[str, list[Any] | Distribution]:
        if raw is None:
            return {}
        if not isinstance(raw, dict) or not raw:
            self.add(
                path,
                "expected a mapping of stage.param names to lists of values or distributions, "
                f"got {_describe(raw)}",
            )
            return {}
        space: dict[str, list[Any] | Distribution] = {}
        for name, value in raw.items():
            where = _join(path, name)
            param = self.space_param(str(name), where, stages)
            if isinstance(value, list):
                if not value:
                    self.add(where, "expected at least one value")
                    continue
                for i, item in enumerate(value):
                    self.space_value(param, item, _join(where, i))
                space[str(name)] = value
            elif isinstance(value, dict):
                dist = self.distribution(value, where, param)
                if dist is None:
                    continue
                if strategy == "grid":
                    self.add(
                        where,
                        f"a grid needs a list of values; the distribution {dist.kind!r} needs "
                        "strategy 'random' or 'tpe'",
                    )
                space[str(name)] = dist
            else:
                self.add(
                    where,
                    "expected a list of values (a grid) or a distribution such as "
                    f"{{loguniform: [0.001, 1.0]}}, got {_describe(value)}",
                )
        return space

    def space_param(self, name: str, path: str, stages: Mapping[str, StageSpec]) -> Param | None:
        stage_name, dot, param_name = name.partition(".")
        if not dot or not param_name:
            self.add(
                path,
                f"expected stage.param (e.g. {next(iter(stages), 'lr')}.regParam), got {name!r}",
            )
            return None
        stage = stages.get(stage_name)
        if stage is None and stage_name in self.named_stages:
            return None  # the stage itself is broken, and reported
        if stage is None:
            self.add(
                path,
                f"no stage named {stage_name!r}{did_you_mean(stage_name, self.named_stages)}; "
                f"stages: {self.named_stages}",
            )
            return None
        known = class_params(stage.cls)
        if param_name not in known:
            hint = (
                did_you_mean(param_name, list(known)) or f"; its params: {', '.join(sorted(known))}"
            )
            self.add(path, f"unknown param of {stage.cls.__name__}{hint}")
            return None
        return known[param_name]

    def space_value(self, param: Param | None, value: Any, path: str) -> None:
        if param is None:
            return
        expected = check_value(param, value)
        if expected is not None:
            self.add(path, f"expected {expected} for {param.name}, got {_describe(value)}")

    def distribution(
        self, raw: dict[str, Any], path: str, param: Param | None
    ) -> Distribution | None:
        if len(raw) != 1 or next(iter(raw)) not in DISTRIBUTIONS:
            kinds = ", ".join(DISTRIBUTIONS)
            self.add(
                path,
                f"expected one distribution ({kinds}), e.g. {{loguniform: [0.001, 1.0]}}, "
                f"got keys {list(raw)}",
            )
            return None
        kind, args = next(iter(raw.items()))
        where = _join(path, kind)
        if kind == "choice":
            if not isinstance(args, list) or not args:
                self.add(where, f"expected a non-empty list of values, got {_describe(args)}")
                return None
            for i, item in enumerate(args):
                self.space_value(param, item, _join(where, i))
            return Distribution(kind, tuple(args))
        names = DISTRIBUTIONS[kind]
        if not isinstance(args, list) or len(args) != len(names) or not all(map(_is_number, args)):
            self.add(where, f"expected [{', '.join(names)}] (numbers), got {_describe(args)}")
            return None
        values = dict(zip(names, args))
        problem = _distribution_problem(kind, values)
        if problem:
            self.add(where, problem)
            return None
        return Distribution(kind, tuple(args))

    def evaluation(self, raw: Any, path: str) -> EvaluationSpec | None:
        allowed = ("metric", "extra_metrics", "folds", "train_ratio", "fold_col", "train_metrics")
        raw = self.section(raw, path, allowed, ("metric",))
        if raw is None:
            return None
        metric = self.metric(raw.get("metric"), _join(path, "metric")) if "metric" in raw else None
        extras_raw = raw.get("extra_metrics") or []
        extras = []
        if not isinstance(extras_raw, list):
            self.add(
                _join(path, "extra_metrics"),
                f"expected a list of metrics, got {_describe(extras_raw)}",
            )
            extras_raw = []
        for i, item in enumerate(extras_raw):
            extra = self.metric(item, _join(_join(path, "extra_metrics"), i))
            if extra is not None:
                extras.append(extra)
        folds = self.value(raw, path, "folds", _FOLDS)
        train_ratio = self.value(raw, path, "train_ratio", _OPEN_FRACTION)
        fold_col = self.value(raw, path, "fold_col", _STR)
        if "folds" in raw and "train_ratio" in raw:
            self.add(path, "give `folds` (k-fold) or `train_ratio` (one split), not both")
        if fold_col is not None and "train_ratio" in raw:
            self.add(
                _join(path, "fold_col"),
                "`fold_col` numbers k-fold folds; it needs `folds`, not `train_ratio`",
            )
        if "train_ratio" not in raw and folds is None:
            folds = DEFAULT_FOLDS
        train_metrics = self.value(raw, path, "train_metrics", _BOOL, True)
        if metric is None:
            return None
        return EvaluationSpec(
            metric,
            tuple(extras),
            folds if train_ratio is None else None,
            train_ratio,
            fold_col,
            train_metrics,
        )

    def metric(self, raw: Any, path: str) -> MetricSpec | None:
        """``rmse``, ``{regression: rmse}`` or ``{binary: areaUnderPR, params: {...}}``."""
        if isinstance(raw, str):
            kinds = [k for k, (_, names) in METRICS.items() if raw in names]
            if not kinds:
                every = [n for _, names in METRICS.values() for n in names]
                hint = did_you_mean(raw, every) or f"; expected one of {every}"
                self.add(path, f"unknown metric {raw!r}{hint}")
                return None
            return MetricSpec(kinds[0], raw)
        if not isinstance(raw, dict):
            self.add(
                path, f"expected a metric name (rmse) or {{regression: rmse}}, got {_describe(raw)}"
            )
            return None
        kinds = [k for k in raw if k != "params"]
        if len(kinds) != 1 or kinds[0] not in METRICS:
            self.add(
                path,
                f"expected one evaluator kind of {list(METRICS)} (e.g. {{regression: rmse}}), "
                f"got keys {list(raw)}",
            )
            return None
        kind = kinds[0]
        names = METRICS[kind][1]
        if raw[kind] not in names:
            self.add(
                _join(path, kind),
                f"expected one of {list(names)}, got {_describe(raw[kind])}"
                f"{did_you_mean(str(raw[kind]), names)}",
            )
            return None
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            self.add(
                _join(path, "params"),
                f"expected a mapping of evaluator params, got {_describe(params)}",
            )
            return None
        spec = MetricSpec(kind, raw[kind], dict(params))
        self.params(spec.evaluator_class, params, _join(path, "params"))
        return spec

    def tracking(self, raw: Any, path: str) -> TrackingSpec:
        raw = self.section(raw, path, ("enabled", "experiment", "uri"))
        if raw is None:
            return TrackingSpec()
        uri = self.value(raw, path, "uri", _STR)
        try:
            Tracking(uri=uri)
        except ValidationError as exc:
            self.add(_join(path, "uri"), str(exc))
            uri = None
        return TrackingSpec(
            enabled=self.value(raw, path, "enabled", _BOOL, True),
            experiment=self.value(raw, path, "experiment", _STR),
            uri=uri,
        )

    def output(self, raw: Any, path: str) -> OutputSpec:
        raw = self.section(raw, path, ("model", "results", "checkpoint"))
        if raw is None:
            return OutputSpec()
        return OutputSpec(
            self.value(raw, path, "model", _STR),
            self.value(raw, path, "results", _STR),
            self.value(raw, path, "checkpoint", _STR),
        )

    def spark(self, raw: Any, path: str) -> SparkSpec:
        raw = self.section(raw, path, ("master", "conf"))
        if raw is None:
            return SparkSpec()
        return SparkSpec(self.value(raw, path, "master", _STR), self.strings(raw, path, "conf"))


def _stage_names(raw: Any) -> list[str]:
    """Every stage name written in the spec, valid stage or not, in order."""
    stages = raw.get("stages") if isinstance(raw, dict) else None
    if not isinstance(stages, list):
        return []
    return [s["name"] for s in stages if isinstance(s, dict) and isinstance(s.get("name"), str)]


def _distribution_problem(kind: str, values: Mapping[str, float]) -> str | None:
    if "low" in values and values["low"] >= values["high"]:
        return f"low must be below high, got low={values['low']} high={values['high']}"
    if kind in ("loguniform", "qloguniform") and values["low"] <= 0:
        return f"low must be > 0 (bounds are natural values, not logs), got {values['low']}"
    if kind in ("randint", "uniformint") and not (
        _is_int(values["low"]) and _is_int(values["high"])
    ):
        return f"low and high must be integers, got {values['low']} and {values['high']}"
    if values.get("q", 1) <= 0:
        return f"q must be > 0, got {values['q']}"
    if values.get("sigma", 1) <= 0:
        return f"sigma must be > 0, got {values['sigma']}"
    return None


def _format_of(path: str) -> str | None:
    suffix = Path(path.rstrip("/")).suffix.lower().lstrip(".")
    return {"parquet": "parquet", "csv": "csv", "json": "json", "jsonl": "json", "orc": "orc"}.get(
        suffix
    )


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file:")


def _local_path(path: str) -> str:
    return re.sub(r"^file:(//)?", "", path)
