"""Search spaces: names such as ``"lr.regParam"`` resolved to Spark Params, values as hyperopt
expressions or plain lists.

A space maps names to values:

- a plain list holds the values to try: the grid strategy tries every combination of lists,
  random and TPE pick among a list's values as ``hp.choice`` does;
- any hyperopt expression (``hp.uniform``, ``hp.quniform``, ``hp.loguniform``, ``hp.choice``,
  ...), as hyperopt users write them;
- ``hp.choice`` (or a plain list) over dicts of name -> value: a conditional space. The key
  of such an entry is only a label; the chosen dict's names are set, the others are not.

Names:

- ``"stage.param"``: ``stage`` is a stage's uid (``"LinearRegression_4f2a..."``, or the uid
  given with ``_resetUid("lr")``), a prefix of exactly one uid, or a class name used by
  exactly one stage; ``param`` is one of that stage's Params. Stages are every stage of the
  estimator (nested Pipelines and Params-valued params such as ``OneVsRest.classifier``
  included) and every estimator that appears as a value in the space;
- the Param object itself (``lr.regParam``) as a key;
- ``"estimator"`` (:data:`ESTIMATOR`): the final estimator of the pipeline (its last
  Estimator stage; the estimator itself when it is not a Pipeline). Its values are
  estimators, e.g. ``{"estimator": hp.choice("model", [{"estimator": lr, "lr.regParam": ...},
  {"estimator": gbt, "gbt.maxDepth": ...}])}``. The featurizer stages before it are still
  fitted once per fold and shared by every candidate;
- a Pipeline's ``stages`` (``"Pipeline_1a2b.stages"`` or ``pipe.stages``), with lists of
  stages as values: that Pipeline is then fitted as one unit per candidate.

Values are converted by each Param's type converter, so integer params (``maxDepth``,
``maxIter``, ``numTrees``, and XGBoost's ``max_depth`` or ``n_estimators``) receive ints even
from ``hp.quniform``. Unknown names and values of the wrong type raise
:class:`~sparktune.errors.ValidationError` when the space is resolved, before any Spark job.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Mapping
from typing import Any

import numpy as np
from hyperopt import hp
from hyperopt.base import Domain, DuplicateLabel
from hyperopt.fmin import space_eval
from hyperopt.pyll import Apply, Literal, as_apply, dfs, stochastic
from hyperopt.pyll.base import MissingArgument
from pyspark.ml import Estimator, Model, Pipeline, PipelineModel, Transformer
from pyspark.ml.param import Param, Params

from sparktune.core.errors import ValidationError
from sparktune.core.trial import Candidate
from sparktune.spark import pipeline

logger = logging.getLogger(__name__)

#: The space name that chooses the pipeline's final estimator.
ESTIMATOR = "estimator"

#: Grids and the enumeration of small discrete spaces stop at this many points.
MAX_POINTS = 100_000

#: Draws per continuous distribution when checking the types a space produces.
_CHECK_DRAWS = 20

Target = Param | str  # a Param, or ESTIMATOR


class _TooLarge(Exception):
    """Enumerating a space would exceed :data:`MAX_POINTS`."""


class SearchSpace:
    """A space resolved against an estimator: hyperopt expression, Params, and candidates.

    Build it with :func:`resolve`. Points of the space are hyperopt *assignments* (hyperopt
    label -> value, with the option index for a choice), as ``hyperopt.tpe.suggest`` proposes
    them; :meth:`candidate` turns one into the :class:`~sparktune.trial.Candidate` Spark fits.
    """

    def __init__(self, estimator: Params, space: Mapping[Any, Any]) -> None:
        if not isinstance(estimator, Estimator):
            raise ValidationError(
                "The estimator must be a pyspark.ml Estimator or Pipeline, "
                f"got {type(estimator).__name__}."
            )
        self.original = estimator
        #: What the search fits: ``original``, or a copy whose final estimator is searched.
        self.estimator: Params = estimator
        self._holder: Pipeline | None = None
        self._holder_at: int | None = None
        normalized, self._from_params = _normalize(space)
        self.expr: Apply = as_apply(normalized)
        self.labels: tuple[str, ...] = tuple(
            label for value in normalized.values() for label in _labels(as_apply(value))
        )
        try:
            #: hyperopt's view of the space, as ``tpe.suggest`` and ``rand.suggest`` take it.
            self.domain = Domain(_not_called, self.expr)
        except DuplicateLabel as exc:
            raise ValidationError(
                f"The space uses the hyperopt label {exc.args[0]!r} twice; give every hp.* "
                "expression its own label (a list is labelled with its name)."
            ) from None
        self._stages = self._known_stages()
        self._targets: dict[str, Target] = {}
        self._groups: set[str] = set()
        self._value_nodes: list[tuple[str, Apply]] = []
        for name, value in normalized.items():
            self._collect_entry(name, as_apply(value))
        if ESTIMATOR in self._targets.values():
            self._wrap_final_estimator()
        self._display: dict[Target, str] = {}
        for name, target in self._targets.items():
            self._display.setdefault(target, self._readable(name))
        self._order = {name: i for i, name in enumerate(dict.fromkeys(self._display.values()))}
        self.options: dict[Param, list[Any]] = self._check_values()
        self._check_samples()

    # -- the public view ------------------------------------------------------------------
    @property
    def params(self) -> dict[str, Param]:
        """Every Param the space can set, by its name in candidates and results."""
        return {self._display[t]: self._param(t) for t in self._display}

    def candidate(self, assignment: Mapping[str, Any]) -> Candidate:
        """The candidate of a hyperopt assignment (label -> value; option index for choices).

        The assignment is kept in ``extra["assignment"]``: plain numbers, so a checkpoint can
        store it and :meth:`candidate` rebuild the same candidate later.
        """
        found = self._candidate(space_eval(self.expr, dict(assignment)))
        return Candidate(found.params, found.param_map, {"assignment": dict(assignment)})

    def key(self, candidate: Candidate) -> tuple[Any, ...]:
        """A hashable identity of a candidate's param values (two equal keys: same fit)."""
        items = ((p.parent, p.name, pipeline.freeze(v)) for p, v in candidate.param_map.items())
        return tuple(sorted(items, key=lambda item: (item[0], item[1])))

    def grid(self) -> list[dict[str, Any]]:
        """Every assignment of a space made only of lists and ``hp.choice``, in space order.

        The first name varies slowest, as in ``ParamGridBuilder``.
        """
        continuous = self.continuous_labels()
        if continuous:
            raise ValidationError(
                f"The grid strategy takes lists (or hp.choice) only, but {continuous} are "
                "continuous distributions; use strategy='random' or 'tpe', or give lists."
            )
        try:
            found = _assignments(self.expr, MAX_POINTS)
        except _TooLarge:
            raise ValidationError(
                f"The grid has more than {MAX_POINTS} points; search it with strategy='random' "
                "or 'tpe' and max_trials, or give fewer values."
            ) from None
        assert found is not None
        return sorted(found, key=lambda a: tuple(a.get(label, -1) for label in self.labels))

    def enumerate(self) -> list[dict[str, Any]] | None:
        """Every assignment if the space is discrete and at most MAX_POINTS large, else None."""
        if self.continuous_labels():
            return None
        try:
            return _assignments(self.expr, MAX_POINTS)
        except _TooLarge:
            return None

    def continuous_labels(self) -> list[str]:
        """Labels of the space's distributions that are not finite choices."""
        return [
            node.arg["label"].obj
            for node in dfs(self.expr)
            if node.name == "hyperopt_param" and _discrete(node.arg["obj"]) is None
        ]

    def assignment(self, point: Mapping[Any, Any]) -> dict[str, Any]:
        """The assignment whose candidate sets ``point`` (name -> value), e.g. a warm start.

        Names are those of the space (or anything that resolves to the same Param); every
        name of the chosen branch must be given, and no name outside it.
        """
        if not isinstance(point, Mapping):
            raise ValidationError(
                f"A point to evaluate must be a dict of name -> value, got {type(point).__name__}."
            )
        wanted: dict[Target, Any] = {}
        for key, value in point.items():
            name = _key(key)
            target = self._targets.get(name) or self._resolve(name)
            wanted[target] = value
        used: set[Target] = set()
        assignment: dict[str, Any] = {}
        if not self._assign_group(self.expr, wanted, used, assignment) or used != set(wanted):
            names = [self._display.get(t, str(t)) for t in wanted]
            raise ValidationError(
                f"The point {dict(point)!r} is not in the space: no branch of it sets exactly "
                f"{names} to those values (choices and lists take one of their values). "
                f"The space's names: {sorted(self._order)}."
            )
        return assignment

    def final_model(self, model: Model) -> Model:
        """Undo the wrapping of a searched final estimator, so the model has the user's shape."""
        if self._holder is None:
            return model
        if self._holder_at is None:
            return model.stages[0]
        stages = list(model.stages)
        at = self._holder_at
        return PipelineModel(stages=stages[:at] + list(stages[at].stages) + stages[at + 1 :])

    # -- resolution -----------------------------------------------------------------------
    def _known_stages(self) -> dict[str, Params]:
        stages: dict[str, Params] = {}
        for stage in pipeline.flatten(self.estimator, []):
            stages.update(pipeline.reachable(stage, {}))
        stages.update(pipeline.reachable(self.estimator, {}))
        for node in dfs(self.expr):
            if isinstance(node, Literal):
                for found in pipeline._nested(node.obj):
                    stages.update(pipeline.reachable(found, {}))
        return stages

    def _collect(self, node: Apply) -> None:
        """Classify every name under a group node (a dict, or a choice between dicts)."""
        if node.name == "switch":
            for option in node.pos_args[1:]:
                self._collect(option)
            return
        for key, value in _entries(node):
            self._collect_entry(_key(key), value)

    def _collect_entry(self, name: str, value: Apply) -> None:
        """Classify one name: a Param, the final estimator, or the label of a group."""
        target = self._target(name, value)
        if target is None:
            self._groups.add(name)
            self._collect(value)
        else:
            self._targets[name] = target
            self._value_nodes.append((name, value))

    def _target(self, name: str, value: Apply) -> Target | None:
        if name == ESTIMATOR:
            return None if _is_group(value) else ESTIMATOR
        try:
            return self._resolve(name)
        except ValidationError:
            if _is_group(value):
                return None
            raise

    def _resolve(self, name: str) -> Target:
        if name == ESTIMATOR:
            return ESTIMATOR
        stage_id, dot, param_name = name.rpartition(".")
        if not dot or not stage_id or not param_name:
            raise ValidationError(
                f"The space name {name!r} is not 'stage.param' (e.g. 'lr.regParam'), "
                f"{ESTIMATOR!r}, nor a label of a choice between dicts. "
                f"Stages: {self._stage_list()}."
            )
        stage = self._stage(stage_id, name)
        if not stage.hasParam(param_name):
            names = sorted(p.name for p in stage.params)
            raise ValidationError(
                f"The space name {name!r}: {type(stage).__name__} {stage.uid} has no param "
                f"{param_name!r}. Its params: {names}."
            )
        return stage.getParam(param_name)

    def _stage(self, ident: str, name: str) -> Params:
        stages = list(self._stages.values())
        if ident in self._stages:
            return self._stages[ident]
        for matches in (
            [s for s in stages if type(s).__name__ == ident],
            [s for s in stages if s.uid.startswith(ident)],
        ):
            if len(matches) == 1:
                return matches[0]
            if matches:
                raise ValidationError(
                    f"The space name {name!r}: {ident!r} matches several stages "
                    f"({[s.uid for s in matches]}); name one by its uid."
                )
        raise ValidationError(
            f"The space name {name!r}: no stage is named {ident!r} (by uid, uid prefix or class "
            f"name). Stages: {self._stage_list()}."
        )

    def _stage_list(self) -> list[str]:
        return pipeline.stage_names(list(self._stages.values()))

    def _readable(self, name: str) -> str:
        """The name as the user wrote it; a Param-object key as ``Class.param`` (or uid.param)."""
        target = self._targets[name]
        if not isinstance(target, Param) or name not in self._from_params:
            return name
        stage = self._stages[target.parent]
        cls = type(stage).__name__
        unique = sum(type(s).__name__ == cls for s in self._stages.values()) == 1
        return f"{cls if unique else stage.uid}.{target.name}"

    def _wrap_final_estimator(self) -> None:
        """Put the final estimator in a one-stage Pipeline whose ``stages`` the search sets."""
        if not isinstance(self.original, Pipeline):
            self._holder = Pipeline(stages=[self.original])
            self.estimator = self._holder
            return
        stages = list(self.original.getStages())
        at = max((i for i, s in enumerate(stages) if isinstance(s, Estimator)), default=None)
        if at is None:
            raise ValidationError(
                f"The space sets {ESTIMATOR!r}, the pipeline's final estimator, but the pipeline "
                f"has no Estimator stage: {pipeline.stage_names(stages)}."
            )
        self._holder = Pipeline(stages=[stages[at]])
        self._holder_at = at
        self.estimator = Pipeline(stages=stages[:at] + [self._holder] + stages[at + 1 :])
        self._stages.update(pipeline.reachable(self.estimator, {}))

    def _param(self, target: Target) -> Param:
        if isinstance(target, Param):
            return target
        assert self._holder is not None
        return self._holder.stages

    # -- values ---------------------------------------------------------------------------
    def _convert(self, name: str, target: Target, raw: Any) -> Any:
        value = _plain(raw)
        if target == ESTIMATOR:
            if not isinstance(value, Estimator):
                raise ValidationError(
                    f"The space gives {name!r} the value {value!r}; the final estimator must be a "
                    "pyspark.ml Estimator (e.g. LogisticRegression(...))."
                )
            return [value]
        assert isinstance(target, Param)
        stage = self._stages[target.parent]
        where = f"{type(stage).__name__}.{target.name}"
        if target.name == "stages" and isinstance(stage, Pipeline):
            if not isinstance(value, list) or not all(
                isinstance(s, Estimator | Transformer) for s in value
            ):
                raise ValidationError(
                    f"The space gives {name!r} the value {value!r}; {where} takes lists of "
                    "pipeline stages (Estimators and Transformers)."
                )
            return value
        integer = _takes_integers(stage, target)
        try:
            converted = target.typeConverter(value)
            if integer and isinstance(converted, float):
                if not converted.is_integer():
                    raise TypeError(f"{converted} is not an integer")
                converted = int(converted)
        except (TypeError, ValueError) as exc:
            hint = ""
            if isinstance(value, list):
                hint = " (inside hp.choice a list is one value: use hp.choice for alternatives)"
            elif integer:
                hint = (
                    " It takes integers: use a list of ints, hp.quniform(label, low, high, 1) "
                    "or hp.uniformint."
                )
            raise ValidationError(
                f"The space gives {name!r} the value {value!r}, which {where} does not take "
                f"({exc}).{hint}"
            ) from None
        return converted

    def _candidate(self, point: Mapping[Any, Any]) -> Candidate:
        flat: dict[str, Any] = {}
        self._flatten(point, flat)
        params: dict[str, Any] = {}
        param_map: dict[Param, Any] = {}
        for name, raw in flat.items():
            target = self._targets[name]
            param = self._param(target)
            value = self._convert(name, target, raw)
            display = self._display[target]
            if param in param_map:
                raise ValidationError(
                    f"The space sets {display} twice in one point (as {name!r} too); "
                    "name each param once per branch."
                )
            param_map[param] = value
            params[display] = value[0] if target == ESTIMATOR else value
        ordered = dict(sorted(params.items(), key=lambda item: self._order[item[0]]))
        return Candidate(ordered, param_map)

    def _flatten(self, point: Mapping[Any, Any], out: dict[str, Any]) -> None:
        for key, value in point.items():
            name = _key(key)
            if name in self._groups and isinstance(value, Mapping):
                self._flatten(value, out)
            else:
                out[name] = value

    def _check_values(self) -> dict[Param, list[Any]]:
        """Convert every value a name can take (enumerable ones) or draw (continuous ones).

        Returns the options of the search: every Param with its enumerable values.
        """
        for node in dfs(self.expr):
            if node.name == "hyperopt_param":
                _check_bounds(node.arg["label"].obj, node.arg["obj"])
        options: dict[Param, list[Any]] = {}
        rng = np.random.default_rng(0)
        for name, node in self._value_nodes:
            target = self._targets[name]
            values = options.setdefault(self._param(target), [])
            try:
                found = _assignments(node, MAX_POINTS)
            except _TooLarge:
                found = None
            if found is None:
                for _ in range(_CHECK_DRAWS):
                    self._convert(name, target, stochastic.sample(node, rng))
                continue
            for assignment in found:
                values.append(self._convert(name, target, _evaluate(node, assignment)))
        return options

    def _check_samples(self) -> None:
        rng = np.random.default_rng(1)
        for _ in range(_CHECK_DRAWS):
            self._candidate(stochastic.sample(self.expr, rng))

    def _assign_group(
        self, node: Apply, wanted: Mapping[Target, Any], used: set[Target], out: dict[str, Any]
    ) -> bool:
        if node.name == "switch":
            index, *choices = node.pos_args
            for i, option in enumerate(choices):
                tried_used, tried = set(used), dict(out)
                if self._assign_group(option, wanted, tried_used, tried):
                    out.update(tried, **{index.arg["label"].obj: i})
                    used.update(tried_used)
                    return True
            return False
        for key, value in _entries(node):
            name = _key(key)
            if name in self._groups and _is_group(value):
                if not self._assign_group(value, wanted, used, out):
                    return False
                continue
            target = self._targets[name]
            if target not in wanted and not _labels(value):
                continue  # a fixed value of the branch
            if target not in wanted or not _assign_value(value, wanted[target], out):
                return False
            used.add(target)
        return True


def resolve(estimator: Params, space: Mapping[Any, Any] | Apply) -> SearchSpace:
    """Resolve ``space`` (name -> list or hyperopt expression) against ``estimator``.

    Raises :class:`ValidationError` for unknown stage or param names (listing the valid
    ones) and for values the Params cannot take; no Spark job runs.
    """
    return SearchSpace(estimator, space)


# -- helpers on the user's space and on hyperopt's pyll graphs ---------------------------------
def _check_bounds(label: str, dist: Apply) -> None:
    """Fail on a distribution whose ``low`` is not below its ``high`` (numpy would raise)."""
    low, high = dist.arg.get("low"), dist.arg.get("high")
    if isinstance(low, Literal) and isinstance(high, Literal) and not low.obj < high.obj:
        logs = " (its bounds are logs: math.log(low), math.log(high))" if "log" in dist.name else ""
        raise ValidationError(
            f"The space's hp.{dist.name} {label!r} has low={low.obj} >= high={high.obj}; "
            f"give low < high{logs}."
        )


def _not_called(_: Any) -> None:
    """hyperopt's Domain wants an objective; sparktune's engine evaluates candidates instead."""


def _normalize(space: Mapping[Any, Any] | Apply) -> tuple[dict[str, Any], set[str]]:
    """Give every key a string name and turn plain lists into ``hp.choice``.

    Returns the normalized space and the names that were Param-object keys.
    """
    if isinstance(space, Apply) and _is_group(space):
        space = {"space": space}
    if not isinstance(space, Mapping) or not space:
        raise ValidationError(
            "The space must be a non-empty dict of name -> list of values or hp.* expression, "
            f"e.g. {{'lr.regParam': hp.loguniform('reg', -6, 0)}}; got {space!r}."
        )
    from_params: set[str] = set()
    labels: set[str] = set()

    def label_for(name: str) -> str:
        label, n = name, 2
        while label in labels:
            label, n = f"{name}#{n}", n + 1
        labels.add(label)
        return label

    def normalize(mapping: Mapping[Any, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in mapping.items():
            name = _key(key)
            if isinstance(key, Param):
                from_params.add(name)
            if name in out:
                raise ValidationError(f"The space names {name!r} twice.")
            if isinstance(value, list):
                if not value:
                    raise ValidationError(f"The space gives {name!r} an empty list of values.")
                options = [normalize(v) if isinstance(v, Mapping) else v for v in value]
                out[name] = hp.choice(label_for(name), options)
            elif isinstance(value, Mapping):
                out[name] = normalize(value)
            else:
                out[name] = value
        return out

    return normalize(space), from_params


def _key(key: Any) -> str:
    if isinstance(key, Param):
        return f"{key.parent}.{key.name}"
    if isinstance(key, str):
        return key
    raise ValidationError(
        f"Space names must be strings such as 'lr.regParam' or Param objects, got {key!r}."
    )


def _labels(node: Apply) -> list[str]:
    return [n.arg["label"].obj for n in dfs(node) if n.name == "hyperopt_param"]


def _entries(node: Apply) -> list[tuple[Any, Apply]]:
    """The (key, value node) pairs of a pyll ``dict`` node (string or other keys)."""
    if node.name != "dict":
        return []
    if node.named_args:
        return [(key, value) for key, value in node.named_args]
    if node.pos_args:
        return [(pair.pos_args[0].obj, pair.pos_args[1]) for pair in node.pos_args[0].pos_args]
    return []


def _is_group(node: Apply) -> bool:
    if node.name == "dict":
        return True
    if node.name == "switch":
        options = node.pos_args[1:]
        return bool(options) and all(_is_group(o) for o in options)
    return False


def _discrete(dist: Apply) -> range | None:
    """The values of a finite hyperopt distribution (choice index, randint), else None."""
    if dist.name == "randint":
        low = dist.arg["low"].obj
        high = dist.arg["high"]
        return range(0, low) if high == MissingArgument else range(low, high.obj)
    if dist.name == "categorical":
        return range(len(dist.arg["p"].obj))
    return None


def _assignments(node: Apply, limit: int) -> list[dict[str, Any]] | None:
    """Every assignment of the labels under ``node``; None if one is continuous."""
    if node.name == "hyperopt_param":
        values = _discrete(node.arg["obj"])
        label = node.arg["label"].obj
        return None if values is None else [{label: v} for v in values]
    if node.name == "switch":
        index, *options = node.pos_args
        label = index.arg["label"].obj
        choices = _assignments(index, limit)
        if choices is None:
            return None
        found: list[dict[str, Any]] = []
        for choice in choices:
            inner = _assignments(options[choice[label]], limit)
            if inner is None:
                return None
            found.extend({**choice, **a} for a in inner)
            if len(found) > limit:
                raise _TooLarge
        return found
    found = [{}]
    for child in node.inputs():
        inner = _assignments(child, limit)
        if inner is None:
            return None
        found = [
            {**a, **b} for a in found for b in inner if all(a.get(k, v) == v for k, v in b.items())
        ]
        if len(found) > limit:
            raise _TooLarge
    return found


def _assign_value(node: Apply, value: Any, out: dict[str, Any]) -> bool:
    """Extend ``out`` so that ``node`` evaluates to ``value``; False if it cannot."""
    while node.name in ("float", "int") and len(node.pos_args) == 1:
        node = node.pos_args[0]
    if node.name == "hyperopt_param":
        label = node.arg["label"].obj
        values = _discrete(node.arg["obj"])
        if values is not None and _plain(value) not in values:
            return False
        out[label] = _plain(value)
        return True
    if node.name == "switch":
        index, *options = node.pos_args
        for i, option in enumerate(options):
            tried = dict(out)
            if _assign_value(option, value, tried):
                out.update(tried, **{index.arg["label"].obj: i})
                return True
        return False
    if _labels(node):
        return False
    return _same(_plain(_evaluate(node, {})), _plain(value))


def _evaluate(node: Apply, assignment: Mapping[str, Any]) -> Any:
    """The value of ``node`` under ``assignment`` (hyperopt cannot evaluate a bare literal)."""
    return node.obj if isinstance(node, Literal) else space_eval(node, dict(assignment))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Params) or isinstance(b, Params):
        return a is b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _plain(value: Any) -> Any:
    """numpy scalars as Python scalars, tuples (hyperopt's lists) as lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _takes_integers(stage: Params, param: Param) -> bool:
    """Whether ``param`` takes integers though its converter does not say so (e.g. XGBoost's).

    xgboost.spark's params carry no type; their types are the annotations of the
    scikit-learn estimator they mirror (``max_depth: Optional[int]``).
    """
    xgb_cls = getattr(stage, "_xgb_cls", None)
    if callable(xgb_cls):
        for cls in xgb_cls().__mro__:
            init = cls.__dict__.get("__init__")
            if init is None:
                continue
            try:
                hint = typing.get_type_hints(init).get(param.name)
            except (NameError, TypeError):  # unresolvable annotations: no answer here
                continue
            if hint is not None:
                return int in (hint, *typing.get_args(hint)) and float not in typing.get_args(hint)
    if stage.hasDefault(param):
        default = stage.getOrDefault(param)
        return type(default) is int
    return False
