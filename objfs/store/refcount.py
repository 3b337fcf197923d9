"""Chunk reference counts when versions are edits of other versions (format 3).

A version made by editing another one (the mount's writer on a base
version, a copy or rename of a version) names almost the same chunks as
its *base*. Counting every entry of its manifest again made a commit cost
the whole file (3-4k references for a fragmented 1 GiB file); instead a
version records ``base_seq`` and **owns** only what it adds:

    own(V)[c] = count_V[c] - count_base(V)[c]   where positive (all of count_V
                                                without a base)
    chunks.refs[c] = sum of own(V)[c] over versions V + entries of parts naming c

Invariants (checked and repaired by fsck):

- a version's base is a live version (not a delete marker) of the same
  encryption domain and older than it (so there are no cycles);
- hence every chunk a version names is counted at least once: either the
  version owns a reference or its base names it as often, and so on down
  the chain to a version without a base, which owns all it names.

Deleting a version V (a delete by version id, a replaced "null" version,
an unversioned delete, a rename's source) keeps the invariants by
*rebasing* V's children onto V's own base B (or onto none):
``own'(M) = count_M - count_B`` replaces ``count_M - count_V``; then V's own
references go. The changes of one transaction are netted per chunk and
applied at once, so the SQL work of a commit is proportional to the edit
(the chunks it adds), and a delete writes only the counts that change; the
manifests are decoded and compared in memory (O(file) Python, no SQL).

Space: nothing is kept longer than with full counting: a deleted
version's references leave with it (its children took what they name).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgpack

from objfs.meta import queries as q
from objfs.meta.db import Cursor
from objfs.store.types import ChunkRef

Counts = dict[bytes, int]


class Tally:
    """Chunk counts of one manifest, and a length for each chunk (for new rows)."""

    __slots__ = ("counts", "lengths")

    def __init__(self, counts: Counts, lengths: dict[bytes, int]) -> None:
        self.counts = counts
        self.lengths = lengths


EMPTY = Tally({}, {})


def tally_refs(refs: Iterable[ChunkRef]) -> Tally:
    counts: Counts = {}
    lengths: dict[bytes, int] = {}
    for ref in refs:
        cid = ref.chunk_id
        if cid is None:
            continue
        n = counts.get(cid)
        if n is None:
            counts[cid] = 1
            lengths[cid] = ref.length
        else:
            counts[cid] = n + 1
    return Tally(counts, lengths)


def tally_blob(blob: bytes | None) -> Tally:
    """``tally_refs`` of a packed manifest, without building ChunkRefs."""
    if not blob:
        return EMPTY
    counts: Counts = {}
    lengths: dict[bytes, int] = {}
    for entry in msgpack.unpackb(blob, raw=False):
        cid = entry[0]
        if cid is None:
            continue
        n = counts.get(cid)
        if n is None:
            counts[cid] = 1
            lengths[cid] = entry[1]
        else:
            counts[cid] = n + 1
    return Tally(counts, lengths)


def owned(version: Tally, base: Tally | None) -> Counts:
    """The references a version owns over its base (all of them without one)."""
    if base is None:
        return version.counts
    theirs = base.counts
    out: Counts = {}
    for cid, n in version.counts.items():
        extra = n - theirs.get(cid, 0)
        if extra > 0:
            out[cid] = extra
    return out


class RefChanges:
    """Net chunk reference changes of one transaction, applied at once."""

    def __init__(self) -> None:
        self.delta: Counts = {}
        self.domain: dict[bytes, bytes] = {}
        self.lengths: dict[bytes, int] = {}

    def add(self, counts: Counts, tally: Tally, domain_id: bytes | None, sign: int = 1) -> None:
        delta = self.delta
        for cid, n in counts.items():
            delta[cid] = delta.get(cid, 0) + sign * n
            if cid not in self.lengths:
                self.lengths[cid] = tally.lengths.get(cid, 0)
                if domain_id is not None:
                    self.domain[cid] = domain_id

    def apply(self, cur: Cursor, inline_rows: dict[bytes, int] | None = None) -> list[bytes]:
        """Write the nonzero changes; returns chunks an addition revived.
        ``inline_rows``: frames just stored (``q.put_inlines``), linked from
        their chunk rows with the changes."""
        rows = [
            (cid, self.domain.get(cid, b""), d, self.lengths.get(cid, 0))
            for cid, d in self.delta.items()
            if d
        ]
        self.delta = {}
        if not rows:
            if inline_rows:
                q.link_inlines(cur, inline_rows)
            return []
        return q.apply_ref_changes(cur, rows, inline_rows)


def tally_of(cur: Cursor, seq: int | None, cache: dict[int, Tally] | None = None) -> Tally | None:
    """The tally of version ``seq``'s manifest (None for no version)."""
    if seq is None:
        return None
    if cache is not None and seq in cache:
        return cache[seq]
    tally = tally_blob(q.version_manifest(cur, seq))
    if cache is not None:
        cache[seq] = tally
    return tally


def drop_version(
    cur: Cursor, seq: int, blob: bytes | None, domain_id: bytes | None, changes: RefChanges
) -> None:
    """Record the reference changes of deleting version ``seq`` (not a delete
    marker) and rebase its children onto its base; the caller deletes the row."""
    mine = tally_blob(blob)
    base_seq, children = q.version_family(cur, seq)
    cache: dict[int, Tally] = {}
    base = tally_of(cur, base_seq, cache)
    changes.add(owned(mine, base), mine, domain_id, -1)
    for child_seq, child_blob in children:
        child = tally_blob(child_blob)
        changes.add(owned(child, mine), child, domain_id, -1)
        changes.add(owned(child, base), child, domain_id, +1)
        q.set_version_base(cur, child_seq, base_seq)
