"""The user's space as a hyperopt expression, and what sparktune reads off hyperopt's graphs.

hyperopt compiles ``hp.*`` spaces to pyll graphs: ``hyperopt_param`` nodes (a label and a
distribution), ``switch`` nodes (``hp.choice``: an index and the options), ``dict`` nodes,
and literals. An *assignment* gives each label a value (the option index for a choice);
these helpers enumerate finite spaces, find the assignment that yields a value, and
evaluate nodes under an assignment.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from hyperopt import hp
from hyperopt.fmin import space_eval
from hyperopt.pyll import Apply, Literal, dfs
from hyperopt.pyll.base import MissingArgument
from pyspark.ml.param import Param

from sparktune.core.errors import ValidationError
from sparktune.search.names import key_name
from sparktune.search.values import python_value, same

logger = logging.getLogger(__name__)


class TooLarge(Exception):
    """Enumerating a space would exceed the limit given to :func:`assignments`."""


def normalize(space: Mapping[Any, Any] | Apply) -> tuple[dict[str, Any], set[str]]:
    """Give every key a string name and turn plain lists into ``hp.choice``.

    A list is labelled with its name (``"name#2"`` when a label is taken). A bare group
    expression (a dict, or a choice between dicts) becomes the group ``"space"``.
    Returns the normalized space and the names that were Param-object keys.
    """
    if isinstance(space, Apply) and is_group(space):
        space = {"space": space}
    if not isinstance(space, Mapping) or not space:
        raise ValidationError(
            "The space must be a non-empty dict of name -> list of values or hp.* expression, "
            f"e.g. {{'lr.regParam': hp.loguniform('reg', -6, 0)}}; got {space!r}."
        )
    from_params: set[str] = set()
    taken: set[str] = set()

    def label_for(name: str) -> str:
        label, n = name, 2
        while label in taken:
            label, n = f"{name}#{n}", n + 1
        taken.add(label)
        return label

    def named(mapping: Mapping[Any, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in mapping.items():
            name = key_name(key)
            if isinstance(key, Param):
                from_params.add(name)
            if name in out:
                raise ValidationError(f"The space names {name!r} twice.")
            if isinstance(value, list):
                if not value:
                    raise ValidationError(f"The space gives {name!r} an empty list of values.")
                options = [named(v) if isinstance(v, Mapping) else v for v in value]
                out[name] = hp.choice(label_for(name), options)
            elif isinstance(value, Mapping):
                out[name] = named(value)
            else:
                out[name] = value
        return out

    return named(space), from_params


def check_bounds(label: str, dist: Apply) -> None:
    """Fail on a distribution whose ``low`` is not below its ``high`` (numpy would raise)."""
    low, high = dist.arg.get("low"), dist.arg.get("high")
    if isinstance(low, Literal) and isinstance(high, Literal) and not low.obj < high.obj:
        logs = " (its bounds are logs: math.log(low), math.log(high))" if "log" in dist.name else ""
        raise ValidationError(
            f"The space's hp.{dist.name} {label!r} has low={low.obj} >= high={high.obj}; "
            f"give low < high{logs}."
        )
    if isinstance(low, Literal) and isinstance(high, Literal) and dist.name in LOG_DISTRIBUTIONS:
        hint = natural_bounds_hint(dist.name, label, low.obj, high.obj)
        if hint:
            logger.warning(hint)


#: hyperopt's distributions whose bounds are logs of the values drawn.
LOG_DISTRIBUTIONS = ("loguniform", "qloguniform")
#: hyperopt's distributions that draw on a log scale.
LOG_SCALED = (*LOG_DISTRIBUTIONS, "lognormal", "qlognormal")


def natural_bounds_hint(kind: str, label: str, low: float, high: float) -> str | None:
    """A did-you-mean for ``hp.<kind>(label, low, high)`` whose bounds look like natural
    values (0 < low < 1, high at least ten times low: e.g. 0.001 and 1.0), not logs."""
    if not (0 < low < 1 and high >= 10 * low):
        return None
    return (
        f"hp.{kind}({label!r}, {low}, {high}) draws exp(uniform({low}, {high})), values "
        f"from {math.exp(low):.4g} to {math.exp(high):.4g}: hyperopt's bounds are logs. "
        f"Did you mean hp.{kind}({label!r}, math.log({low}), math.log({high}))?"
    )


def labels(node: Apply) -> list[str]:
    """The hyperopt labels under ``node``, in graph order."""
    return [n.arg["label"].obj for n in dfs(node) if n.name == "hyperopt_param"]


def entries(node: Apply) -> list[tuple[Any, Apply]]:
    """The (key, value node) pairs of a pyll ``dict`` node (string or other keys)."""
    if node.name != "dict":
        return []
    if node.named_args:
        return [(key, value) for key, value in node.named_args]
    if node.pos_args:
        return [(pair.pos_args[0].obj, pair.pos_args[1]) for pair in node.pos_args[0].pos_args]
    return []


def is_group(node: Apply) -> bool:
    """Whether ``node`` is a dict of names, or a choice between such dicts."""
    if node.name == "dict":
        return True
    if node.name == "switch":
        options = node.pos_args[1:]
        return bool(options) and all(is_group(o) for o in options)
    return False


def discrete(dist: Apply) -> range | None:
    """The values of a finite hyperopt distribution (choice index, randint), else None."""
    if dist.name == "randint":
        low = dist.arg["low"].obj
        high = dist.arg["high"]
        return range(0, low) if high == MissingArgument else range(low, high.obj)
    if dist.name == "categorical":  # hp.pchoice: p is a literal or a list node
        p = dist.arg["p"]
        return range(len(p.obj if isinstance(p, Literal) else p.pos_args))
    return None


def assignments(node: Apply, limit: int) -> list[dict[str, Any]] | None:
    """Every assignment of the labels under ``node``; None if one is continuous.

    Raises :class:`TooLarge` beyond ``limit`` assignments.
    """
    if node.name == "hyperopt_param":
        values = discrete(node.arg["obj"])
        label = node.arg["label"].obj
        return None if values is None else [{label: v} for v in values]
    if node.name == "switch":
        index, *options = node.pos_args
        label = index.arg["label"].obj
        choices = assignments(index, limit)
        if choices is None:
            return None
        found: list[dict[str, Any]] = []
        for choice in choices:
            inner = assignments(options[choice[label]], limit)
            if inner is None:
                return None
            found.extend({**choice, **a} for a in inner)
            if len(found) > limit:
                raise TooLarge
        return found
    found = [{}]
    for child in node.inputs():
        inner = assignments(child, limit)
        if inner is None:
            return None
        found = [
            {**a, **b} for a in found for b in inner if all(a.get(k, v) == v for k, v in b.items())
        ]
        if len(found) > limit:
            raise TooLarge
    return found


def assign_value(node: Apply, value: Any, out: dict[str, Any]) -> bool:
    """Extend ``out`` so that ``node`` evaluates to ``value``; False if it cannot."""
    while node.name in ("float", "int") and len(node.pos_args) == 1:
        node = node.pos_args[0]
    if node.name == "hyperopt_param":
        label = node.arg["label"].obj
        values = discrete(node.arg["obj"])
        if values is not None and python_value(value) not in values:
            return False
        out[label] = python_value(value)
        return True
    if node.name == "switch":
        index, *options = node.pos_args
        for i, option in enumerate(options):
            tried = dict(out)
            if assign_value(option, value, tried):
                out.update(tried, **{index.arg["label"].obj: i})
                return True
        return False
    if labels(node):
        return False
    return same(python_value(evaluate(node, {})), python_value(value))


def evaluate(node: Apply, assignment: Mapping[str, Any]) -> Any:
    """The value of ``node`` under ``assignment`` (hyperopt cannot evaluate a bare literal)."""
    return node.obj if isinstance(node, Literal) else space_eval(node, dict(assignment))
