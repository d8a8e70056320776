"""Names of a search space: ``"stage.param"`` strings and Param keys resolved to Spark Params.

A ``"stage.param"`` name's ``stage`` is a stage's uid (``"LinearRegression_4f2a..."``, or
the uid given with ``_resetUid("lr")``), a prefix of exactly one uid, or a class name used
by exactly one stage; ``param`` is one of that stage's Params. A Param object used as a key
is named ``"<parent uid>.<name>"``, and shown as ``Class.param`` (or ``uid.param`` when
several stages share the class). ``"estimator"`` (:data:`ESTIMATOR`) names the final
estimator of the pipeline.
"""

from __future__ import annotations

from typing import Any

from hyperopt.pyll import Apply, Literal, dfs
from pyspark.ml.param import Param, Params

from sparktune.core.errors import ValidationError
from sparktune.spark import pipeline

#: The space name that chooses the pipeline's final estimator.
ESTIMATOR = "estimator"

#: What a space name sets: a Param, or :data:`ESTIMATOR`.
Target = Param | str


def key_name(key: Any) -> str:
    """The string name of a space key: a string as is, a Param as ``"<parent uid>.<name>"``."""
    if isinstance(key, Param):
        return f"{key.parent}.{key.name}"
    if isinstance(key, str):
        return key
    raise ValidationError(
        f"Space names must be strings such as 'lr.regParam' or Param objects, got {key!r}."
    )


class Stages:
    """The stages a space may name, by uid, and the resolution of names against them.

    They are every stage of the estimator (nested Pipelines and Params-valued params such
    as ``OneVsRest.classifier`` included) and every estimator that appears as a value in
    the space expression.
    """

    def __init__(self, estimator: Params, expr: Apply) -> None:
        self._by_uid: dict[str, Params] = {}
        for stage in pipeline.flatten(estimator, []):
            self.add(stage)
        self.add(estimator)
        for node in dfs(expr):
            if isinstance(node, Literal):
                for found in pipeline.nested(node.obj):
                    self.add(found)

    def add(self, stage: Params) -> None:
        """Know ``stage`` and every stage reachable from it (e.g. a wrapping Pipeline)."""
        self._by_uid.update(pipeline.reachable(stage, {}))

    def owner(self, param: Param) -> Params:
        """The stage that owns ``param``."""
        return self._by_uid[param.parent]

    def resolve(self, name: str) -> Target:
        """The Param (or :data:`ESTIMATOR`) that ``name`` sets; ValidationError if none."""
        if name == ESTIMATOR:
            return ESTIMATOR
        stage_id, dot, param_name = name.rpartition(".")
        if not dot or not stage_id or not param_name:
            raise ValidationError(
                f"The space name {name!r} is not 'stage.param' (e.g. 'lr.regParam'), "
                f"{ESTIMATOR!r}, nor a label of a choice between dicts. "
                f"Stages: {self.listing()}."
            )
        stage = self._find(stage_id, name)
        if not stage.hasParam(param_name):
            names = sorted(p.name for p in stage.params)
            raise ValidationError(
                f"The space name {name!r}: {type(stage).__name__} {stage.uid} has no param "
                f"{param_name!r}. Its params: {names}."
            )
        return stage.getParam(param_name)

    def display(self, param: Param) -> str:
        """``Class.param`` for a Param-object key, ``uid.param`` when its class is not unique."""
        stage = self.owner(param)
        cls = type(stage).__name__
        unique = sum(type(s).__name__ == cls for s in self._by_uid.values()) == 1
        return f"{cls if unique else stage.uid}.{param.name}"

    def listing(self) -> list[str]:
        """The known stages as error messages list them."""
        return pipeline.stage_names(list(self._by_uid.values()))

    def _find(self, ident: str, name: str) -> Params:
        """The one stage ``ident`` names: by uid, else by class name, else by uid prefix."""
        if ident in self._by_uid:
            return self._by_uid[ident]
        stages = list(self._by_uid.values())
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
            f"name). Stages: {self.listing()}."
        )
