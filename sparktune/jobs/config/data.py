"""``data``: a bundled data set, or a file and its format; the label column; a sample."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from sparktune.jobs.config.constants import FORMATS
from sparktune.jobs.config.fields import Fraction, PositiveInt, Settings, Text, non_empty
from sparktune.jobs.config.section import Finding, Section, expect, one_of
from sparktune.jobs.datasets import DATASETS
from sparktune.spark.local_data import MAX_COLLECT_ROWS

#: File extensions that tell the format when ``format`` is not given.
EXTENSIONS = {"parquet": "parquet", "csv": "csv", "json": "json", "jsonl": "json", "orc": "orc"}


class DataSpec(Section):
    """The data to tune on: a bundled data set or a path and format, and the label column."""

    label: Text
    """The label column: in the data, or made by a stage (e.g. a StringIndexer)."""
    dataset: one_of(DATASETS) | None = None
    """A data set bundled with sparktune (instead of path)."""
    path: Text | None = None
    """A file or directory (instead of dataset); local paths must exist."""
    format: one_of(FORMATS) | None = None
    """The reader format; by default from path's extension. delta needs delta-spark."""
    options: Settings = {}
    """Reader options (CSV: header and inferSchema default to true)."""
    scale: PositiveInt = 1
    """Repeat the bundled data set this many times, with jitter."""
    sample: Fraction | None = None
    """Keep a seeded fraction of the rows."""
    limit: PositiveInt | None = None
    """Keep at most this many rows."""
    features: (
        Annotated[non_empty(tuple[Text, ...], "minItems"), expect("a non-empty list of columns")]
        | None
    ) = None
    """An estimator's feature columns (default: every column but the label and the group
    columns); a pipeline's stages name their own."""
    max_collect_rows: PositiveInt = MAX_COLLECT_ROWS
    """An estimator (not per group) trains on the driver's copy of the data: more rows are
    refused."""

    @classmethod
    def prepare(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """The format from the path's extension when not given."""
        path = raw.get("path")
        if "format" in raw or not isinstance(path, str):
            return raw
        found = EXTENSIONS.get(Path(path.rstrip("/")).suffix.lower().lstrip("."))
        return {**raw, "format": found} if found else raw

    @classmethod
    def check(cls, raw: dict[str, Any]) -> Iterable[Finding]:
        """One source; file settings only for a file; the file exists; delta is installed."""
        if ("dataset" in raw) == ("path" in raw):
            yield (), f"give exactly one of `dataset` (bundled: {list(DATASETS)}) or `path`"
        if "dataset" in raw and "path" not in raw and ("format" in raw or "options" in raw):
            yield (), "`format` and `options` describe a file; a bundled `dataset` takes neither"
        if "scale" in raw and "path" in raw:
            yield ("scale",), "`scale` repeats a bundled data set; it needs `dataset`"
        path = raw.get("path")
        if isinstance(path, str) and path.strip():
            if "format" not in raw:
                yield (
                    ("format",),
                    f"cannot tell the format of {path!r}; set format to one of {list(FORMATS)}",
                )
            local = re.sub(r"^file:(//)?", "", path)
            if ("://" not in path or path.startswith("file:")) and not Path(local).exists():
                yield ("path",), f"no such file or directory: {Path(local).resolve()}"
        if raw.get("format") == "delta" and importlib.util.find_spec("delta") is None:
            yield (
                ("format",),
                "format 'delta' needs the delta-spark package: pip install delta-spark",
            )
