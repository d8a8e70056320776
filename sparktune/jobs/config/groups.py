"""``groups``: one tuned model per group of rows, each group's search inside one Spark task."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

from sparktune.frontends.groups import MAX_GROUP_ROWS, WARN_GROUP_ROWS
from sparktune.jobs.config.fields import PositiveInt, Seconds, Text, non_empty
from sparktune.jobs.config.section import Section, expect

AtLeastTwo = Annotated[int, Strict(), Field(ge=2), expect("an integer >= 2")]


class GroupsSpec(Section):
    """Tune the `estimator` separately on every group of rows (sparktune.tune_groups): each
    group's search runs inside one Spark task with the search's strategy, limits, scheduler
    and error policy; the results table has one row per group, output.model is a folder with
    one model file per group and output.checkpoint a folder with one result file per
    finished group (sparktune run --resume searches only the others)."""

    group_by: Annotated[
        non_empty(tuple[Text, ...], "minItems"), expect("a non-empty list of column names")
    ]
    """The columns whose values make a group, e.g. [cut, color]."""
    max_group_rows: AtLeastTwo = MAX_GROUP_ROWS
    """Groups with more rows are not tuned (their row says so): one task holds a group."""
    warn_group_rows: PositiveInt = WARN_GROUP_ROWS
    """Groups with more rows are logged as large."""
    timeout: Seconds | None = None
    """Each group's search ends after this many seconds (search.timeout bounds the whole
    run: groups not started by then are skipped)."""
    trials: Text | None = None
    """A CSV of every group's trials: the group columns, then the per-trial columns of a
    single search's results table."""
