"""Decoded manifests of versions, cached by seq.

The mount reads a file 128 KiB at a time, and decoding a 1 GiB manifest per
read made sequential reads quadratic; a writer's commit hands over what it
built, so the next open or read of that version decodes nothing (3k
ChunkRefs of a fragmented 1 GiB file cost ~6 ms per decode).

Invariant: the entry of a seq is exactly that version's manifest; manifests
never change once written, so an entry never goes stale. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from objfs.store import records as rec
from objfs.store.reader import Extents
from objfs.store.records import Col

CACHED_MANIFESTS = 64  # most recently used


class ExtentsCache:
    """The manifests (with offsets) of the versions read or committed last."""

    def __init__(self) -> None:
        self._cache: OrderedDict[int, Extents] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, row: Sequence[Any]) -> Extents:
        """The manifest of the version ``row``, decoded once."""
        seq = row[Col.SEQ]
        cache = self._cache
        with self._lock:
            extents = cache.get(seq)
            if extents is not None:
                cache.move_to_end(seq)
                return extents
        extents = Extents(rec.unpack_manifest(row[Col.MANIFEST]))
        self.remember(seq, extents)
        return extents

    def remember(self, seq: int, extents: Extents) -> None:
        """Cache the manifest of version ``seq`` (which must be exactly it)."""
        cache = self._cache
        with self._lock:
            cache[seq] = extents
            while len(cache) > CACHED_MANIFESTS:
                cache.popitem(last=False)
