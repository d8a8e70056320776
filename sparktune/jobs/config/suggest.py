"""A "did you mean" hint for a misspelt name."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or ``""`` if none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
