"""Every SQL statement of access control, as small functions over a cursor.

Tables (created by ``ensure_schema`` on stores made before they existed, so
all are ``IF NOT EXISTS``):

- ``users``: one row per user (name, canonical id, display name);
- ``access_keys``: up to two per user; the secret is sealed under the
  master key (SigV4 needs it back), never stored in clear;
- ``user_policies``: named identity policies, JSON text as validated;
- ``object_acls``: an object version's owner and ACL, only where they differ
  from the default (owned by the bucket owner, ``private``);
- ``mfa_devices``: TOTP devices, the seed sealed, with the last step used so
  a code is never accepted twice.

Bucket policy and ACL live in the ``buckets.config`` msgpack column
(``objfs/meta/queries.py``). The store's access module decides *what*
changes; this module only knows how rows are laid out.
"""

from __future__ import annotations

from objfs.meta.db import Cursor, count_tables, run_ddl
from objfs.meta.rows import AccessKeyRow, BucketAccessRow, MfaDeviceRow, ObjectAclRow, UserRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    canonical_id TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS access_keys (
    key_id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    secret BLOB NOT NULL,        -- sealed under the master key
    status TEXT NOT NULL,        -- Active, Inactive
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS access_keys_user ON access_keys(user_name);
CREATE TABLE IF NOT EXISTS user_policies (
    user_name TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (user_name, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS object_acls (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    version_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    acl BLOB,                    -- msgpack grants, NULL for private
    PRIMARY KEY (bucket, key, version_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mfa_devices (
    serial TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    secret BLOB NOT NULL,        -- sealed under the master key
    last_step INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
);
"""


def has_schema(cur: Cursor) -> bool:
    tables = ("users", "access_keys", "user_policies", "object_acls", "mfa_devices")
    return count_tables(cur, tables) == len(tables)


def ensure_schema(cur: Cursor) -> None:
    run_ddl(cur, SCHEMA)


# -- users ---------------------------------------------------------------------

USER_COLUMNS = ", ".join(UserRow._fields)


def insert_user(cur: Cursor, name: str, canonical_id: str, display: str, now: int) -> None:
    cur.execute(
        f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?)",
        (name, canonical_id, display, now),
    )


def get_user(cur: Cursor, name: str) -> UserRow | None:
    row = cur.execute(f"SELECT {USER_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
    return None if row is None else UserRow._make(row)


def user_by_canonical_id(cur: Cursor, canonical_id: str) -> UserRow | None:
    row = cur.execute(
        f"SELECT {USER_COLUMNS} FROM users WHERE canonical_id = ?", (canonical_id,)
    ).fetchone()
    return None if row is None else UserRow._make(row)


def list_users(cur: Cursor) -> list[UserRow]:
    rows = cur.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY name").fetchall()
    return list(map(UserRow._make, rows))


def delete_user(cur: Cursor, name: str) -> None:
    cur.execute("DELETE FROM access_keys WHERE user_name = ?", (name,))
    cur.execute("DELETE FROM user_policies WHERE user_name = ?", (name,))
    cur.execute("DELETE FROM users WHERE name = ?", (name,))


def buckets_owned_by(cur: Cursor, name: str) -> list[str]:
    return [r[0] for r in cur.execute("SELECT name FROM buckets WHERE owner = ?", (name,))]


# -- access keys ---------------------------------------------------------------

KEY_COLUMNS = ", ".join(AccessKeyRow._fields)


def insert_access_key(cur: Cursor, key_id: str, user: str, sealed: bytes, now: int) -> None:
    cur.execute(
        f"INSERT INTO access_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, 'Active', ?)",
        (key_id, user, sealed, now),
    )


def get_access_key(cur: Cursor, key_id: str) -> AccessKeyRow | None:
    row = cur.execute(
        f"SELECT {KEY_COLUMNS} FROM access_keys WHERE key_id = ?", (key_id,)
    ).fetchone()
    return None if row is None else AccessKeyRow._make(row)


def list_access_keys(cur: Cursor, user: str) -> list[AccessKeyRow]:
    rows = cur.execute(
        f"SELECT {KEY_COLUMNS} FROM access_keys WHERE user_name = ? ORDER BY created, key_id",
        (user,),
    ).fetchall()
    return list(map(AccessKeyRow._make, rows))


def set_access_key_status(cur: Cursor, key_id: str, status: str) -> None:
    cur.execute("UPDATE access_keys SET status = ? WHERE key_id = ?", (status, key_id))


def delete_access_key(cur: Cursor, key_id: str) -> None:
    cur.execute("DELETE FROM access_keys WHERE key_id = ?", (key_id,))


# -- identity policies -----------------------------------------------------------


def put_user_policy(cur: Cursor, user: str, name: str, document: str) -> None:
    cur.execute(
        "INSERT INTO user_policies (user_name, name, document) VALUES (?, ?, ?) "
        "ON CONFLICT (user_name, name) DO UPDATE SET document = excluded.document",
        (user, name, document),
    )


def get_user_policy(cur: Cursor, user: str, name: str) -> str | None:
    row = cur.execute(
        "SELECT document FROM user_policies WHERE user_name = ? AND name = ?", (user, name)
    ).fetchone()
    return None if row is None else row[0]


def list_user_policies(cur: Cursor, user: str) -> list[tuple[str, str]]:
    return cur.execute(
        "SELECT name, document FROM user_policies WHERE user_name = ? ORDER BY name", (user,)
    ).fetchall()


def delete_user_policy(cur: Cursor, user: str, name: str) -> int:
    return cur.execute(
        "DELETE FROM user_policies WHERE user_name = ? AND name = ?", (user, name)
    ).rowcount


# -- bucket configuration (the msgpack ``buckets.config`` column) -----------------


def get_bucket_config(cur: Cursor, bucket: str) -> bytes | None:
    row = cur.execute("SELECT config FROM buckets WHERE name = ?", (bucket,)).fetchone()
    return None if row is None else row[0]


def set_bucket_config(cur: Cursor, bucket: str, config: bytes | None) -> None:
    cur.execute("UPDATE buckets SET config = ? WHERE name = ?", (config, bucket))


# -- object owners and ACLs -------------------------------------------------------


def get_object_acl(cur: Cursor, bucket: str, key: bytes, version_id: str) -> ObjectAclRow | None:
    row = cur.execute(
        "SELECT owner, acl FROM object_acls WHERE bucket = ? AND key = ? AND version_id = ?",
        (bucket, key, version_id),
    ).fetchone()
    return None if row is None else ObjectAclRow._make(row)


def put_object_acl(
    cur: Cursor, bucket: str, key: bytes, version_id: str, owner: str, acl: bytes | None
) -> None:
    cur.execute(
        "INSERT INTO object_acls (bucket, key, version_id, owner, acl) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (bucket, key, version_id) DO UPDATE SET owner = excluded.owner, "
        "acl = excluded.acl",
        (bucket, key, version_id, owner, acl),
    )


def delete_object_acl(cur: Cursor, bucket: str, key: bytes, version_id: str) -> None:
    cur.execute(
        "DELETE FROM object_acls WHERE bucket = ? AND key = ? AND version_id = ?",
        (bucket, key, version_id),
    )


# -- MFA devices --------------------------------------------------------------------


def insert_mfa_device(cur: Cursor, serial: str, principal: str, sealed: bytes, now: int) -> None:
    cur.execute(
        "INSERT INTO mfa_devices (serial, principal, secret, last_step, created) "
        "VALUES (?, ?, ?, 0, ?)",
        (serial, principal, sealed, now),
    )


MFA_COLUMNS = ", ".join(MfaDeviceRow._fields)


def get_mfa_device(cur: Cursor, serial: str) -> MfaDeviceRow | None:
    row = cur.execute(
        f"SELECT {MFA_COLUMNS} FROM mfa_devices WHERE serial = ?", (serial,)
    ).fetchone()
    return None if row is None else MfaDeviceRow._make(row)


def set_mfa_last_step(cur: Cursor, serial: str, step: int) -> None:
    cur.execute("UPDATE mfa_devices SET last_step = ? WHERE serial = ?", (step, serial))


def delete_mfa_device(cur: Cursor, serial: str) -> None:
    cur.execute("DELETE FROM mfa_devices WHERE serial = ?", (serial,))


def list_mfa_devices(cur: Cursor) -> list[MfaDeviceRow]:
    rows = cur.execute(f"SELECT {MFA_COLUMNS} FROM mfa_devices ORDER BY principal, created")
    return list(map(MfaDeviceRow._make, rows))


def buckets_with_mfa_delete(cur: Cursor) -> list[str]:
    return [
        r[0] for r in cur.execute("SELECT name FROM buckets WHERE mfa_delete != 0 ORDER BY name")
    ]


# -- what one access decision reads ------------------------------------------------


def bucket_access(cur: Cursor, bucket: str) -> BucketAccessRow | None:
    """``(owner, config)`` of a bucket, or None."""
    row = cur.execute("SELECT owner, config FROM buckets WHERE name = ?", (bucket,)).fetchone()
    return None if row is None else BucketAccessRow._make(row)


def latest_version_id(cur: Cursor, bucket: str, key: bytes) -> str | None:
    row = cur.execute(
        "SELECT v.version_id FROM objects o JOIN versions v ON v.seq = o.seq "
        "WHERE o.bucket = ? AND o.key = ?",
        (bucket, key),
    ).fetchone()
    return None if row is None else row[0]
