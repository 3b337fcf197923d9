"""``BucketConfigs``: a bucket's record and its configuration map, read and changed.

A bucket is one ``buckets`` row: the record (``BucketInfo``: owner, region,
versioning, MFA delete, default encryption) and ``config``, a msgpack map
holding everything else a bucket may be configured with, one key each:
``policy``, ``acl``, ``public_access_block``, ``ownership``, ``cors``,
``tags``, ``lifecycle``, ``logging``, ``object_lock``. The code of each
(policies.py, cors.py, expiry.py...) reads and changes its key here, inside
its own transaction (``cur``); no one else writes the map.

Invariants: a missing bucket is ``NoSuchBucket`` (``info``, ``get``, ``set``);
a key set to None is removed (an empty map is stored as NULL); every change
advances the change sequence for the bucket (key ``''``) in the same
transaction and drops the authorization memo of the bucket
(``AccessControl.forget``), which the caller does again after the commit
where a stale memo matters (a policy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from objfs.errors import NoSuchBucket
from objfs.meta import auth_queries as aq
from objfs.meta import queries as q
from objfs.meta.db import Database
from objfs.store.authorizer import AccessControl, decode_config, encode_config
from objfs.store.types import BucketInfo, Versioning


class BucketConfigs:
    """Reads a bucket's record and configuration map; changes the map."""

    def __init__(self, *, db: Database, access: AccessControl) -> None:
        self.db = db
        self.access = access

    def info(self, cur: Any, name: str) -> BucketInfo:
        """The bucket's record; ``NoSuchBucket`` without it."""
        # The row the request's access check read in this transaction, if
        # any (the mount's commit and unlink: one read of it, not two).
        row: Any = self.db.remembered(cur, ("bucket", name))
        if row is None:
            row = q.get_bucket_config(cur, name)
            if row is None:
                raise NoSuchBucket(f"no such bucket: {name!r}", bucket=name)
            self.db.remember(cur, ("bucket", name), row)
        return bucket_info(row[:8])

    def lookup(self, name: str) -> BucketInfo:
        """The bucket's record, read in a transaction of its own (a request
        checked already, before its data is read); ``NoSuchBucket`` without it."""
        with self.db.read() as cur:
            return self.info(cur, name)

    def get(self, cur: Any, bucket: str) -> dict[str, Any]:
        """The bucket's configuration map (a copy: changing it changes nothing)."""
        self.info(cur, bucket)  # NoSuchBucket
        return decode_config(aq.get_bucket_config(cur, bucket))

    def set(self, cur: Any, bucket: str, **changes: Any) -> None:
        """Change keys of the map (None removes one), inside a write transaction."""
        config = self.get(cur, bucket)
        config.update(changes)
        aq.set_bucket_config(cur, bucket, encode_config(config))
        q.add_change(cur, bucket, b"")
        self.access.forget(bucket)  # again after the commit where it matters (a policy)


def bucket_info(row: Sequence[Any]) -> BucketInfo:
    """A ``BucketInfo`` from the first eight columns of a ``buckets`` row."""
    name, region, owner, created, versioning, mfa, encryption, kms = row
    return BucketInfo(
        name=name,
        region=region,
        owner=owner,
        created_ns=created,
        versioning=Versioning(versioning),
        mfa_delete=bool(mfa),
        encryption=encryption,
        kms_key_id=kms,
    )
