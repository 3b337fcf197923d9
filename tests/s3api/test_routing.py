"""The routing table, as data: every operation of objfs serve has one route,
each handler is a coroutine function, and every sub-resource a route names
is one routing recognises."""

from __future__ import annotations

import inspect

from objfs.s3api import routing

SERVED = {
    "list_buckets",
    "create_bucket",
    "head_bucket",
    "delete_bucket",
    "get_bucket_location",
    "get_versioning",
    "put_versioning",
    "get_policy",
    "put_policy",
    "delete_policy",
    "get_policy_status",
    "get_public_access_block",
    "put_public_access_block",
    "delete_public_access_block",
    "get_cors",
    "put_cors",
    "delete_cors",
    "get_bucket_acl",
    "put_bucket_acl",
    "get_ownership_controls",
    "put_ownership_controls",
    "delete_ownership_controls",
    "get_encryption",
    "put_encryption",
    "delete_encryption",
    "get_logging",
    "put_logging",
    "get_bucket_tagging",
    "put_bucket_tagging",
    "delete_bucket_tagging",
    "get_lifecycle",
    "put_lifecycle",
    "delete_lifecycle",
    "list_objects",
    "list_object_versions",
    "list_uploads",
    "delete_objects",
    "get_object",
    "get_object_attributes",
    "head_object",
    "put_object",
    "post_object",
    "delete_object",
    "get_object_acl",
    "put_object_acl",
    "get_object_tagging",
    "put_object_tagging",
    "delete_object_tagging",
    "create_upload",
    "upload_part",
    "complete_upload",
    "abort_upload",
    "list_parts",
    "get_object_lock_configuration",
    "put_object_lock_configuration",
    "get_object_retention",
    "put_object_retention",
    "get_object_legal_hold",
    "put_object_legal_hold",
}


def test_every_operation_has_a_coroutine_handler():
    handlers = {h.__name__ for h in routing.ROUTES.values()}
    assert handlers == SERVED
    assert all(inspect.iscoroutinefunction(h) for h in routing.ROUTES.values())


def test_routes_name_known_methods_levels_and_subresources():
    for method, level, sub in routing.ROUTES:
        assert method in ("GET", "HEAD", "PUT", "POST", "DELETE")
        assert level in ("service", "bucket", "object")
        assert sub == "" or sub in routing.SUBRESOURCES
