"""Every SQL statement of the local KMS, as small functions over a cursor.

The tables are defined in ``objfs/meta/db.py``'s ``SCHEMA`` (the part after the
``-- SSE-KMS`` marker, all ``IF NOT EXISTS``); ``ensure_schema`` runs that part
on stores created before the KMS existed. The store's KMS module decides
*what* changes; this module only knows how rows are laid out.

Invariants: a key row is never deleted (a deleted key stays as a ``Deleted``
tombstone so audit entries keep naming it); its materials, aliases and
domain mappings are; material records are sealed, never clear.
"""

from __future__ import annotations

from collections.abc import Sequence

from objfs.meta.db import (
    SCHEMA,
    Cursor,
    Database,
    count_tables,
    is_postgres,
    meta_in,
    meta_out,
    run_ddl,
)
from objfs.meta.rows import AuditRow, KmsKeyRow, MaterialRow

KMS_SCHEMA_MARKER = "-- SSE-KMS"
KEY_COLUMNS = ", ".join(KmsKeyRow._fields)
AUDIT_COLUMNS = ", ".join(AuditRow._fields)


# -- schema --------------------------------------------------------------


def has_schema(cur: Cursor) -> bool:
    return count_tables(cur, ("kms_audit",)) == 1


def ensure_schema(cur: Cursor) -> None:
    """Create the KMS tables if this store predates them (idempotent)."""
    run_ddl(cur, SCHEMA[SCHEMA.index(KMS_SCHEMA_MARKER) :])


# -- keys ----------------------------------------------------------------


def insert_key(cur: Cursor, values: Sequence[object]) -> None:
    cur.execute(f"INSERT INTO kms_keys({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", values)


def get_key(cur: Cursor, key_id: str) -> KmsKeyRow | None:
    row = cur.execute(f"SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id = ?", (key_id,)).fetchone()
    return None if row is None else KmsKeyRow._make(row)


def list_keys(cur: Cursor) -> list[KmsKeyRow]:
    rows = cur.execute(
        f"SELECT {KEY_COLUMNS} FROM kms_keys WHERE state != 'Deleted' ORDER BY created, key_id"
    ).fetchall()
    return list(map(KmsKeyRow._make, rows))


def update_key(cur: Cursor, key_id: str, **fields: object) -> None:
    assignments = ", ".join(f"{column} = ?" for column in fields)
    cur.execute(f"UPDATE kms_keys SET {assignments} WHERE key_id = ?", (*fields.values(), key_id))


def expired_keys(cur: Cursor, now_ns: int) -> list[str]:
    """Keys pending deletion whose waiting period has ended."""
    return [
        row[0]
        for row in cur.execute(
            "SELECT key_id FROM kms_keys WHERE state = 'PendingDeletion' AND deletion <= ?",
            (now_ns,),
        )
    ]


# -- materials -------------------------------------------------------------


def insert_material(
    cur: Cursor, key_id: str, version: int, created: int, seal_id: bytes, record: bytes
) -> None:
    cur.execute(
        "INSERT INTO kms_materials(key_id, version, created, seal_id, record) "
        "VALUES (?, ?, ?, ?, ?)",
        (key_id, version, created, seal_id, record),
    )


def get_material(cur: Cursor, key_id: str, version: int) -> MaterialRow | None:
    """(seal_id, record) of one material version."""
    row = cur.execute(
        "SELECT seal_id, record FROM kms_materials WHERE key_id = ? AND version = ?",
        (key_id, version),
    ).fetchone()
    return None if row is None else MaterialRow._make(row)


def material_count(cur: Cursor, key_id: str) -> int:
    row = cur.execute("SELECT COUNT(*) FROM kms_materials WHERE key_id = ?", (key_id,)).fetchone()
    return int(row[0])


def destroy_key_material(cur: Cursor, key_id: str) -> None:
    """Delete a key's materials, aliases and domain mappings, overwriting the freed
    pages (``secure_delete``) so the sealed material does not linger in meta.db.
    PostgreSQL: plain deletes (the rows' space is the server's to reclaim; the
    material is sealed under the master key, which never reaches it)."""
    if is_postgres(cur):
        cur.execute("DELETE FROM kms_materials WHERE key_id = ?", (key_id,))
        cur.execute("DELETE FROM kms_aliases WHERE key_id = ?", (key_id,))
        cur.execute("DELETE FROM kms_domains WHERE key_id = ?", (key_id,))
        return
    cur.execute("PRAGMA secure_delete = ON")
    try:
        cur.execute("DELETE FROM kms_materials WHERE key_id = ?", (key_id,))
        cur.execute("DELETE FROM kms_aliases WHERE key_id = ?", (key_id,))
        cur.execute("DELETE FROM kms_domains WHERE key_id = ?", (key_id,))
    finally:
        cur.execute("PRAGMA secure_delete = OFF")


def checkpoint_truncate(db: Database) -> None:
    """Fold the WAL into meta.db and truncate it: old page images (which may hold
    destroyed material) leave the WAL file. Best effort when readers are active
    (nothing to do on PostgreSQL: ``Database.checkpoint_truncate``)."""
    db.checkpoint_truncate()


# -- aliases ---------------------------------------------------------------


def get_alias(cur: Cursor, alias: str) -> str | None:
    row = cur.execute("SELECT key_id FROM kms_aliases WHERE alias = ?", (alias,)).fetchone()
    return None if row is None else str(row[0])


def insert_alias(cur: Cursor, alias: str, key_id: str) -> None:
    cur.execute("INSERT INTO kms_aliases(alias, key_id) VALUES (?, ?)", (alias, key_id))


def delete_alias(cur: Cursor, alias: str) -> None:
    cur.execute("DELETE FROM kms_aliases WHERE alias = ?", (alias,))


def aliases_of(cur: Cursor, key_id: str) -> tuple[str, ...]:
    return tuple(
        row[0]
        for row in cur.execute(
            "SELECT alias FROM kms_aliases WHERE key_id = ? ORDER BY alias", (key_id,)
        )
    )


# -- domains ---------------------------------------------------------------


def get_kms_domain(cur: Cursor, key_id: str, version: int) -> bytes | None:
    row = cur.execute(
        "SELECT domain_id FROM kms_domains WHERE key_id = ? AND version = ?", (key_id, version)
    ).fetchone()
    return None if row is None else bytes(row[0])


def insert_kms_domain(cur: Cursor, key_id: str, version: int, domain_id: bytes) -> None:
    cur.execute(
        "INSERT INTO kms_domains(key_id, version, domain_id) VALUES (?, ?, ?)",
        (key_id, version, domain_id),
    )


# -- audit -----------------------------------------------------------------


def add_audit(cur: Cursor, values: Sequence[object]) -> None:
    """values: time, principal, interface, operation, key_id, bucket, key, version, error."""
    cur.execute(
        f"INSERT INTO kms_audit({AUDIT_COLUMNS.split(', ', 1)[1]}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        values,
    )


def audit_entries(cur: Cursor, key_id: str | None, limit: int) -> list[AuditRow]:
    """The newest ``limit`` entries (of one key, or all), oldest first."""
    if key_id is None:
        rows = cur.execute(
            f"SELECT {AUDIT_COLUMNS} FROM kms_audit ORDER BY seq DESC LIMIT ?", (limit,)
        ).fetchall()
    else:
        rows = cur.execute(
            f"SELECT {AUDIT_COLUMNS} FROM kms_audit WHERE key_id = ? ORDER BY seq DESC LIMIT ?",
            (key_id, limit),
        ).fetchall()
    rows.reverse()
    return list(map(AuditRow._make, rows))


def prune_audit(cur: Cursor, before_ns: int) -> int:
    cur.execute("DELETE FROM kms_audit WHERE time < ?", (before_ns,))
    return int(cur.rowcount)


# -- store meta ------------------------------------------------------------


def get_default_key(cur: Cursor) -> str | None:
    row = cur.execute("SELECT value FROM meta WHERE name = 'kms_default_key'").fetchone()
    return None if row is None else str(meta_out(cur, row[0]))


def set_default_key(cur: Cursor, key_id: str) -> None:
    cur.execute(
        "INSERT INTO meta(name, value) VALUES ('kms_default_key', ?) "
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (meta_in(cur, key_id),),
    )
