"""How an open file tells a sequential reader from a random one (``OpenFile._sequential``).

A sequential reader gets whole chunks and the chunk store's read-ahead (5 MiB
decoded); a random reader only its 64 KiB segment. A random read that lands
near the previous one must not start that read-ahead.
"""

from __future__ import annotations

import random

from objfs.fs.openfile import SEQUENTIAL_SLACK, OpenFile
from objfs.fs.runner import StoreRunner
from objfs.store.types import SystemMeta

KIB = 1 << 10
MIB = 1 << 20


def _open_file() -> OpenFile:
    return OpenFile(StoreRunner(None), "b", "k", None, SystemMeta())


def test_a_stream_from_offset_zero_is_sequential_even_slightly_out_of_order() -> None:
    f = _open_file()
    assert f._sequential(0, 128 * KIB)
    # The kernel's read-ahead requests of one stream arrive slightly out of order.
    for offset in (256, 128, 384, 512, 768, 640, 896):
        assert f._sequential(offset * KIB, offset * KIB + 128 * KIB), offset


def test_a_stream_started_mid_file_is_sequential_from_its_third_read() -> None:
    f = _open_file()
    start = 300 * MIB
    assert not f._sequential(start, start + 128 * KIB)
    assert not f._sequential(start + 128 * KIB, start + 256 * KIB)
    assert f._sequential(start + 256 * KIB, start + 384 * KIB)
    assert f._sequential(start + 384 * KIB, start + 512 * KIB)


def test_a_random_read_near_the_previous_one_is_still_random() -> None:
    f = _open_file()
    assert not f._sequential(500 * MIB, 500 * MIB + 4 * KIB)
    near = 500 * MIB + SEQUENTIAL_SLACK // 2
    assert not f._sequential(near, near + 4 * KIB)  # one near read is chance
    assert not f._sequential(20 * MIB, 20 * MIB + 4 * KIB)  # and the streak is broken
    rng = random.Random(7)
    offsets = [rng.randrange(1, (1 << 30) // 4096) * 4096 for _ in range(20_000)]
    taken = sum(f._sequential(off, off + 4 * KIB) for off in offsets)
    assert taken <= 2  # two near reads in a row: about one in a million
