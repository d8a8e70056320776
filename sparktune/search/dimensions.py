"""hyperopt distributions as Optuna distributions, for the Optuna strategies.

Each label of a normalized hyperopt expression becomes one :class:`Dimension`: an Optuna
distribution and the conversion of values between the two sides. A distribution Optuna has
no equivalent for is refused with a :class:`ValidationError` naming its label, when the
strategy is built (before any Spark job).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from hyperopt.pyll import Apply, Literal, dfs

from sparktune.core.errors import ValidationError
from sparktune.search import pyll

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

#: The Optuna samplers searches take by name (``strategy="cmaes"``).
SAMPLERS = ("optuna-tpe", "cmaes", "qmc")

#: hyperopt distributions with an Optuna equivalent.
CONVERTED = ("uniform", "loguniform", "quniform", "qloguniform", "randint", "uniformint", "choice")


@dataclass(frozen=True)
class Dimension:
    """One hyperopt label as an Optuna distribution, and its values on either side.

    ``integral``: hyperopt's value is an int (a choice's option index, ``randint``);
    ``q``: hyperopt rounds the value to a multiple of ``q`` (``quniform``, ``qloguniform``).
    """

    distribution: BaseDistribution
    integral: bool = False
    q: float | None = None

    def hyperopt(self, value: Any) -> int | float:
        """The assignment's value for a value suggested by the study."""
        if self.integral:
            return int(value)
        if self.q is not None:
            return float(np.round(value / self.q) * self.q)
        return float(value)

    def optuna(self, value: Any) -> int | float:
        """The study's param value for an assignment's value (clipped into the distribution).

        Only ``qloguniform`` needs the clip: hyperopt's rounding can leave its bounds.
        """
        from optuna.distributions import CategoricalDistribution, IntDistribution

        dist = self.distribution
        if isinstance(dist, CategoricalDistribution):
            return int(value)
        clipped = min(max(value, dist.low), dist.high)
        return int(round(clipped)) if isinstance(dist, IntDistribution) else float(clipped)


def dimensions(expr: Apply) -> dict[str, Dimension]:
    """Every label of the hyperopt expression ``expr`` as a :class:`Dimension`.

    Raises :class:`ValidationError` naming a label whose distribution Optuna cannot take.
    """
    options = {
        node.pos_args[0].arg["label"].obj: len(node.pos_args) - 1
        for node in dfs(expr)
        if node.name == "switch" and node.pos_args[0].name == "hyperopt_param"
    }
    return {
        node.arg["label"].obj: _dimension(node.arg["label"].obj, node.arg["obj"], options)
        for node in dfs(expr)
        if node.name == "hyperopt_param"
    }


def _dimension(label: str, dist: Apply, options: Mapping[str, int]) -> Dimension:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    name = dist.name
    if name == "randint" and label in options:
        return Dimension(CategoricalDistribution(list(range(options[label]))), integral=True)
    if name == "randint":
        values = pyll.discrete(dist)
        assert values is not None
        return Dimension(IntDistribution(values.start, values.stop - 1), integral=True)
    if name not in ("uniform", "loguniform", "quniform", "qloguniform"):
        _refuse(label, dist)
    low, high = _number(label, dist, "low"), _number(label, dist, "high")
    log = name.endswith("loguniform")
    if log:
        low, high = math.exp(low), math.exp(high)
    if not name.startswith("q"):
        return Dimension(FloatDistribution(low, high, log=log))
    q = _number(label, dist, "q")
    if log:
        return Dimension(FloatDistribution(low, high, log=True), q=q)
    # hyperopt's values are round(x / q) * q for x in [low, high]: multiples of q.
    first, last = float(np.round(low / q)), float(np.round(high / q))
    if float(q).is_integer():
        step = int(q)
        return Dimension(IntDistribution(int(first) * step, int(last) * step, step=step), q=q)
    # Written as short decimals: Optuna checks in decimal that high - low is a multiple of q.
    low, high = float(f"{first * q:.12g}"), float(f"{last * q:.12g}")
    return Dimension(FloatDistribution(low, high, step=q), q=q)


def _number(label: str, dist: Apply, arg: str) -> float:
    node = dist.arg.get(arg)
    if not isinstance(node, Literal) or isinstance(node.obj, bool):
        raise ValidationError(
            f"The space's hp.{dist.name} {label!r} has a {arg} that is not a number "
            f"({node}); the Optuna strategies need fixed bounds. Strategies 'tpe' and 'random' "
            "take it."
        )
    return float(node.obj)


def _refuse(label: str, dist: Apply) -> None:
    kind = "hp.pchoice (its probabilities)" if dist.name == "categorical" else f"hp.{dist.name}"
    raise ValidationError(
        f"The space's {kind} {label!r} has no Optuna equivalent, so the Optuna strategies "
        f"({', '.join(SAMPLERS)} or a sampler instance) cannot search it; they take "
        f"hp.{', hp.'.join(CONVERTED)} and lists. Strategies 'tpe' and 'random' take every "
        "hp.* distribution."
    )
