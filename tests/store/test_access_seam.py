"""THE authorization seam: no public store method escapes it.

Every public ``Store`` method either declares the S3 (or objfs) action(s) it
performs, and is checked before it acts, or is one of the few that are not
requests (the handle's own lifecycle; turning credentials into an identity).
A new method fails here until it says which.
"""

from __future__ import annotations

import inspect

import pytest

from objfs.auth import actions
from objfs.errors import AccessDenied
from objfs.store import ANONYMOUS_IDENTITY, OWNER, RequestContext, Store
from objfs.store.access import NOT_REQUESTS, declared_actions

# Not requests: no identity exists yet (credentials -> identity), or the
# handle's own lifecycle and configuration.
CREDENTIALS = {"authenticate", "signing_secret", "user_identity", "user_canonical_id"}


def public_methods() -> dict[str, object]:
    return {
        name: getattr(Store, name)
        for name in dir(Store)
        if not name.startswith("_") and callable(getattr(Store, name))
    }


def test_every_public_method_declares_its_actions() -> None:
    escaped = [
        name
        for name, method in public_methods().items()
        if declared_actions(method) is None and name not in NOT_REQUESTS | CREDENTIALS
    ]
    assert not escaped, f"public Store methods outside the authorization seam: {escaped}"


def test_only_the_cors_preflight_is_answered_without_authentication() -> None:
    """An ``unauthenticated`` method is outside every policy: only the CORS
    rule lookup of a preflight (browsers send it without credentials) is."""
    open_to_all = {
        name
        for name, method in public_methods().items()
        if getattr(method, "__unauthenticated__", False)
    }
    assert open_to_all == {"cors_match"}


def test_declared_actions_are_ones_the_policy_engine_knows() -> None:
    unknown = []
    for name, method in public_methods().items():
        for need in declared_actions(method) or ():
            if callable(need.action):
                names = {need.action({}), need.action({"version_id": "v", "src_version_id": "v"})}
            else:
                names = {need.action}
            for action in names:
                # kms:* are the local KMS's own actions: policies grant them only by "*"
                if actions.lookup(action) is None and not action.startswith("kms:"):
                    unknown.append(f"{name}: {action}")
    assert not unknown, f"actions objfs.auth does not know: {unknown}"


def test_every_public_method_takes_the_context_first() -> None:
    missing = []
    for name, method in public_methods().items():
        if name in NOT_REQUESTS | CREDENTIALS:
            continue
        params = list(inspect.signature(method).parameters)
        if params[:2] != ["self", "ctx"]:
            missing.append(name)
    assert not missing, f"public methods without a RequestContext first: {missing}"


@pytest.mark.parametrize(
    "call",
    [
        lambda s, c: s.fsck(c),
        lambda s, c: s.gc(c, grace_seconds=0),
        lambda s, c: s.change_seq(c),
        lambda s, c: s.changes_since(c, 0),
        lambda s, c: s.writer_leases(c),
        lambda s, c: s.list_users(c),
        lambda s, c: s.kms_list_keys(c),
        lambda s, c: s.mfa_list(c),
        lambda s, c: s.list_buckets(c),
        lambda s, c: s.create_bucket(c, "anon-bucket"),
    ],
    ids=["fsck", "gc", "change_seq", "changes_since", "writer_leases", "list_users", "kms",
         "mfa", "list_buckets", "create_bucket"],
)  # fmt: skip
def test_anonymous_is_refused_administration(store: Store, call) -> None:  # type: ignore[no-untyped-def]
    anon = RequestContext(ANONYMOUS_IDENTITY, "api")
    with pytest.raises(AccessDenied):
        call(store, anon)
    call(store, OWNER)  # the same call as the owner works
