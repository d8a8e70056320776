"""Spark Connect tests: run in their own pytest process (``pytest tests/connect``)."""
