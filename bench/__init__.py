"""Benchmarks: sparktune against pyspark / hyperopt, measured in the same run."""
