"""Reading delivered server access logs back: for ``objfs bucket logging query``.

Owns ``query_access_logs`` (list the log objects under a target prefix, read
each, parse its lines, keep the records that pass every filter) and
``principal_names`` (canonical id -> name, to show requesters). Each object
read is a request of the caller, checked (and logged, if the target bucket
itself logs) as any other; the line format is ``objfs/store/logformat.py``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from objfs.errors import ObjfsError
from objfs.meta import auth_queries as aq
from objfs.store.logformat import (
    NAME_TIME_FORMAT,
    LogRecord,
    is_log_object_key,
    log_object_name,
    parse_lines,
)
from objfs.store.types import RequestContext

if TYPE_CHECKING:
    from objfs.store.core import Store


def principal_names(store: Store) -> dict[str, str]:
    """Canonical id -> user name (and the owner's id -> ``owner``), to show requesters."""
    with store.access.reading() as cur:
        names = {row[1]: row[0] for row in aq.list_users(cur)}
    names[store.access.owner_id()] = "owner"
    return names


def query_access_logs(
    store: Store,
    ctx: RequestContext,
    bucket: str,
    prefix: str = "",
    *,
    since: datetime | None = None,
    operation: str | None = None,
    status: int | None = None,
    requester: str | None = None,
) -> Iterator[LogRecord]:
    """Records of the log objects under ``s3://bucket/prefix`` that pass every filter.

    ``operation`` matches the whole name or its tail (``GET.OBJECT``,
    ``REST.GET.OBJECT``), any case; ``requester`` is a canonical id, a user
    name, ``owner`` or ``anonymous``. Each object read is a request of
    ``ctx`` (listing, then a GET per object), checked as any other.
    """
    wanted_requester: tuple[str | None, ...] | None = None
    if requester is not None:
        wanted_requester = (requester,)
        if requester == "anonymous":
            wanted_requester = (None,)
        elif len(requester) != 64:
            try:
                wanted_requester = (requester, store.user_canonical_id(requester)[0])
            except ObjfsError:
                pass
    want_op = operation.upper() if operation else None
    keys = [
        entry.key
        for entry in store.iter_objects(ctx, bucket, prefix=prefix)
        if not isinstance(entry, str) and is_log_object_key(entry.key, prefix)
    ]
    for key in sorted(keys, key=lambda k: log_object_name(k, prefix) or ""):
        if since is not None:
            stamp = datetime.strptime((log_object_name(key, prefix) or "")[:19], NAME_TIME_FORMAT)
            # Named when delivered, after its records: one named before
            # ``since`` holds nothing newer.
            if stamp.replace(tzinfo=UTC) < since.replace(microsecond=0):
                continue
        with store.get_object(ctx, bucket, key) as reader:
            text = reader.read().decode("utf-8", "replace")
        for record in parse_lines(text):
            if since is not None and record.time < since:
                continue
            if want_op and not (
                record.operation.upper() == want_op
                or record.operation.upper().endswith("." + want_op)
            ):
                continue
            if status is not None and record.http_status != status:
                continue
            if wanted_requester is not None and record.requester not in wanted_requester:
                continue
            yield record
