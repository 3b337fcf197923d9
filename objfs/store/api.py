"""The store API: S3 semantics in one place.

``Store`` is synchronous and thread-safe. Every public method takes a
``RequestContext`` first. Errors are ``objfs.errors`` types. The mount, the CLI
and the HTTP API call only this class (plus the records in ``types``).

Usage::

    store = Store.init(path)            # creates meta.db, chunks/, keys/
    store = Store.open(path)            # StoreNotFound / StoreFormatError
    store.create_bucket(ctx, "photos", versioning=True)
    store.put_object(ctx, "photos", "a/b.jpg", fileobj)
    with store.get_object(ctx, "photos", "a/b.jpg", range=(0, 99)) as r:
        r.info           # ObjectVersion
        r.read(n)        # streams, chunk by chunk
    store.close()
"""

from __future__ import annotations

# The implementation is split by responsibility; this module re-exports the
# class so adapters import one name.
from objfs.store.core import Store  # noqa: F401
