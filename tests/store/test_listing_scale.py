"""A delimiter listing seeks past folded prefixes instead of scanning them.

S3-SEMANTICS.md: "Listing a folded prefix must skip the folded subtree (seek
past it), not scan it". Measuring time would make a flaky test, so we count
work instead: every SQLite connection the store opens (through
``sqlite3.connect``) gets a progress handler counting virtual-machine steps.
If the store ever opens its database another way, the count is unavailable
and the test falls back to printing timings and checking the result only.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from objfs.store import OWNER, Store

FAST = OWNER.with_options(durable=False)
PREFIXES = [f"p{i}/" for i in range(10)]
LOOSE_KEYS = ["a-file", "p5-file", "z-file"]  # between and around the prefixes


class StepCounter:
    """Counts SQLite VM steps (in units of ``EVERY``) on instrumented connections."""

    EVERY = 100

    def __init__(self) -> None:
        self.ticks = 0
        self.connections = 0

    def _tick(self) -> int:
        self.ticks += 1
        return 0  # 0 = carry on

    def wrap(self, real_connect):  # type: ignore[no-untyped-def]
        def connect(*args, **kwargs):  # type: ignore[no-untyped-def]
            conn = real_connect(*args, **kwargs)
            conn.set_progress_handler(self._tick, self.EVERY)
            self.connections += 1
            return conn

        return connect

    def take(self) -> int:
        ticks, self.ticks = self.ticks, 0
        return ticks


def build(store_path, per_prefix: int) -> None:
    store = Store.open(store_path)
    try:
        store.create_bucket(FAST, "wide")
        for prefix in PREFIXES:
            for j in range(per_prefix):
                store.put_object(FAST, "wide", f"{prefix}k{j:06d}", b"")
        for key in LOOSE_KEYS:
            store.put_object(FAST, "wide", key, b"x")
    finally:
        store.close()


@pytest.mark.parametrize(
    "per_prefix",
    [pytest.param(1000, id="10k"), pytest.param(20_000, id="200k", marks=pytest.mark.slow)],
)
def test_delimiter_listing_skips_folded_subtrees(store_path, monkeypatch, per_prefix):
    build(store_path, per_prefix)
    counter = StepCounter()
    monkeypatch.setattr(sqlite3, "connect", counter.wrap(sqlite3.connect))
    store = Store.open(store_path)
    try:
        counter.take()
        t0 = time.perf_counter()
        res = store.list_objects(FAST, "wide", delimiter="/")
        t_delim = time.perf_counter() - t0
        steps_delim = counter.take()

        assert res.common_prefixes == PREFIXES
        assert [v.key for v in res.contents] == LOOSE_KEYS
        assert not res.is_truncated and res.key_count == 13

        t0 = time.perf_counter()
        total = sum(1 for _ in store.iter_objects(FAST, "wide"))
        t_full = time.perf_counter() - t0
        steps_full = counter.take()
        assert total == 10 * per_prefix + len(LOOSE_KEYS)

        # `ls` of one directory costs its page, not its subtree either
        counter.take()
        page = store.list_objects(FAST, "wide", prefix="p7/", delimiter="/", max_keys=5)
        steps_page = counter.take()
        assert [v.key for v in page.contents] == [f"p7/k{j:06d}" for j in range(5)]
        assert page.is_truncated

        # paging through the folded listing one entry at a time is cheap too
        counter.take()
        token, seen = None, []
        while True:
            pg = store.list_objects(
                FAST, "wide", delimiter="/", max_keys=1, continuation_token=token
            )
            seen += pg.common_prefixes + [v.key for v in pg.contents]
            if not pg.is_truncated:
                break
            token = pg.next_continuation_token
        steps_paged = counter.take()
        assert seen == sorted(PREFIXES + LOOSE_KEYS)
    finally:
        store.close()

    print(
        f"\n{total} keys: delimiter listing {t_delim * 1e3:.1f} ms, "
        f"full scan {t_full * 1e3:.1f} ms; VM steps (x{StepCounter.EVERY}): "
        f"delimiter {steps_delim}, full {steps_full}, one page {steps_page}, "
        f"paged one by one {steps_paged}"
    )
    assert counter.connections > 0, "store opened no sqlite3.connect connection: nothing measured"
    assert steps_full > 0
    # A scan would cost about as much as the full listing; a seek costs a few
    # index probes per prefix. 1/50 leaves ample room either way.
    assert steps_delim * 50 < steps_full, (steps_delim, steps_full)
    assert steps_paged * 20 < steps_full, (steps_paged, steps_full)
    assert steps_page * 50 < steps_full, (steps_page, steps_full)
