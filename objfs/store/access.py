"""THE authorization seam of the store: every public request is checked here.

Each public method of the ``Store`` and of its collaborators (``store.users``,
``store.kms``, ``store.policies``...) declares the S3 action(s) it performs
with the ``requires`` decorator (or ``owner_only`` for store administration:
KMS, users, fsck, gc, the change feed). Before the method body runs, the
decorator gathers the request's condition keys (from the ``RequestContext``
and the call's arguments: version id, prefix, delimiter, max-keys, SSE
headers) and asks the object's ``seam`` (``objfs/store/seam.py``, one per
store), whose ``check`` loads what the decision needs (the caller's identity
policies, the bucket's owner, policy and ACL, the object's owner and ACL)
and hands it to the pure evaluation in ``objfs/auth``. A refusal raises
``AccessDenied``; adapters only translate it. The wrappers reach nothing of
the decorated object but ``self.seam``: a decorated method works on any
object that has one.

Invariants:
- a public method that is neither decorated nor listed in ``NOT_REQUESTS``
  is a bug (``tests/store/test_access_seam.py`` enumerates them);
- no request method calls another: work two requests share goes through a
  named internal method of their collaborator (``Objects._put`` of
  ``put_object`` and ``post_object``), so the outermost call of a thread is
  the request. A nested call fails under ``OBJFS_STRICT_REQUESTS=1`` (the
  test suite), else is logged once and not checked again; ``internal``
  marks the store's own work (access-log delivery), whose calls are not
  requests;
- the store owner with no bucket policy in play is allowed without loading
  anything else (the mount's hot path costs one primary-key lookup);
- the outermost call is one request of the server access log: the row the
  check read tells whether its bucket logs, so an unlogged bucket costs no
  more (``RequestContext.log=False`` marks a continuation, not recorded);
- a ``RequestContext.nowait`` call runs in the database's ``nowait()``
  scope and makes at most one write of its own: it raises ``WouldBlock``
  (not a request: not logged, nothing changed) when a write would wait, or
  when its access-log record would be a second write; it leaves access-log
  delivery to the next request that may wait (or the mount's poller).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from objfs.auth.acl import AclSpec
from objfs.errors import InternalError
from objfs.meta.db import WouldBlock
from objfs.store.logformat import operations_of
from objfs.store.types import ObjectLockState, RequestContext, SSERequest

F = TypeVar("F", bound=Callable[..., Any])

# Public attributes of Store that are not requests: construction and
# lifecycle of the handle itself.
NOT_REQUESTS = frozenset(
    {
        "init",
        "open",
        "close",
        "path",
        "db",
        "keyring",
        "chunk_size",
        "chunks",
        "clock",
        "access_log",
    }
)


class Requests(threading.local):
    """The request each thread is serving in one store (``AccessControl.requests``,
    shared by its ``Seam``): per store, so a call into another store (a test's
    second process, a tool holding two) is that store's own request."""

    def __init__(self) -> None:
        self.depth = 0  # request methods entered on this thread, outermost = 1
        self.ctx: RequestContext | None = None  # the outermost call's context
        self.internal = False  # inside ``internal``: the store's own work


log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class Need:
    """One action a call performs, and where its resource comes from."""

    action: str | Callable[[Mapping[str, Any]], str]
    bucket: str | None = "bucket"  # name of the argument holding the bucket
    key: str | None = "key"  # name of the argument holding the key; None: bucket-level
    version: str | None = "version_id"

    def resolve(self, args: Mapping[str, Any]) -> tuple[str, str | None, str | None, str | None]:
        action = self.action(args) if callable(self.action) else self.action
        bucket = args.get(self.bucket) if self.bucket else None
        key = args.get(self.key) if self.key else None
        version = args.get(self.version) if self.version else None
        return action, bucket, key, version


def condition_keys(args: Mapping[str, Any]) -> dict[str, Any]:
    """Request condition keys found in a call's arguments."""
    found: dict[str, Any] = {}
    if args.get("version_id") is not None:
        found["s3:VersionId"] = args["version_id"]
    if "prefix" in args:
        found["s3:prefix"] = args.get("prefix") or ""
    if args.get("delimiter") is not None:
        found["s3:delimiter"] = args["delimiter"]
    if args.get("max_keys") is not None:
        found["s3:max-keys"] = args["max_keys"]
    sse = args.get("sse")
    if isinstance(sse, SSERequest):
        if sse.mode not in (None, "none", "SSE-C"):  # as sent, also a value S3 refuses
            found["s3:x-amz-server-side-encryption"] = sse.mode
        if sse.kms_key_id:
            found["s3:x-amz-server-side-encryption-aws-kms-key-id"] = sse.kms_key_id
        if sse.customer_key is not None or sse.customer_algorithm is not None:
            found["s3:x-amz-server-side-encryption-customer-algorithm"] = (
                sse.customer_algorithm or "AES256"
            )
    elif sse in ("AES256", "aws:kms"):  # a commit names the encryption its data has
        found["s3:x-amz-server-side-encryption"] = sse
        if args.get("kms_key_id"):
            found["s3:x-amz-server-side-encryption-aws-kms-key-id"] = args["kms_key_id"]
    found.update(_request_keys(args))
    return found


def _request_keys(args: Mapping[str, Any]) -> dict[str, Any]:
    """Condition keys of what a write asks for: its ACL headers (``s3:x-amz-acl``,
    ``s3:x-amz-grant-*``, as sent), its copy source (``bucket/key``) and metadata
    directive (only when the request names one), its tags (``tags``:
    ``s3:RequestObjectTag/<key>``, ``s3:RequestObjectTagKeys``)."""
    found: dict[str, Any] = {}
    acl = args.get("acl")
    if isinstance(acl, AclSpec):
        found.update(acl.condition_keys())
    if args.get("src_bucket") is not None and args.get("src_key") is not None:
        found["s3:x-amz-copy-source"] = f"{args['src_bucket']}/{args['src_key']}"
    if args.get("metadata_directive") is not None:
        found["s3:x-amz-metadata-directive"] = args["metadata_directive"]
    tags = args.get("tags")
    if isinstance(tags, Mapping) and tags:  # PutObject's x-amz-tagging, PutObjectTagging's body
        found.update(tag_condition_keys(tags))
    found.update(_lock_keys(args))
    return found


def tag_condition_keys(tags: Mapping[str, str]) -> dict[str, Any]:
    """The condition keys of tags a request gives: ``s3:RequestObjectTag/<key>``
    for each and ``s3:RequestObjectTagKeys`` (all the keys)."""
    found: dict[str, Any] = {f"s3:RequestObjectTag/{k}": v for k, v in tags.items()}
    found["s3:RequestObjectTagKeys"] = tuple(tags)
    return found


def _lock_keys(args: Mapping[str, Any]) -> dict[str, Any]:
    """Object Lock condition keys: a write's lock headers (``lock``), or the
    retention PutObjectRetention sets (``mode`` with ``until_ns``)."""
    lock = args.get("lock")
    if isinstance(lock, ObjectLockState):
        mode, until = lock.mode, lock.until_ns
        hold = "ON" if lock.legal_hold else None
    elif "until_ns" in args and "mode" in args:
        mode, until, hold = args.get("mode"), args.get("until_ns"), None
    else:
        return {}
    found: dict[str, Any] = {}
    if mode is not None:
        found["s3:object-lock-mode"] = mode
    if until is not None:
        found["s3:object-lock-retain-until-date"] = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(until / 1e9)
        )
        if "until_ns" in args:
            days = max(0, (until - time.time_ns()) // (86400 * 10**9))
            found["s3:object-lock-remaining-retention-days"] = days
    if hold is not None:
        found["s3:object-lock-legal-hold"] = hold
    return found


_warned: set[str] = set()


def _nested(method: str) -> None:
    """A request method was called inside another request on this thread.

    No code path of the store does that: work shared by two requests goes
    through a named internal method of their collaborator. Should one
    appear, strict mode (the tests) fails it; otherwise it is logged once
    and, as the outer request was checked, runs unchecked and unlogged."""
    if os.environ.get("OBJFS_STRICT_REQUESTS") == "1":  # the test suite sets it
        raise InternalError(
            f"{method} called inside another request: call the collaborator's internal "
            "method instead (objfs/store/access.py, nested requests)"
        )
    if method not in _warned:
        _warned.add(method)
        log.error("store method %s called inside another request: not checked again", method)


@contextmanager
def _outermost(requests: Requests, ctx: RequestContext, method: str) -> Iterator[bool]:
    depth = requests.depth
    if depth and not requests.internal:
        _nested(method)
    requests.depth = depth + 1
    if depth == 0:
        requests.ctx = ctx
    try:
        yield depth == 0
    finally:
        requests.depth = depth
        if depth == 0:
            requests.ctx = None


@contextmanager
def internal(requests: Requests, ctx: RequestContext) -> Iterator[None]:
    """Store calls made inside are not requests: not checked again, not logged.

    For the store's own work on behalf of no caller (access-log delivery,
    which may run at the end of someone's request): what it writes is
    created by ``ctx``, not by the request it runs after.
    """
    depth, saved, was_internal = requests.depth, requests.ctx, requests.internal
    requests.depth, requests.ctx, requests.internal = depth + 1, ctx, True
    try:
        yield
    finally:
        requests.depth, requests.ctx, requests.internal = depth, saved, was_internal


def _binder(
    signature: inspect.Signature,
) -> Callable[[Any, RequestContext, tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """``signature.bind(...)`` with defaults applied, as a dict of the arguments
    by name: a plain positional-or-keyword and keyword-only signature (all the
    store's methods) is bound without ``inspect`` (it cost ~15 us a call);
    anything else, or a call it cannot bind, goes the general way (its error)."""

    def general(
        self: Any, ctx: RequestContext, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        bound = signature.bind(self, ctx, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        # A method that passes ``**kwargs`` on (post_object -> put_object) is
        # checked on those arguments by name, as the method it calls would be.
        for name in var_keyword:
            values.update(values.pop(name, None) or {})
        return values

    params = list(signature.parameters.values())
    var_keyword = [p.name for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    plain = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    if any(p.kind not in plain for p in params):
        return general
    positional = tuple(p.name for p in params if p.kind is plain[0])
    defaults = tuple((p.name, p.default) for p in params if p.default is not p.empty)
    names = frozenset(p.name for p in params)
    order = tuple(p.name for p in params)

    def fast(
        self: Any, ctx: RequestContext, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        given = (self, ctx, *args)
        if len(given) > len(positional):
            return general(self, ctx, args, kwargs)
        values = dict(zip(positional, given, strict=False))  # given: a prefix
        for name, value in kwargs.items():
            if name in values or name not in names:
                return general(self, ctx, args, kwargs)
            values[name] = value
        for name, default in defaults:
            if name not in values:
                values[name] = default
        if len(values) != len(order):
            return general(self, ctx, args, kwargs)  # a required argument is missing
        if kwargs:
            return {name: values[name] for name in order}
        return values

    return fast


def requires(*needs: Need | str, in_write: bool = False) -> Callable[[F], F]:
    """Declare the S3 action(s) a public store method performs; check them first.

    A plain string is an object-level action on ``bucket``/``key``. The
    outermost call is also timed and handed to the server access log
    (``objfs/store/accesslog.py``) with its outcome, allowed or denied.
    ``in_write``: the method is one write transaction (``db.write``, with
    ``durable=ctx.durable``); the check runs inside it, which the method's own
    ``write`` joins: one transaction per request, not a read and a write.
    """
    resolved = tuple(Need(n) if isinstance(n, str) else n for n in needs)

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        method = fn.__name__
        bind = _binder(signature)
        # Nothing to check and no access-log record to write, whatever the
        # arguments (the method checks and logs itself, as commit_small does):
        # no binding of the arguments, no condition keys, no log targets.
        bare = not resolved and not operations_of(method, resolved)

        @functools.wraps(fn)
        def bare_wrapper(self: Any, ctx: RequestContext, *args: Any, **kwargs: Any) -> Any:
            seam = self.seam
            with _outermost(seam.requests, ctx, method) as outer:
                if not outer:
                    return fn(self, ctx, *args, **kwargs)
                db = seam.db
                nowait = ctx.nowait
                try:
                    with db.nowait() if nowait else contextlib.nullcontext():
                        with (
                            db.write(durable=ctx.durable) if in_write else contextlib.nullcontext()
                        ):
                            result = fn(self, ctx, *args, **kwargs)
                except WouldBlock:
                    raise  # not a request: the caller asks again, waiting
                except Exception:
                    if not nowait:
                        seam.after_request()
                    raise
                if not nowait:
                    seam.after_request()
                return result

        @functools.wraps(fn)
        def wrapper(self: Any, ctx: RequestContext, *args: Any, **kwargs: Any) -> Any:
            seam = self.seam
            with _outermost(seam.requests, ctx, method) as outer:
                if not outer:
                    return fn(self, ctx, *args, **kwargs)
                started_ns, started_mono = time.time_ns(), time.monotonic_ns()
                values = bind(self, ctx, args, kwargs)
                conditions = condition_keys(values)
                seen: dict[str, Any] = {}  # bucket -> (owner, config) the checks read
                db = seam.db
                logged = seam.access_log is not None
                nowait = refusing = ctx.nowait
                try:
                    with db.nowait() if nowait else contextlib.nullcontext():
                        try:
                            conditions.update(seam.mfa_condition_keys(ctx))  # store/mfa.py
                            with (
                                db.write(durable=ctx.durable)
                                if in_write
                                else contextlib.nullcontext()
                            ) as cur:
                                for need in resolved:
                                    action, bucket, key, version = need.resolve(values)
                                    seam.check(
                                        ctx,
                                        action,
                                        bucket,
                                        key,
                                        version,
                                        conditions,
                                        seen=seen,
                                        cur=cur,
                                    )
                                if nowait and logged:
                                    if seam.logs(ctx, method, resolved, values, seen):
                                        raise WouldBlock("the access log record is a second write")
                                result = fn(self, ctx, *args, **kwargs)
                        finally:
                            refusing = nowait and db.refusing()
                except WouldBlock:
                    raise  # not a request: the caller asks again, waiting
                except Exception as err:
                    if logged:
                        if refusing and seam.logs(ctx, method, resolved, values, seen, err):
                            # Nothing written yet, and its record would be a write:
                            # refused rather than logged here (the retry logs it).
                            raise WouldBlock("the access log record is a write") from err
                        seam.record(
                            ctx, method, resolved, values, seen, started_ns, started_mono, None, err
                        )
                        if not nowait:
                            seam.after_request()
                    raise
                if logged:
                    seam.record(
                        ctx, method, resolved, values, seen, started_ns, started_mono, result
                    )
                    if not nowait:  # a delivery writes objects: for a thread that may wait
                        seam.after_request()
                return result

        chosen = bare_wrapper if bare else wrapper
        chosen.__s3_needs__ = resolved  # type: ignore[attr-defined]
        return chosen  # type: ignore[return-value]

    return decorate


def owner_only(action: str) -> Callable[[F], F]:
    """Store administration: only the store owner may call it (KMS, users, fsck, gc)."""

    def decorate(fn: F) -> F:
        name = fn.__name__

        @functools.wraps(fn)
        def wrapper(self: Any, ctx: RequestContext, *args: Any, **kwargs: Any) -> Any:
            seam = self.seam
            with _outermost(seam.requests, ctx, name) as outer:
                if not outer:
                    return fn(self, ctx, *args, **kwargs)
                seam.check_owner(ctx, action)
                result = fn(self, ctx, *args, **kwargs)
                # Not logged (no bucket), but a chance to deliver due access
                # logs: an idle mount polls the change feed every fraction of a
                # second, so its batches go out on time, not at the next request.
                seam.after_request()
                return result

        wrapper.__s3_needs__ = (Need(action, bucket=None, key=None),)  # type: ignore[attr-defined]
        wrapper.__owner_only__ = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def unauthenticated(fn: F) -> F:
    """A request S3 answers to anyone, before and without authentication.

    Only the CORS preflight's rule lookup (a browser sends no credentials
    with it): it declares no action, so no policy can allow or deny it.
    """

    @functools.wraps(fn)
    def wrapper(self: Any, ctx: RequestContext, *args: Any, **kwargs: Any) -> Any:
        with _outermost(self.seam.requests, ctx, fn.__name__):
            return fn(self, ctx, *args, **kwargs)

    wrapper.__s3_needs__ = ()  # type: ignore[attr-defined]
    wrapper.__unauthenticated__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def declared_actions(method: Callable[..., Any]) -> tuple[Need, ...] | None:
    return getattr(method, "__s3_needs__", None)
