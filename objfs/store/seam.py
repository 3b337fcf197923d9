"""``Seam``: THE one object every request goes through, for its decision and its record.

The decorators of ``objfs/store/access.py`` (``requires``, ``owner_only``,
``unauthenticated``) wrap the public methods of the ``Store`` and of its
collaborators (``store.users``, ``store.kms``, ``store.policies``...); their
wrappers reach nothing of the object they decorate but its ``seam``
attribute. The few hand-written sites that decide inside a method (a
commit deciding in its own write transaction, a multi-object delete, the
mount's batched commits) and record a request themselves call the same
named methods here. Nothing in ``objfs/`` calls the primitives behind them
(``AccessControl.check``/``check_owner``/``check_key``/``decide``,
``AccessLog.record``/``targets``) but this module:
``tests/store/test_access_seam.py`` fails when something does.

Built with explicit dependencies: the database (the wrappers' ``nowait``
and ``in_write`` scopes), ``AccessControl`` (the decision's data,
``authorizer.py``), the ``AccessLog`` (server access logs, ``accesslog.py``)
and the MFA code checker (``aws:MultiFactorAuthPresent``, ``mfa.py``).

Invariant: the hot path is what it was before the seam was an object (an
attribute read or two more per request): ``check``, ``check_owner``,
``mfa_condition_keys``, ``record`` and ``after_request`` are the primitives
themselves, bound here; no binding of arguments when nothing is checked, no
transaction of its own, and for the store owner with no bucket policy in
play one primary-key lookup (``AccessControl.check``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from objfs.meta.db import Database
from objfs.store.authorizer import AccessControl
from objfs.store.types import RequestContext

if TYPE_CHECKING:
    from objfs.auth.evaluate import Decision


class MFAConditionKeys(Protocol):
    """What the seam needs of the MFA devices: the condition keys of ``ctx.mfa``."""

    def condition_keys(self, ctx: RequestContext) -> dict[str, Any]: ...


class AccessLog(Protocol):
    """What the seam needs of the server access log (``accesslog.AccessLog``)."""

    def targets(
        self,
        ctx: RequestContext,
        method: str,
        needs: tuple[Any, ...],
        args: Mapping[str, Any],
        seen: Any,
        error: BaseException | None = None,
    ) -> Any: ...

    def record(
        self,
        ctx: RequestContext,
        method: str,
        needs: tuple[Any, ...],
        args: Mapping[str, Any],
        seen: Any,
        started_ns: int,
        started_mono: int,
        result: object = None,
        error: BaseException | None = None,
    ) -> None: ...

    def after_request(self) -> None: ...


def _nothing(*_args: Any) -> None:
    """``record`` and ``after_request`` of a store without server access logs."""


class Seam:
    """The decision and the access-log record of every request; see the module docstring."""

    __slots__ = (
        "db",
        "access",
        "requests",
        "access_log",
        "mfa",
        "check",
        "check_owner",
        "mfa_condition_keys",
        "record",
        "after_request",
    )

    def __init__(
        self,
        *,
        db: Database,
        access: AccessControl,
        access_log: AccessLog | None,
        mfa: MFAConditionKeys,
    ) -> None:
        self.db = db
        self.access = access
        # The request each thread serves in this store (access.py's ``Requests``):
        # the decorators' outermost-call test and the creator of what a commit writes.
        self.requests = access.requests
        self.access_log = access_log  # None: no server access logs (nothing recorded)
        self.mfa = mfa
        # Every request calls these: they are the primitives themselves, bound
        # once here, so going through the seam costs no call frame of its own.
        #
        # check(ctx, action, bucket, key, version_id, conditions, *, seen=None,
        # cur=None): allow or raise ``AccessDenied`` (``AccessControl.check``);
        # ``seen`` collects the bucket rows read (for the record), ``cur``
        # decides in the caller's transaction.
        self.check: Callable[..., Decision | None] = access.check
        # check_owner(ctx, action): store administration, ``AccessDenied``
        # unless ``ctx`` is the store owner.
        self.check_owner: Callable[[RequestContext, str], None] = access.check_owner
        # mfa_condition_keys(ctx): ``aws:MultiFactorAuthPresent``/``Age`` of a
        # request carrying a valid MFA code (``MFACodes.condition_keys``).
        self.mfa_condition_keys: Callable[[RequestContext], dict[str, Any]] = mfa.condition_keys
        # record(ctx, method, needs, values, seen, started_ns, started_mono,
        # result=None, error=None): keep the access-log record(s) of one
        # finished request; never raises (``AccessLog.record``).
        self.record: Callable[..., None] = access_log.record if access_log is not None else _nothing
        # after_request(): a request ended on a thread that may wait: deliver
        # the access logs that are due.
        self.after_request: Callable[[], None] = (
            access_log.after_request if access_log is not None else _nothing
        )

    def log_to(self, access_log: AccessLog) -> None:
        """Record requests into ``access_log`` from now on (given once, at the
        store's construction: the access log is built after the seam, as what
        it commits needs the Object Lock checks, which decide through here)."""
        self.access_log = access_log
        self.record = access_log.record
        self.after_request = access_log.after_request

    # -- off the hot path ------------------------------------------------------------

    def check_key(self, ctx: RequestContext) -> None:
        """The access key ``ctx`` was made with is still active, its user still there."""
        self.access.check_key(ctx)

    def decide(
        self,
        ctx: RequestContext,
        action: str,
        bucket: str | None,
        key: str | None,
        conditions: Mapping[str, Any],
    ) -> Decision:
        """The decision without raising (the policy simulator, log delivery's own check)."""
        return self.access.decide(ctx, action, bucket, key, conditions)

    def logs(
        self,
        ctx: RequestContext,
        method: str,
        needs: tuple[Any, ...],
        values: Mapping[str, Any],
        seen: dict[str, Any],
        error: BaseException | None = None,
    ) -> bool:
        """Whether this request has an access-log record to write (``AccessLog.targets``)."""
        access_log = self.access_log
        return access_log is not None and bool(
            access_log.targets(ctx, method, needs, values, seen, error)
        )
