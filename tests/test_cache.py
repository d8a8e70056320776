"""The featurized-fold cache: build once per key, LRU eviction within a budget, full cleanup."""

from __future__ import annotations

import threading

import pytest

from sparktune.cache import Entry, FoldCache, cached_size


def make_entry(cache, spark, rows):
    df = cache.persist(spark.range(rows).selectExpr("id", "id * 2 as twice"))
    df.count()
    return Entry(df, df, None, frames=[df])


def test_entry_is_built_once_under_concurrent_use(spark):
    cache = FoldCache(budget_bytes=None)
    builds = []

    def build():
        builds.append(1)
        return make_entry(cache, spark, 100)

    def user():
        with cache.use("k", build) as entry:
            assert entry.train.count() == 100

    threads = [threading.Thread(target=user) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    cache.close()


def test_least_recently_used_entries_are_evicted_beyond_budget(spark):
    probe = FoldCache()
    one = make_entry(probe, spark, 5000)
    probe_size = cached_size(one.frames[0])
    assert probe_size > 0
    one.unpersist()
    cache = FoldCache(budget_bytes=int(probe_size * 2.5))
    entries = {}
    for key in ["a", "b", "c"]:
        with cache.use(key, lambda: make_entry(cache, spark, 5000)) as entry:
            entries[key] = entry
    assert cache.evictions == 1
    assert not entries["a"].train.is_cached
    assert entries["b"].train.is_cached and entries["c"].train.is_cached
    with cache.use("b", lambda: pytest.fail("b must still be cached")):
        pass
    cache.close()
    assert not entries["b"].train.is_cached and not entries["c"].train.is_cached


def test_entries_in_use_are_never_evicted(spark):
    cache = FoldCache(budget_bytes=1)
    with cache.use("pinned", lambda: make_entry(cache, spark, 1000)) as pinned:
        with cache.use("other", lambda: make_entry(cache, spark, 1000)):
            assert pinned.train.is_cached
        assert pinned.train.is_cached
    assert not pinned.train.is_cached
    cache.close()


def test_a_failed_build_is_remembered_not_repeated(spark):
    cache = FoldCache()
    calls = []

    def build():
        calls.append(1)
        raise RuntimeError("prefix fit failed")

    for _ in range(3):
        with pytest.raises(RuntimeError, match="prefix fit failed"):
            with cache.use("bad", build):
                pass
    assert len(calls) == 1
    cache.close()
