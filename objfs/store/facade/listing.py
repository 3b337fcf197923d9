"""The listing requests' delegates (listing.py's ``Listing``);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from collections.abc import Iterator

from objfs.store.listing import MAX_KEYS, Listing
from objfs.store.types import (
    DirectoryListing,
    ListResult,
    ObjectVersion,
    RequestContext,
    VersionListResult,
)


class ListingFacade:
    """The delegates; the ``Store`` builds ``listing`` in ``__init__``."""

    listing: Listing

    def list_objects(
        self,
        ctx: RequestContext,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = MAX_KEYS,
        start_after: str | None = None,
        continuation_token: str | None = None,
        fetch_owner: bool = False,
    ) -> ListResult:
        return self.listing.list_objects(
            ctx,
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            max_keys=max_keys,
            start_after=start_after,
            continuation_token=continuation_token,
            fetch_owner=fetch_owner,
        )

    def iter_objects(
        self,
        ctx: RequestContext,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        start_after: str | None = None,
    ) -> Iterator[ObjectVersion | str]:
        return self.listing.iter_objects(
            ctx, bucket, prefix=prefix, delimiter=delimiter, start_after=start_after
        )

    def list_directory(
        self, ctx: RequestContext, bucket: str, prefix: str, *, delimiter: str = "/"
    ) -> DirectoryListing:
        return self.listing.list_directory(ctx, bucket, prefix, delimiter=delimiter)

    def list_object_versions(
        self,
        ctx: RequestContext,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = MAX_KEYS,
        key_marker: str | None = None,
        version_id_marker: str | None = None,
        fetch_owner: bool = False,
    ) -> VersionListResult:
        return self.listing.list_object_versions(
            ctx,
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            max_keys=max_keys,
            key_marker=key_marker,
            version_id_marker=version_id_marker,
            fetch_owner=fetch_owner,
        )

    def key_versions(self, ctx: RequestContext, bucket: str, key: str) -> list[ObjectVersion]:
        return self.listing.key_versions(ctx, bucket, key)

    def prefix_exists(
        self, ctx: RequestContext, bucket: str, prefix: str, *, exclude_marker: bool = False
    ) -> bool:
        return self.listing.prefix_exists(ctx, bucket, prefix, exclude_marker=exclude_marker)
