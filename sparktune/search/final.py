"""A searched final estimator: the pipeline's last Estimator put in a holder whose stages vary.

When a space sets ``"estimator"``, the search fits a copy of the user's pipeline in which
the final estimator (its last Estimator stage; the estimator itself when it is not a
Pipeline) sits alone in a one-stage *holder* Pipeline. Each candidate sets the holder's
``stages`` to its estimator, so the featurizer stages before it are still fitted once per
fold and shared by every candidate; :meth:`FinalEstimator.unwrap` gives the fitted model
the user's shape again.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml import Estimator, Model, Pipeline, PipelineModel
from pyspark.ml.param import Params

from sparktune.core.errors import ValidationError
from sparktune.search.names import ESTIMATOR
from sparktune.spark import pipeline


@dataclass(frozen=True)
class FinalEstimator:
    """The user's estimator with its final estimator in :attr:`holder`."""

    #: What the search fits: the user's pipeline with the holder in place of its estimator.
    estimator: Params
    #: The one-stage Pipeline whose ``stages`` Param the search sets.
    holder: Pipeline
    #: The holder's index among the pipeline's stages; None when the user gave no Pipeline.
    at: int | None

    def unwrap(self, model: Model) -> Model:
        """The fitted ``model`` with the holder's model replaced by its only stage."""
        if self.at is None:
            return model.stages[0]
        stages = list(model.stages)
        at = self.at
        return PipelineModel(stages=stages[:at] + list(stages[at].stages) + stages[at + 1 :])


def wrap(original: Params) -> FinalEstimator:
    """Put the final estimator of ``original`` in a holder (the user's objects unchanged)."""
    if not isinstance(original, Pipeline):
        holder = Pipeline(stages=[original])
        return FinalEstimator(holder, holder, None)
    stages = list(original.getStages())
    at = max((i for i, s in enumerate(stages) if isinstance(s, Estimator)), default=None)
    if at is None:
        raise ValidationError(
            f"The space sets {ESTIMATOR!r}, the pipeline's final estimator, but the pipeline "
            f"has no Estimator stage: {pipeline.stage_names(stages)}."
        )
    holder = Pipeline(stages=[stages[at]])
    estimator = Pipeline(stages=stages[:at] + [holder] + stages[at + 1 :])
    return FinalEstimator(estimator, holder, at)
