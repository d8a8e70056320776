"""``--set key.path=value``: change a raw spec before it is validated."""

from __future__ import annotations

import re
from typing import Any

import yaml

from sparktune.jobs.config.errors import Problem

#: Mappings whose keys may contain dots (``--set`` treats the rest of the path as one key).
FREE_FORM = ("search.space", "spark.conf", "data.options")


def apply_override(raw: Any, item: str, problems: list[Problem] | None = None) -> Any:
    """Set ``key.path=value`` (value read as YAML) in ``raw``; list items are ``[i]`` or ``[name]``.

    Keys of ``search.space``, ``spark.conf`` and ``data.options`` contain dots, so the rest
    of the path after them is one key: ``--set search.space.lr.regParam=[0.1,1.0]``.
    A path that cannot be followed is appended to ``problems``; ``raw`` is returned.
    """
    problems = problems if problems is not None else []
    key, sep, text = item.partition("=")
    label = f"--set {item}"
    tokens = _path_tokens(key.strip()) if sep else None
    if tokens is None:
        problems.append(Problem(label, "expected KEY.PATH=VALUE, e.g. search.max_trials=4"))
        return raw
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        problems.append(Problem(label, f"the value is not valid YAML: {exc}"))
        return raw
    root: Any = raw if isinstance(raw, dict) else {}
    node = root
    walked = ""
    for i, token in enumerate(tokens):
        last = i == len(tokens) - 1
        if isinstance(node, list):
            index = _list_index(node, token)
            if index is None:
                problems.append(Problem(label, f"{walked or 'the spec'} has no item [{token}]"))
                return raw
            key_or_index: Any = index
            step = f"[{token}]"
        elif isinstance(node, dict) and not isinstance(token, int):
            if walked in FREE_FORM:
                node[".".join(str(t) for t in tokens[i:])] = value
                return root
            key_or_index = token
            step = f".{token}" if walked else str(token)
        else:
            problems.append(Problem(label, f"{walked or 'the spec'} has no key {token!r}"))
            return raw
        if last:
            node[key_or_index] = value
            return root
        if isinstance(node, dict) and node.get(token) is None:
            node[token] = [] if isinstance(tokens[i + 1], int) else {}
        node = node[key_or_index]
        walked += step
    return root


def _path_tokens(key: str) -> list[str | int] | None:
    tokens: list[str | int] = []
    for part in key.split("."):
        match = re.fullmatch(r"([^\[\]]*)((?:\[[^\[\]]+\])*)", part)
        if match is None:
            return None
        if match.group(1):
            tokens.append(match.group(1))
        for index in re.findall(r"\[([^\[\]]+)\]", match.group(2)):
            tokens.append(int(index) if index.lstrip("-").isdigit() else index)
    return tokens or None


def _list_index(items: list[Any], token: int | str) -> int | None:
    if isinstance(token, int):
        return token if -len(items) <= token < len(items) else None
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == token:
            return i
    return None
