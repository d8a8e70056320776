"""The checkpoint of a per-group search: one result file per finished group, in one folder.

Each group's task writes its result (its row of the per-group table and its trials) to
``<folder>/groups/group-<hash of its key>.json`` as soon as its search ends, atomically
(:func:`sparktune.tracking.checkpoint.write_json`), so a run killed at any moment keeps
every group that finished. ``<folder>/search.json`` holds what the search was; a resumed
run with other settings is refused, and a resumed run's tasks return the kept result of
a finished group instead of searching it again. The folder must be one that every
executor and the driver can read and write (a shared file system), like ``model_path``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sparktune.core.errors import ValidationError
from sparktune.tracking.checkpoint import write_json

logger = logging.getLogger(__name__)

#: Version of the files' layout; another one is refused rather than misread.
FORMAT = 1
#: The file naming the search, in the checkpoint folder.
SEARCH_FILE = "search.json"
#: The sub-folder of the groups' result files.
GROUPS_DIR = "groups"


def plain(value: Any) -> Any:
    """numpy and pandas scalars as Python's, NaN as None, recursively (for JSON)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def key_digest(key: Sequence[Any]) -> str:
    """A short name for a group key, the same on every machine (a hash of its JSON)."""
    return hashlib.sha1(json.dumps(plain(list(key))).encode("utf-8")).hexdigest()[:20]


class GroupStore:
    """The result files of one per-group search under ``path`` (read and written by tasks)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def file(self, key: Sequence[Any]) -> Path:
        """Where the result of the group ``key`` is kept."""
        return self.path / GROUPS_DIR / f"group-{key_digest(key)}.json"

    def load(self, key: Sequence[Any]) -> dict[str, Any] | None:
        """The kept result of group ``key`` (``row``, ``trials``), or None if it did not finish."""
        file = self.file(key)
        if not file.exists():
            return None
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # unreadable: search the group again
            logger.warning("group result %s unreadable (%s); searching the group again", file, exc)
            return None
        if document.get("format") != FORMAT:
            return None
        return document

    def save(self, key: Sequence[Any], row: Mapping[str, Any], trials: str) -> None:
        """Keep a finished group's row and its trials (a JSON table) for a resumed run."""
        document = {"format": FORMAT, "key": plain(list(key)), "row": plain(row), "trials": trials}
        write_json(self.file(key), document)

    def finished(self) -> int:
        """How many groups have a result file."""
        folder = self.path / GROUPS_DIR
        return len(list(folder.glob("group-*.json"))) if folder.is_dir() else 0


def prepare(path: str | os.PathLike[str], identity: Mapping[str, Any], resume: bool) -> GroupStore:
    """The store of a per-group search at ``path``, on the driver before the job.

    With ``resume`` the folder's search must be this one (else a ValidationError says what
    differs) and its finished groups are kept; without it, earlier result files are
    removed and the search starts afresh.
    """
    if not isinstance(resume, bool):
        raise ValidationError(f"resume must be True or False, got {resume!r}.")
    if not isinstance(path, str | os.PathLike) or not str(path).strip():
        raise ValidationError(f"checkpoint must be a folder path, got {path!r}.")
    folder = Path(os.path.abspath(path))
    if folder.exists() and not folder.is_dir():
        raise ValidationError(
            f"checkpoint {str(path)!r} is a file; a per-group search keeps one file per group "
            "in a folder: give a folder path."
        )
    store = GroupStore(folder)
    wanted = plain(dict(identity))
    search = folder / SEARCH_FILE
    if resume and search.exists():
        stored = json.loads(search.read_text(encoding="utf-8")).get("search", {})
        differ = sorted(k for k in {*stored, *wanted} if stored.get(k) != wanted.get(k))
        if differ:
            details = "; ".join(
                f"{k}: checkpoint {stored.get(k)!r}, now {wanted.get(k)!r}" for k in differ
            )
            raise ValidationError(
                f"The checkpoint {str(path)!r} was written by a different per-group search "
                f"({details}). Resume with the same settings, or delete the folder."
            )
        logger.info("resuming from %s: %d finished group(s) kept", folder, store.finished())
        return store
    if resume:
        logger.info("no per-group checkpoint at %s yet; every group is searched", folder)
    groups = folder / GROUPS_DIR
    if groups.is_dir():
        for old in groups.glob("group-*.json"):
            old.unlink()
    write_json(search, {"format": FORMAT, "search": wanted})
    return store
