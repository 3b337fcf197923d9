"""Which operation a request is: one table, written once as data.

A request is (method, level, sub-resource): level is ``service`` (no
bucket), ``bucket`` or ``object``; the sub-resource is the first query
parameter that names one (``?acl``, ``?versioning``, ``?uploads``, ...) or
``""``. Known S3 sub-resources that objfs does not serve, and unknown
methods, are ``NotImplemented`` (501), never a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from objfs.errors import NotImplementedOperation
from objfs.s3api import (
    attributes,
    buckets,
    config,
    cors,
    lifecycle,
    listing,
    multipart,
    objectlock,
    objects,
    post,
    tagging,
)
from objfs.s3api.request import Request, Response

Handler = Callable[[Request], Awaitable[Response]]

# Query parameters that select a sub-resource (S3's list, so that an
# operation objfs lacks is recognised and refused, not mistaken for another).
SUBRESOURCES = (
    "accelerate analytics acl attributes cors delete encryption intelligent-tiering "
    "inventory legal-hold lifecycle location logging metrics notification object-lock "
    "ownershipControls partNumber policy policyStatus publicAccessBlock replication "
    "requestPayment restore retention select tagging torrent uploadId uploads versioning "
    "versions website list-type"
).split()

ROUTES: dict[tuple[str, str, str], Handler] = {
    ("GET", "service", ""): buckets.list_buckets,
    ("PUT", "bucket", ""): buckets.create_bucket,
    ("HEAD", "bucket", ""): buckets.head_bucket,
    ("DELETE", "bucket", ""): buckets.delete_bucket,
    ("GET", "bucket", "location"): buckets.get_bucket_location,
    ("GET", "bucket", "versioning"): config.get_versioning,
    ("PUT", "bucket", "versioning"): config.put_versioning,
    ("GET", "bucket", "policy"): config.get_policy,
    ("PUT", "bucket", "policy"): config.put_policy,
    ("DELETE", "bucket", "policy"): config.delete_policy,
    ("GET", "bucket", "policyStatus"): config.get_policy_status,
    ("GET", "bucket", "publicAccessBlock"): config.get_public_access_block,
    ("PUT", "bucket", "publicAccessBlock"): config.put_public_access_block,
    ("DELETE", "bucket", "publicAccessBlock"): config.delete_public_access_block,
    ("GET", "bucket", "ownershipControls"): config.get_ownership_controls,
    ("PUT", "bucket", "ownershipControls"): config.put_ownership_controls,
    ("DELETE", "bucket", "ownershipControls"): config.delete_ownership_controls,
    ("GET", "bucket", "acl"): config.get_bucket_acl,
    ("PUT", "bucket", "acl"): config.put_bucket_acl,
    ("GET", "bucket", "cors"): cors.get_cors,
    ("PUT", "bucket", "cors"): cors.put_cors,
    ("DELETE", "bucket", "cors"): cors.delete_cors,
    ("GET", "bucket", "lifecycle"): lifecycle.get_lifecycle,
    ("PUT", "bucket", "lifecycle"): lifecycle.put_lifecycle,
    ("DELETE", "bucket", "lifecycle"): lifecycle.delete_lifecycle,
    ("GET", "bucket", "logging"): config.get_logging,
    ("PUT", "bucket", "logging"): config.put_logging,
    ("GET", "bucket", "encryption"): config.get_encryption,
    ("PUT", "bucket", "encryption"): config.put_encryption,
    ("DELETE", "bucket", "encryption"): config.delete_encryption,
    ("GET", "bucket", "tagging"): tagging.get_bucket_tagging,
    ("PUT", "bucket", "tagging"): tagging.put_bucket_tagging,
    ("DELETE", "bucket", "tagging"): tagging.delete_bucket_tagging,
    ("GET", "bucket", "object-lock"): objectlock.get_object_lock_configuration,
    ("PUT", "bucket", "object-lock"): objectlock.put_object_lock_configuration,
    ("GET", "bucket", ""): listing.list_objects,
    ("GET", "bucket", "list-type"): listing.list_objects,
    ("GET", "bucket", "versions"): listing.list_object_versions,
    ("GET", "bucket", "uploads"): multipart.list_uploads,
    ("POST", "bucket", "delete"): objects.delete_objects,
    ("POST", "bucket", ""): post.post_object,
    ("GET", "object", ""): objects.get_object,
    ("HEAD", "object", ""): objects.head_object,
    ("PUT", "object", ""): objects.put_object,
    ("DELETE", "object", ""): objects.delete_object,
    ("GET", "object", "acl"): config.get_object_acl,
    ("PUT", "object", "acl"): config.put_object_acl,
    ("GET", "object", "tagging"): tagging.get_object_tagging,
    ("PUT", "object", "tagging"): tagging.put_object_tagging,
    ("DELETE", "object", "tagging"): tagging.delete_object_tagging,
    ("POST", "object", "uploads"): multipart.create_upload,
    ("PUT", "object", "partNumber"): multipart.upload_part,
    ("GET", "object", "partNumber"): objects.get_object,
    ("HEAD", "object", "partNumber"): objects.head_object,
    ("GET", "object", "attributes"): attributes.get_object_attributes,
    ("GET", "object", "retention"): objectlock.get_object_retention,
    ("PUT", "object", "retention"): objectlock.put_object_retention,
    ("GET", "object", "legal-hold"): objectlock.get_object_legal_hold,
    ("PUT", "object", "legal-hold"): objectlock.put_object_legal_hold,
    ("POST", "object", "uploadId"): multipart.complete_upload,
    ("DELETE", "object", "uploadId"): multipart.abort_upload,
    ("GET", "object", "uploadId"): multipart.list_parts,
}


def route(req: Request) -> Handler:
    level = "service" if req.bucket is None else "bucket" if req.key is None else "object"
    sub = next((s for s in SUBRESOURCES if s in req.params), "")
    handler = ROUTES.get((req.method, level, sub))
    if handler is None:
        what = f"?{sub}" if sub else "this request"
        raise NotImplementedOperation(
            f"{req.method} {what} on a {level} is not implemented by objfs"
        )
    return handler
