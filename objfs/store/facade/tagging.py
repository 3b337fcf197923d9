"""The tagging requests' delegates (tagging.py's ``Tagging``);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from collections.abc import Mapping

from objfs.store.tagging import Tagging
from objfs.store.types import ObjectVersion, RequestContext


class TaggingFacade:
    """The delegates; the ``Store`` builds ``tagging`` in ``__init__``."""

    tagging: Tagging

    def get_object_tagging(
        self, ctx: RequestContext, bucket: str, key: str, *, version_id: str | None = None
    ) -> ObjectVersion:
        return self.tagging.get_object_tagging(ctx, bucket, key, version_id=version_id)

    def put_object_tagging(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        tags: Mapping[str, str],
        *,
        version_id: str | None = None,
    ) -> ObjectVersion:
        return self.tagging.put_object_tagging(ctx, bucket, key, tags, version_id=version_id)

    def delete_object_tagging(
        self, ctx: RequestContext, bucket: str, key: str, *, version_id: str | None = None
    ) -> ObjectVersion:
        return self.tagging.delete_object_tagging(ctx, bucket, key, version_id=version_id)

    def put_bucket_tagging(self, ctx: RequestContext, bucket: str, tags: Mapping[str, str]) -> None:
        return self.tagging.put_bucket_tagging(ctx, bucket, tags)

    def get_bucket_tagging(self, ctx: RequestContext, bucket: str) -> dict[str, str]:
        return self.tagging.get_bucket_tagging(ctx, bucket)

    def delete_bucket_tagging(self, ctx: RequestContext, bucket: str) -> None:
        return self.tagging.delete_bucket_tagging(ctx, bucket)
