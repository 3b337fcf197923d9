"""Every SQL statement the store runs, as small functions over a cursor.

The store decides *what* to change (S3 semantics); this module only knows
*how* rows are laid out. Keys are passed as UTF-8 ``bytes`` so that SQLite's
BLOB comparison gives S3's byte order and range scans can seek.

Reference counting invariant (store format 3): ``chunks.refs`` equals the
number of manifest entries of multipart parts naming the chunk, plus, for
every version, the entries it *owns*: all of them when its ``base_seq`` is
NULL, else those it names more often than its base version does (the rule
and its upkeep live in objfs/store/refcount.py). Each transaction applies its
net changes at once (``apply_ref_changes``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from objfs.meta.db import Cursor, is_postgres, meta_in, meta_out
from objfs.meta.rows import (
    DIR_FIELDS,
    BucketConfigRow,
    BucketRow,
    ChangeRow,
    DirTuple,
    DomainRow,
    LeaseRow,
    ManifestRow,
    OldPartRow,
    PartManifestRow,
    PartRow,
    RowCursor,
    UploadRow,
    VersionRow,
)

VERSION_COLUMNS = ", ".join(VersionRow._fields)
_version_row = VersionRow._make

# insert_version's placeholders: every column, then base_seq.
_VERSION_SLOTS = ", ".join("?" * (VERSION_COLUMNS.count(",") + 2))

# Listings never need the manifest (the biggest column) nor the headers record
# (a multipart object's part list): NULL in their place.
_LISTING_COLUMNS = ", ".join(
    "NULL" if c in ("manifest", "headers") else f"v.{c}" for c in VERSION_COLUMNS.split(", ")
)


# -- domains -------------------------------------------------------------


def insert_domain(
    cur: Cursor, domain_id: bytes, kind: str, record: bytes, lookup: bytes | None = None
) -> None:
    cur.execute(
        "INSERT INTO domains(domain_id, kind, record, lookup, created) VALUES (?, ?, ?, ?, ?)",
        (domain_id, kind, record, lookup, time.time_ns()),
    )


def get_domain(cur: Cursor, domain_id: bytes) -> DomainRow | None:
    row = cur.execute(
        "SELECT domain_id, kind, record FROM domains WHERE domain_id = ?", (domain_id,)
    ).fetchone()
    return None if row is None else DomainRow._make(row)


def domain_by_lookup(cur: Cursor, lookup: bytes) -> DomainRow | None:
    row = cur.execute(
        "SELECT domain_id, kind, record FROM domains WHERE lookup = ?", (lookup,)
    ).fetchone()
    return None if row is None else DomainRow._make(row)


def set_meta(cur: Cursor, name: str, value: object) -> None:
    cur.execute(
        "INSERT INTO meta(name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (name, meta_in(cur, value)),
    )


def get_meta(cur: Cursor, name: str) -> Any:
    row = cur.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return None if row is None else meta_out(cur, row[0])


# -- buckets -------------------------------------------------------------

BUCKET_COLUMNS = ", ".join(BucketRow._fields)


def insert_bucket(cur: Cursor, values: Sequence[object]) -> None:
    cur.execute(f"INSERT INTO buckets({BUCKET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)


def get_bucket(cur: Cursor, name: str) -> BucketRow | None:
    row = cur.execute(f"SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = ?", (name,)).fetchone()
    return None if row is None else BucketRow._make(row)


def get_bucket_config(cur: Cursor, name: str) -> BucketConfigRow | None:
    """``get_bucket``'s columns, then ``config`` (what an access check reads)."""
    row = cur.execute(
        f"SELECT {BUCKET_COLUMNS}, config FROM buckets WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else BucketConfigRow._make(row)


def list_buckets(cur: Cursor) -> list[BucketRow]:
    rows = cur.execute(f"SELECT {BUCKET_COLUMNS} FROM buckets ORDER BY name").fetchall()
    return list(map(BucketRow._make, rows))


def update_bucket(cur: Cursor, name: str, **fields: object) -> None:
    assignments = ", ".join(f"{column} = ?" for column in fields)
    cur.execute(f"UPDATE buckets SET {assignments} WHERE name = ?", (*fields.values(), name))


def bucket_has_versions(cur: Cursor, name: str) -> bool:
    return (
        cur.execute("SELECT 1 FROM versions WHERE bucket = ? LIMIT 1", (name,)).fetchone()
        is not None
    )


def delete_bucket(cur: Cursor, name: str) -> None:
    cur.execute("DELETE FROM buckets WHERE name = ?", (name,))


# -- versions ------------------------------------------------------------


def insert_version(
    cur: Cursor, seq: int, values: Sequence[object], base_seq: int | None = None
) -> None:
    """Insert version ``seq`` (the seq of the change its commit added, format
    4: ``add_change``), all other columns but its base, then its base."""
    cur.execute(
        f"INSERT INTO versions({VERSION_COLUMNS}, base_seq) VALUES ({_VERSION_SLOTS})",
        (seq, *values, base_seq),
    )


def get_version(cur: Cursor, bucket: str, key: bytes, version_id: str) -> VersionRow | None:
    row = cur.execute(
        f"SELECT {VERSION_COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND version_id = ?",
        (bucket, key, version_id),
    ).fetchone()
    return None if row is None else _version_row(row)


def get_latest(cur: Cursor, bucket: str, key: bytes) -> VersionRow | None:
    row = cur.execute(
        f"SELECT {VERSION_COLUMNS} FROM versions WHERE seq = "
        "(SELECT seq FROM objects WHERE bucket = ? AND key = ?)",
        (bucket, key),
    ).fetchone()
    return None if row is None else _version_row(row)


def latest_seq(cur: Cursor, bucket: str, key: bytes) -> int | None:
    row = cur.execute(
        "SELECT seq FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
    ).fetchone()
    return None if row is None else int(row[0])


def key_versions(cur: Cursor, bucket: str, key: bytes) -> list[VersionRow]:
    """All versions of one key, newest first."""
    rows = cur.execute(
        f"SELECT {VERSION_COLUMNS} FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC",
        (bucket, key),
    ).fetchall()
    return list(map(_version_row, rows))


def delete_version(cur: Cursor, seq: int) -> None:
    cur.execute("DELETE FROM versions WHERE seq = ?", (seq,))


def set_latest(cur: Cursor, bucket: str, key: bytes, seq: int, delete_marker: int) -> None:
    """Point ``objects`` at the version just inserted (``refresh_latest`` without
    its query: a new row's seq is the key's highest)."""
    cur.execute(
        "INSERT INTO objects(bucket, key, seq, delete_marker) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(bucket, key) DO UPDATE SET seq = excluded.seq, "
        "delete_marker = excluded.delete_marker",
        (bucket, key, seq, delete_marker),
    )


def refresh_latest(cur: Cursor, bucket: str, key: bytes) -> None:
    """Point ``objects`` at the newest remaining version of the key (or drop it)."""
    row = cur.execute(
        "SELECT seq, delete_marker FROM versions WHERE bucket = ? AND key = ? "
        "ORDER BY seq DESC LIMIT 1",
        (bucket, key),
    ).fetchone()
    if row is None:
        cur.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
    else:
        cur.execute(
            "INSERT INTO objects(bucket, key, seq, delete_marker) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(bucket, key) DO UPDATE SET seq = excluded.seq, "
            "delete_marker = excluded.delete_marker",
            (bucket, key, row[0], row[1]),
        )


def drop_latest(cur: Cursor, bucket: str, key: bytes) -> None:
    """The key has no version left (``refresh_latest`` without the look)."""
    cur.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))


def update_version_meta(cur: Cursor, seq: int, **fields: object) -> None:
    assignments = ", ".join(f"{column} = ?" for column in fields)
    cur.execute(f"UPDATE versions SET {assignments} WHERE seq = ?", (*fields.values(), seq))


def all_manifests(cur: Cursor) -> Iterator[ManifestRow]:
    """(bucket, key, version_id, domain_id, manifest, seq) of every version with data."""
    yield from map(
        ManifestRow._make,
        cur.execute(
            "SELECT bucket, key, version_id, domain_id, manifest, seq FROM versions "
            "WHERE delete_marker = 0"
        ),
    )


# -- base versions (format 3: references relative to a base) ---------------


def version_base(cur: Cursor, seq: int) -> int | None:
    """The version ``seq``'s base (None: it counts all its references)."""
    row = cur.execute("SELECT base_seq FROM versions WHERE seq = ?", (seq,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def base_candidate(cur: Cursor, seq: int) -> tuple[bytes | None, bool] | None:
    """(domain_id, is a delete marker) of version ``seq``, None if it is gone."""
    row = cur.execute(
        "SELECT domain_id, delete_marker FROM versions WHERE seq = ?", (seq,)
    ).fetchone()
    return None if row is None else (row[0], bool(row[1]))


def version_manifest(cur: Cursor, seq: int) -> bytes | None:
    row = cur.execute("SELECT manifest FROM versions WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else row[0]


def version_family(cur: Cursor, seq: int) -> tuple[int | None, list[tuple[int, bytes | None]]]:
    """``version_base`` of ``seq`` and (seq, manifest) of the versions whose base
    is ``seq``, in one statement."""
    base: int | None = None
    children: list[tuple[int, bytes | None]] = []
    for child, value, manifest in cur.execute(
        "SELECT 0, base_seq, NULL FROM versions WHERE seq = ? "
        "UNION ALL SELECT 1, seq, manifest FROM versions WHERE base_seq = ?",
        (seq, seq),
    ):
        if child:
            children.append((int(value), manifest))
        elif value is not None:
            base = int(value)
    return base, children


def set_version_base(cur: Cursor, seq: int, base_seq: int | None) -> None:
    cur.execute("UPDATE versions SET base_seq = ? WHERE seq = ?", (base_seq, seq))


def all_bases(cur: Cursor) -> dict[int, int]:
    """seq -> base_seq of every version that has a base."""
    return dict(cur.execute("SELECT seq, base_seq FROM versions WHERE base_seq IS NOT NULL"))


# -- listing -------------------------------------------------------------


def list_latest(
    cur: Cursor,
    bucket: str,
    after: bytes | None,
    upper: bytes | None,
    limit: int,
    *,
    inclusive: bool = False,
) -> list[VersionRow]:
    """Latest non-deleted versions with key in (after, upper), key order."""
    sql = (
        f"SELECT {', '.join('v.' + c for c in VERSION_COLUMNS.split(', '))} "
        "FROM objects o JOIN versions v ON v.seq = o.seq "
        "WHERE o.bucket = ? AND o.delete_marker = 0"
    )
    args: list[object] = [bucket]
    if after is not None:
        sql += " AND o.key >= ?" if inclusive else " AND o.key > ?"
        args.append(after)
    if upper is not None:
        sql += " AND o.key < ?"
        args.append(upper)
    sql += " ORDER BY o.key LIMIT ?"
    args.append(limit)
    return list(map(_version_row, cur.execute(sql, args).fetchall()))


def list_versions(
    cur: Cursor,
    bucket: str,
    after_key: bytes | None,
    after_seq: int | None,
    upper: bytes | None,
    limit: int,
    *,
    inclusive: bool = False,
) -> list[VersionRow]:
    """Versions in (key ASC, seq DESC) order, strictly after (after_key, after_seq).

    ``after_seq`` None means: start after every version of ``after_key``
    (or at ``after_key`` itself when ``inclusive``).
    """
    sql = f"SELECT {VERSION_COLUMNS} FROM versions WHERE bucket = ?"
    args: list[object] = [bucket]
    if after_key is not None:
        if after_seq is None:
            sql += " AND key >= ?" if inclusive else " AND key > ?"
            args.append(after_key)
        else:
            sql += " AND (key > ? OR (key = ? AND seq < ?))"
            args.extend([after_key, after_key, after_seq])
    if upper is not None:
        sql += " AND key < ?"
        args.append(upper)
    sql += " ORDER BY key, seq DESC LIMIT ?"
    args.append(limit)
    return list(map(_version_row, cur.execute(sql, args).fetchall()))


def prefix_has_live_key(
    cur: Cursor, bucket: str, lower: bytes, upper: bytes | None, exclude: bytes | None
) -> bool:
    sql = "SELECT key FROM objects WHERE bucket = ? AND delete_marker = 0 AND key >= ?"
    args: list[object] = [bucket, lower]
    if upper is not None:
        sql += " AND key < ?"
        args.append(upper)
    sql += " ORDER BY key LIMIT 2"
    return any(row[0] != exclude for row in cur.execute(sql, args))


# -- chunks --------------------------------------------------------------


def add_refs(cur: Cursor, domain_id: bytes, refs: Iterable[tuple[bytes, int]]) -> list[bytes]:
    """Add one reference per (chunk_id, length); return ids that had no live row.

    Batched: one multi-row upsert per 500 distinct chunks (a manifest of a big
    file names thousands of chunks, often the same one several times as
    slices), in chunk-id order; RETURNING tells which rows were new or dead
    (their count after the upsert is what this call added), so no separate
    SELECT is needed.
    """
    counts: dict[bytes, list[int]] = {}
    for chunk_id, length in refs:
        entry = counts.get(chunk_id)
        if entry is None:
            counts[chunk_id] = [1, length]
        else:
            entry[0] += 1
    adds = sorted((c, domain_id, n, length) for c, (n, length) in counts.items())
    return _upsert_refs(cur, adds)  # in key order: the upserts walk the index forward


def _upsert_refs(
    cur: Cursor,
    adds: Sequence[tuple[bytes, bytes, int, int]],
    inline_rows: dict[bytes, int] | None = None,
) -> list[bytes]:
    """Add ``delta`` references per ``(chunk_id, domain_id, delta, length)``
    (distinct ids, in id order): one multi-row upsert per 500 chunks.
    RETURNING tells which rows were new or dead (their count afterwards is
    what this call added); returns those ids. ``inline_rows``: chunk id ->
    row of the inline frame just stored for it (``put_inlines``), linked
    here; the ids linked are taken out of the dict."""
    revived: list[bytes] = []
    for i in range(0, len(adds), 500):
        batch = adds[i : i + 500]
        params: list[object] = []
        wanted: dict[bytes, int] = {}
        for chunk_id, domain_id, delta, length in batch:
            row = inline_rows.pop(chunk_id, None) if inline_rows else None
            params += (chunk_id, domain_id, delta, length, row)
            wanted[chunk_id] = delta
        rows = cur.execute(
            "INSERT INTO chunks(chunk_id, domain_id, refs, length, inline_row) VALUES "
            + ",".join(["(?, ?, ?, ?, ?)"] * len(batch))
            + " ON CONFLICT(chunk_id) DO UPDATE SET refs = chunks.refs + excluded.refs,"
            " dead_since = NULL, inline_row = coalesce(chunks.inline_row, excluded.inline_row)"
            " RETURNING chunk_id, refs",
            params,
        ).fetchall()
        revived.extend(chunk_id for chunk_id, now in rows if now == wanted[chunk_id])
    return revived


def apply_ref_changes(
    cur: Cursor,
    changes: Sequence[tuple[bytes, bytes, int, int]],
    inline_rows: dict[bytes, int] | None = None,
) -> list[bytes]:
    """Apply net reference changes ``(chunk_id, domain_id, delta, length)``.

    Additions are one multi-row upsert per 500 chunks (as ``add_refs``);
    removals one UPDATE each, never below 0, stamping ``dead_since`` when a
    count reaches 0. Returns the chunks an addition brought back from no
    live row (the caller checks they still exist). ``inline_rows``: frames
    just stored (``put_inlines``), linked from their chunk rows here.
    """
    adds = sorted((c for c in changes if c[2] > 0), key=lambda c: c[0])
    revived = _upsert_refs(cur, adds, inline_rows)
    if inline_rows:  # frames of chunks whose count did not go up (rare)
        link_inlines(cur, inline_rows)
    drops = sorted((c[0], -c[2]) for c in changes if c[2] < 0)
    if drops:
        now = time.time_ns()
        cur.executemany(
            "UPDATE chunks SET refs = CASE WHEN refs > ?1 THEN refs - ?1 ELSE 0 END, "
            "dead_since = CASE WHEN refs <= ?1 THEN ?2 ELSE dead_since END "
            "WHERE chunk_id = ?3 AND refs > 0",
            [(n, now, chunk_id) for chunk_id, n in drops],
        )
    return revived


def drop_refs(cur: Cursor, chunk_ids: Iterable[bytes]) -> None:
    now = time.time_ns()
    for chunk_id in chunk_ids:
        cur.execute(
            "UPDATE chunks SET refs = refs - 1, "
            "dead_since = CASE WHEN refs = 1 THEN ? ELSE dead_since END "
            "WHERE chunk_id = ? AND refs > 0",
            (now, chunk_id),
        )


def dead_chunks(cur: Cursor, before_ns: int) -> list[bytes]:
    return [
        row[0]
        for row in cur.execute(
            "SELECT chunk_id FROM chunks WHERE refs = 0 AND dead_since <= ?", (before_ns,)
        )
    ]


def forget_chunk(cur: Cursor, chunk_id: bytes) -> None:
    cur.execute(
        "DELETE FROM inline_chunks WHERE rowid = "
        "(SELECT inline_row FROM chunks WHERE chunk_id = ?)",
        (chunk_id,),
    )
    cur.execute("DELETE FROM chunks WHERE chunk_id = ?", (chunk_id,))


def put_inlines(cur: Cursor, frames: Iterable[tuple[bytes, bytes]]) -> dict[bytes, int]:
    """Store small chunks' sealed frames, but for chunks that have one already
    (a dedup hit keeps the existing one); returns chunk id -> row of each frame
    stored, which the caller links from its chunk row in the same transaction
    (``apply_ref_changes``; format 4: a frame is found through its chunk row)."""
    stored: dict[bytes, int] = {}
    # ON CONFLICT: a SQLite store upgraded from format 3 keeps its unique
    # index on chunk_id; a frame there that no chunk row names (none should
    # be) is taken over rather than failing the commit. PostgreSQL stores
    # never had that index (nor an ON CONFLICT without a target).
    sql = (
        "INSERT INTO inline_chunks(chunk_id, frame) SELECT ?1, ?2 WHERE NOT EXISTS "
        "(SELECT 1 FROM chunks WHERE chunk_id = ?1 AND inline_row IS NOT NULL) "
        + ("" if is_postgres(cur) else "ON CONFLICT DO UPDATE SET frame = excluded.frame ")
        + "RETURNING rowid"
    )
    for chunk_id, frame in frames:
        row = cur.execute(sql, (chunk_id, frame)).fetchone()
        if row is not None:
            stored[chunk_id] = row[0]
    return stored


def link_inlines(cur: Cursor, rows: dict[bytes, int]) -> None:
    """Point chunk rows without a frame at the frames ``rows`` names."""
    cur.executemany(
        "UPDATE chunks SET inline_row = ? WHERE chunk_id = ? AND inline_row IS NULL",
        [(row, chunk_id) for chunk_id, row in rows.items()],
    )


def get_inline(cur: Cursor, chunk_id: bytes) -> bytes | None:
    row = cur.execute(
        "SELECT i.frame FROM chunks c JOIN inline_chunks i ON i.rowid = c.inline_row "
        "WHERE c.chunk_id = ?",
        (chunk_id,),
    ).fetchone()
    return None if row is None else row[0]


def unlinked_inlines(cur: Cursor) -> list[tuple[int, bytes, bool]]:
    """(row, chunk id, its chunk row exists without a frame) of every frame its
    chunk row does not point at."""
    return cur.execute(
        "SELECT i.rowid, i.chunk_id, c.chunk_id IS NOT NULL AND c.inline_row IS NULL "
        "FROM inline_chunks i LEFT JOIN chunks c ON c.chunk_id = i.chunk_id "
        "WHERE c.inline_row IS DISTINCT FROM i.rowid ORDER BY i.rowid"
    ).fetchall()


def drop_inline_row(cur: Cursor, row: int) -> None:
    cur.execute("DELETE FROM inline_chunks WHERE rowid = ?", (row,))


def version_seq_top(cur: Cursor) -> tuple[int, int]:
    """(highest version seq, highest change seq so far): format 4 wants the
    first <= the second. A store made before format 4 numbers changes with
    AUTOINCREMENT: its sequence counts too (the upgrade may have moved it)."""
    changes = cur.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0]
    if (
        not is_postgres(cur)
        and cur.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
        ).fetchone()
    ):
        row = cur.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
        if row is not None:
            changes = max(changes, row[0])
    return cur.execute("SELECT COALESCE(MAX(seq), 0) FROM versions").fetchone()[0], changes


def chunk_rows(cur: Cursor) -> dict[bytes, tuple[bytes, int, int]]:
    """chunk_id -> (domain_id, refs, length)."""
    return {
        row[0]: (row[1], row[2], row[3])
        for row in cur.execute("SELECT chunk_id, domain_id, refs, length FROM chunks")
    }


def chunk_known(cur: Cursor, chunk_id: bytes) -> bool:
    return (
        cur.execute("SELECT 1 FROM chunks WHERE chunk_id = ?", (chunk_id,)).fetchone() is not None
    )


def set_refs(cur: Cursor, chunk_id: bytes, domain_id: bytes, refs: int, length: int) -> None:
    cur.execute(
        "INSERT INTO chunks(chunk_id, domain_id, refs, length, dead_since) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(chunk_id) DO UPDATE SET refs = excluded.refs, "
        "dead_since = excluded.dead_since",
        (chunk_id, domain_id, refs, length, None if refs else time.time_ns()),
    )


# -- multipart -----------------------------------------------------------

UPLOAD_COLUMNS = ", ".join(UploadRow._fields)


def insert_upload(cur: Cursor, values: Sequence[object]) -> None:
    cur.execute(
        f"INSERT INTO uploads({UPLOAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values
    )


def get_upload(cur: Cursor, upload_id: str) -> UploadRow | None:
    row = cur.execute(
        f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ?", (upload_id,)
    ).fetchone()
    return None if row is None else UploadRow._make(row)


def list_uploads(cur: Cursor, bucket: str, lower: bytes, upper: bytes | None) -> list[UploadRow]:
    sql = f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE bucket = ? AND key >= ?"
    args: list[object] = [bucket, lower]
    if upper is not None:
        sql += " AND key < ?"
        args.append(upper)
    return list(map(UploadRow._make, cur.execute(sql + " ORDER BY key, created", args)))


def delete_upload(cur: Cursor, upload_id: str) -> None:
    cur.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
    cur.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))


def put_part(cur: Cursor, values: Sequence[object]) -> OldPartRow | None:
    """Insert or replace a part; returns the replaced part's row (for its refs)."""
    old = cur.execute(
        "SELECT manifest FROM parts WHERE upload_id = ? AND part_number = ?", values[:2]
    ).fetchone()
    cur.execute(
        "INSERT INTO parts(upload_id, part_number, etag, size, created, manifest, checksum) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(upload_id, part_number) DO UPDATE SET "
        "etag = excluded.etag, size = excluded.size, created = excluded.created, "
        "manifest = excluded.manifest, checksum = excluded.checksum",
        values,
    )
    return None if old is None else OldPartRow._make(old)


def list_parts(cur: Cursor, upload_id: str) -> list[PartRow]:
    rows = cur.execute(
        "SELECT part_number, etag, size, created, manifest, checksum FROM parts "
        "WHERE upload_id = ? ORDER BY part_number",
        (upload_id,),
    ).fetchall()
    return list(map(PartRow._make, rows))


def all_part_manifests(cur: Cursor) -> Iterator[PartManifestRow]:
    """(bucket, key, upload_id, domain_id, manifest, part_number) of every part."""
    yield from map(
        PartManifestRow._make,
        cur.execute(
            "SELECT u.bucket, u.key, u.upload_id, u.domain_id, p.manifest, p.part_number "
            "FROM parts p JOIN uploads u ON u.upload_id = p.upload_id"
        ),
    )


def part_manifest(cur: Cursor, upload_id: str, part_number: int) -> bytes | None:
    row = cur.execute(
        "SELECT manifest FROM parts WHERE upload_id = ? AND part_number = ?",
        (upload_id, part_number),
    ).fetchone()
    return None if row is None else row[0]


# -- changes -------------------------------------------------------------


def add_change(cur: Cursor, bucket: str, key: bytes) -> int:
    """Add a row to the change feed; returns its seq (a new version's seq, format 4).

    SQLite numbers it as its rowid (or AUTOINCREMENT on a store upgraded from
    before format 4). PostgreSQL: the highest seq plus one, handed out under
    the store's write lock (objfs/meta/pg.py), so seq order is commit order
    and a feed reader never skips a change that commits late."""
    if is_postgres(cur):
        row = cur.execute(
            "INSERT INTO changes(seq, bucket, key) SELECT COALESCE(MAX(seq), 0) + 1, ?, ? "
            "FROM changes RETURNING seq",
            (bucket, key),
        ).fetchone()
        return int(row[0])
    done = cur.execute("INSERT INTO changes(bucket, key) VALUES (?, ?)", (bucket, key))
    return int(done.lastrowid or 0)


def add_change_at(cur: Cursor, seq: int, bucket: str, key: bytes) -> None:
    """A change row at ``seq`` (fsck: move the sequence past the newest version)."""
    cur.execute("INSERT INTO changes(seq, bucket, key) VALUES (?, ?, ?)", (seq, bucket, key))


def changes_since(cur: Cursor, seq: int, limit: int) -> list[ChangeRow]:
    rows = cur.execute(
        "SELECT seq, bucket, key FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
    ).fetchall()
    return list(map(ChangeRow._make, rows))


def change_seq(cur: Cursor) -> int:
    row = cur.execute("SELECT MAX(seq) FROM changes").fetchone()
    return int(row[0] or 0)


def prune_changes(cur: Cursor, keep: int, batch: int) -> tuple[int, bool]:
    """Forget the oldest changes, at most ``batch`` seqs' worth, keeping the
    newest ``keep`` (at least the newest: it holds the sequence versions are
    numbered from, format 4); returns (rows forgotten, whether that was all).

    Records the newest seq forgotten (``changes_pruned_through``): a reader
    of the feed from before it has missed changes (``changes_since``)."""
    target = change_seq(cur) - max(1, keep)
    done = changes_pruned_through(cur)
    if target <= done:
        return 0, True
    row = cur.execute("SELECT MIN(seq) FROM changes").fetchone()
    through = min(target, max(done, int(row[0] or 0)) + batch - 1)
    gone = cur.execute("DELETE FROM changes WHERE seq <= ?", (through,)).rowcount
    set_meta(cur, "changes_pruned_through", through)
    return int(gone), through >= target


def changes_pruned_through(cur: Cursor) -> int:
    """The newest change seq ``prune_changes`` forgot (0: none)."""
    return int(get_meta(cur, "changes_pruned_through") or 0)


def scan_latest(
    cur: Cursor, bucket: str, cursor: bytes, inclusive: bool, upper: bytes | None
) -> RowCursor[VersionRow]:
    """Live latest versions from ``cursor`` on, in key order, read lazily.

    Runs on a cursor of its own (the caller's stays usable); stop reading
    and close it when done: seeking past a folded prefix costs one probe.
    """
    own = cur.connection.cursor()
    own.row_factory = _version_factory
    return own.execute(*_latest_range_sql(bucket, cursor, inclusive, upper))


def _version_factory(_cur: Cursor, row: tuple[Any, ...]) -> VersionRow:
    return _version_row(row)


def _latest_range_sql(
    bucket: str,
    cursor: bytes,
    inclusive: bool,
    upper: bytes | None,
    columns: str = _LISTING_COLUMNS,
) -> tuple[str, list[object]]:
    sql = (
        f"SELECT {columns} "
        "FROM objects o JOIN versions v ON v.seq = o.seq "
        f"WHERE o.bucket = ? AND o.delete_marker = 0 AND o.key {'>=' if inclusive else '>'} ?"
    )
    args: list[object] = [bucket, cursor]
    if upper is not None:
        sql += " AND o.key < ?"
        args.append(upper)
    return sql + " ORDER BY o.key", args


# What a directory listing of the mount needs of each key, no more.
_DIR_COLUMNS = ", ".join(("o." if c == "key" else "v.") + c for c in DIR_FIELDS)


def scan_latest_brief(
    cur: Cursor, bucket: str, cursor: bytes, inclusive: bool, upper: bytes | None
) -> RowCursor[DirTuple]:
    """``scan_latest`` with the columns of ``DIR_FIELDS`` only (its own cursor;
    plain tuples, see ``objfs/meta/rows.py``)."""
    return cur.connection.execute(
        *_latest_range_sql(bucket, cursor, inclusive, upper, _DIR_COLUMNS)
    )


def first_folded_key(
    cur: Cursor, bucket: str, start: bytes, upper: bytes | None, skip: int, delim: bytes
) -> bytes | None:
    """The first live latest key in [start, upper) with ``delim`` after its first ``skip``
    bytes (the first key of a sub-directory), read from the ``objects_live`` index alone."""
    sql = (
        "SELECT key FROM objects WHERE bucket = ? AND delete_marker = 0 AND key >= ?"
        + (" AND key < ?" if upper is not None else "")
        + " AND instr(substr(key, ?), ?) > 0 ORDER BY key LIMIT 1"
    )
    args: list[object] = (
        [bucket, start] + ([upper] if upper is not None else []) + [skip + 1, delim]
    )
    row = cur.execute(sql, args).fetchone()
    return None if row is None else row[0]


def newest_latest(cur: Cursor, bucket: str, start: bytes, upper: bytes | None) -> int | None:
    """The newest last-modified time of the live latest keys in [start, upper)."""
    sql = (
        "SELECT max(v.created) FROM objects o JOIN versions v ON v.seq = o.seq "
        "WHERE o.bucket = ? AND o.delete_marker = 0 AND o.key >= ?"
        + (" AND o.key < ?" if upper is not None else "")
    )
    args: list[object] = [bucket, start]
    if upper is not None:
        args.append(upper)
    return cur.execute(sql, args).fetchone()[0]


def stale_latest(cur: Cursor) -> list[tuple[str, bytes]]:
    """Keys whose ``objects`` row does not name their newest version (or is missing)."""
    rows = cur.execute(
        "SELECT v.bucket, v.key FROM versions v "
        "LEFT JOIN objects o ON o.bucket = v.bucket AND o.key = v.key "
        "GROUP BY v.bucket, v.key "
        "HAVING MAX(v.seq) != COALESCE(MAX(o.seq), -1)"
    ).fetchall()
    orphans = cur.execute(
        "SELECT o.bucket, o.key FROM objects o LEFT JOIN versions v ON v.seq = o.seq "
        "WHERE v.seq IS NULL"
    ).fetchall()
    return [(b, k) for b, k in rows + orphans]


def version_sizes(cur: Cursor) -> dict[tuple[str, bytes, str], int]:
    """(bucket, key, version_id) -> size of every version that holds data."""
    return {
        (b, k, v): size
        for b, k, v, size in cur.execute(
            "SELECT bucket, key, version_id, size FROM versions WHERE delete_marker = 0"
        )
    }


# -- writer leases ---------------------------------------------------------


def put_lease(cur: Cursor, lease_id: str, holder: str, since_ns: int, expires_ns: int) -> None:
    cur.execute(
        "INSERT INTO leases(lease_id, holder, since, expires) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(lease_id) DO UPDATE SET since = excluded.since, expires = excluded.expires",
        (lease_id, holder, since_ns, expires_ns),
    )


def drop_lease(cur: Cursor, lease_id: str) -> None:
    cur.execute("DELETE FROM leases WHERE lease_id = ?", (lease_id,))


def drop_expired_leases(cur: Cursor, now_ns: int) -> int:
    return cur.execute("DELETE FROM leases WHERE expires <= ?", (now_ns,)).rowcount


def list_leases(cur: Cursor) -> list[LeaseRow]:
    rows = cur.execute("SELECT lease_id, holder, since, expires FROM leases ORDER BY since")
    return list(map(LeaseRow._make, rows))


def version_seq_exists(cur: Cursor, seq: int) -> bool:
    """Whether the version row ``seq`` still exists (seqs are never reused)."""
    return cur.execute("SELECT 1 FROM versions WHERE seq = ?", (seq,)).fetchone() is not None
