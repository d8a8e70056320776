"""Job specs: a YAML file (see ``conf/examples/``) read safely and validated into typed objects.

Every mistake is collected with its key path (``pipeline.stages[2].params.maxDepthh``) and
what was expected, and all of them are raised at once as one :class:`SpecError`. Nothing
here starts Spark: stage classes are imported and their Params read from the class, so
``sparktune validate`` is quick. :mod:`sparktune.jobs.runner` turns a valid spec into Spark objects.
"""

from sparktune.jobs.config.overrides import apply_override
from sparktune.jobs.config.spec import (
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
from sparktune.jobs.config.validate import load, parse

__all__ = [
    "DataSpec",
    "Distribution",
    "EvaluationSpec",
    "JobSpec",
    "MetricSpec",
    "OutputSpec",
    "Problem",
    "SearchSpec",
    "SparkSpec",
    "SpecError",
    "StageSpec",
    "TrackingSpec",
    "apply_override",
    "load",
    "parse",
]
