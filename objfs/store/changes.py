"""``ChangeFeed``: the store's change sequence, read (the mount's poller,
``objfs watch``), and ``sync``, which makes everything committed durable.

A collaborator of the ``Store``, built with the database, the chunk store
(``sync`` flushes its files first) and the seam (the decorators).

Invariants: every mutation appends to the change sequence in its own
transaction (see core.py); ``changes_since`` never skips a change silently:
when ``gc`` has forgotten some it raises ``ChangeFeedGap``.
``wait_for_change`` is no request: it tells a reader *when* to read the feed
(PostgreSQL pushes every commit's changes to it, of any node; on SQLite it
only sleeps, ``pushes_changes`` is False), never what changed.
"""

from __future__ import annotations

import time

from objfs.chunks.store import ChunkStore
from objfs.meta import queries as q
from objfs.meta.db import Database
from objfs.store.access import owner_only, requires
from objfs.store.seam import Seam
from objfs.store.types import Change, ChangeFeedGap, RequestContext


class ChangeFeed:
    """The change sequence and ``sync``; see the module docstring."""

    def __init__(self, *, db: Database, chunks: ChunkStore, seam: Seam) -> None:
        self.db = db
        self.chunks = chunks
        self.seam = seam
        self.pushes_changes = db.pushes_changes

    def wait_for_change(self, timeout: float) -> bool:
        """Block until a commit adds changes (True) or ``timeout`` seconds pass;
        see the module docstring. The feed itself is read with ``changes_since``."""
        return self.db.wait_for_change(timeout)

    @requires()  # changes nothing anyone sees: durability of what was committed
    def sync(self, ctx: RequestContext) -> None:
        """Make everything committed so far durable (fsync on the mount).

        Chunks first (one filesystem flush), then a commit with
        ``synchronous=FULL``, which flushes the WAL and so every commit
        before it.
        """
        self.chunks.sync_all()
        with self.db.write(durable=True) as cur:
            q.set_meta(cur, "last_sync", time.time_ns())

    @owner_only("objfs:ReadChangeFeed")
    def change_seq(self, ctx: RequestContext) -> int:
        with self.db.read() as cur:
            return q.change_seq(cur)

    @owner_only("objfs:ReadChangeFeed")
    def changes_since(
        self, ctx: RequestContext, seq: int, limit: int = 10000
    ) -> tuple[int, list[Change]]:
        """(newest seq returned, the changes after ``seq``, oldest first, at most
        ``limit``); ``ChangeFeedGap`` if ``gc`` forgot some of them."""
        with self.db.read() as cur:
            pruned = q.changes_pruned_through(cur)
            if seq < pruned:
                raise ChangeFeedGap(q.change_seq(cur), pruned)
            rows = q.changes_since(cur, seq, limit)
        changes = [Change(s, b, k.decode("utf-8", "replace")) for s, b, k in rows]
        return (changes[-1].seq if changes else seq), changes
