"""Exceptions raised by sparktune; each names the input at fault and how to fix it."""

from __future__ import annotations


class SparktuneError(Exception):
    """Base class of every error sparktune raises on purpose."""


class SetupError(SparktuneError):
    """The machine is missing something sparktune needs (e.g. Java 17+)."""


class ValidationError(SparktuneError, ValueError):
    """Bad input, found before any Spark job ran."""


class SearchFailedError(SparktuneError, RuntimeError):
    """Every candidate of a search failed; the first failure is named and chained."""
