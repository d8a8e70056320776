"""Job specs: a YAML file (see ``conf/examples/``) read safely and validated into typed objects.

The pydantic models in :mod:`sparktune.jobs.config.spec` are the one definition of a spec's
structure; ``sparktune schema`` prints their JSON Schema. Every mistake is collected with its
key path (``pipeline.stages[2].params.maxDepthh``) and what was expected, and all of them are
raised at once as one :class:`SpecError`. Nothing here starts Spark: stage classes are
imported and their Params read from the class (a scikit-learn ``estimator`` is constructed
and asked for its ``get_params``), so ``sparktune validate`` is quick.
:mod:`sparktune.jobs.runner` turns a valid spec into Spark objects.
"""

from sparktune.jobs.config.data import DataSpec
from sparktune.jobs.config.errors import Problem, SpecError
from sparktune.jobs.config.estimator import EstimatorSpec, StepSpec
from sparktune.jobs.config.evaluation import EvaluationSpec, MetricSpec
from sparktune.jobs.config.groups import GroupsSpec
from sparktune.jobs.config.overrides import apply_override
from sparktune.jobs.config.pipeline import PipelineSpec, StageSpec
from sparktune.jobs.config.search import Distribution, SearchSpec
from sparktune.jobs.config.spec import JobSpec, OutputSpec, SparkSpec, TrackingSpec, json_schema
from sparktune.jobs.config.validate import load, parse

__all__ = [
    "DataSpec",
    "Distribution",
    "EstimatorSpec",
    "EvaluationSpec",
    "GroupsSpec",
    "JobSpec",
    "MetricSpec",
    "OutputSpec",
    "PipelineSpec",
    "Problem",
    "SearchSpec",
    "SparkSpec",
    "SpecError",
    "StageSpec",
    "StepSpec",
    "TrackingSpec",
    "apply_override",
    "json_schema",
    "load",
    "parse",
]
