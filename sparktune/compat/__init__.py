"""Every private or version-specific API of a dependency that sparktune uses, in one place.

One module per dependency (``pyspark``, ...): the rest of sparktune calls the functions
here and never reaches into a private attribute itself (``tests/test_compat.py`` scans the
source for it). Each shim is tested in both CI environments (newest versions, and pyspark
3.5 with the lowest supported versions of the rest).
"""
