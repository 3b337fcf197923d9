"""The bucket-logging requests' delegates (accesslog.py's ``BucketLoggingRequests``);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from objfs.store.accesslog import BucketLogging, BucketLoggingRequests, DeliveredLog
from objfs.store.types import RequestContext


class BucketLoggingFacade:
    """The delegates; the ``Store`` builds ``bucket_logging`` in ``__init__``."""

    bucket_logging: BucketLoggingRequests

    def put_bucket_logging(
        self,
        ctx: RequestContext,
        bucket: str,
        target_bucket: str,
        target_prefix: str = "",
        *,
        partition_date_source: str | None = None,
    ) -> BucketLogging:
        return self.bucket_logging.put_bucket_logging(
            ctx, bucket, target_bucket, target_prefix, partition_date_source=partition_date_source
        )

    def get_bucket_logging(self, ctx: RequestContext, bucket: str) -> BucketLogging | None:
        return self.bucket_logging.get_bucket_logging(ctx, bucket)

    def delete_bucket_logging(self, ctx: RequestContext, bucket: str) -> None:
        return self.bucket_logging.delete_bucket_logging(ctx, bucket)

    def flush_access_logs(self, ctx: RequestContext) -> list[DeliveredLog]:
        return self.bucket_logging.flush_access_logs(ctx)
