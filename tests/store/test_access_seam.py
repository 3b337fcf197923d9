"""THE authorization seam: no public store method escapes it.

Every public method of ``Store`` and of its administration collaborators
(``store.users``, ``store.kms``, ``store.policies``...) either declares the
S3 (or objfs) action(s) it performs, and is checked before it acts, or is one
of the few that are not requests (the handle's own lifecycle; turning
credentials into an identity). A ``Store`` method may instead be a thin
delegate (``objfs/store/facade.py``): one call of the same-named method of a
collaborator, which then declares them. A new method fails here until it
says which.

Static checks: the primitives behind the seam's decision and record are
called only by the seam (``objfs/store/seam.py``); no class of
``objfs/store`` calls another object's private method, but for an
allow-list of what is left for later, which can only shrink.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from collections.abc import Callable
from pathlib import Path

import pytest

import objfs
from objfs.auth import actions
from objfs.errors import AccessDenied
from objfs.store import ANONYMOUS_IDENTITY, OWNER, RequestContext, Store
from objfs.store.access import NOT_REQUESTS, Need, declared_actions, owner_only, requires
from objfs.store.facade import FACADES

# Not requests: no identity exists yet (credentials -> identity), or the
# handle's own lifecycle and configuration.
CREDENTIALS = {"authenticate", "signing_secret", "user_identity", "user_canonical_id"}

# The collaborators the facade delegates to: attribute of the Store -> class.
COLLABORATORS: dict[str, type] = {
    attribute: cls for facade in FACADES for attribute, cls in typing.get_type_hints(facade).items()
}

# Public methods of the collaborators that are not requests: called by the
# store's own code inside a request already checked (or, like CREDENTIALS,
# before there is an identity).
COLLABORATOR_HELPERS: dict[str, set[str]] = {
    "kms": {"write_domain", "data_domain", "bucket_key"},  # core.py's encryption domains
    "change_feed": {"wait_for_change"},  # when to read the feed (the mount's poller), not what
}


def _delegate_target(method: Callable[..., object]) -> tuple[str, str] | None:
    """``(collaborator attribute, method name)`` when ``method``'s body is one
    ``return self.<attribute>.<name>(...)``, else None."""
    try:
        source = textwrap.dedent(inspect.getsource(method))
    except (OSError, TypeError):
        return None
    fn = ast.parse(source).body[0]
    assert isinstance(fn, ast.FunctionDef)
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a docstring
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return None
    call = body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return None
    owner = call.func.value
    if not (
        isinstance(owner, ast.Attribute)
        and isinstance(owner.value, ast.Name)
        and owner.value.id == "self"
    ):
        return None
    return owner.attr, call.func.attr


def _store_methods() -> dict[str, Callable[..., object]]:
    return {
        name: getattr(Store, name)
        for name in dir(Store)
        if not name.startswith("_") and callable(getattr(Store, name))
    }


def public_methods() -> dict[str, Callable[..., object]]:
    """Every request method, by name: the Store's own, and for a delegate the
    collaborator's method it calls (which carries the seam's decorator)."""
    found = {}
    for name, method in _store_methods().items():
        target = _delegate_target(method) if declared_actions(method) is None else None
        if target is not None and target[0] in COLLABORATORS:
            found[name] = getattr(COLLABORATORS[target[0]], target[1])
        else:
            found[name] = method
    return found


def test_the_facade_delegates_to_same_named_methods_with_the_same_signature() -> None:
    """A delegate of ``facade.py`` calls the collaborator's method of its own name,
    passing each of its parameters on as declared (the API did not change)."""
    wrong = []
    delegates = 0
    for name, method in _store_methods().items():
        target = _delegate_target(method)
        if target is None or target[0] not in COLLABORATORS:
            continue
        delegates += 1
        attribute, called = target
        behind = getattr(COLLABORATORS[attribute], called, None)
        if called != name or behind is None:
            wrong.append(f"{name} -> {attribute}.{called}")
            continue
        mine = inspect.signature(method).parameters
        theirs = inspect.signature(inspect.unwrap(behind)).parameters
        if [(p.name, p.kind, p.default) for p in mine.values()] != [
            (p.name, p.kind, p.default) for p in theirs.values()
        ]:
            wrong.append(f"{name}: signature differs from {attribute}.{called}")
            continue
        call = ast.parse(textwrap.dedent(inspect.getsource(method))).body[0].body[-1].value  # type: ignore[attr-defined]
        passed = [a.id for a in call.args if isinstance(a, ast.Name)]
        passed += [
            k.value.id
            for k in call.keywords
            if isinstance(k.value, ast.Name)
            # ``name=name``, or ``**name`` for a ``**name`` parameter (post_object's put_args)
            and (
                k.arg == k.value.id
                or (
                    k.arg is None
                    and getattr(mine.get(k.value.id), "kind", None) is inspect.Parameter.VAR_KEYWORD
                )
            )
        ]
        if passed != [p for p in mine if p != "self"]:
            wrong.append(f"{name}: does not pass its parameters on as declared")
    assert delegates, "the facade delegates nothing: is facade.py still in use?"
    assert not wrong, f"facade delegates that are not plain delegates: {wrong}"


def test_collaborator_methods_are_requests() -> None:
    """Every public method of a collaborator declares its actions (or is a helper the
    store calls inside a request already checked), and takes the context first."""
    escaped, missing = [], []
    for attribute, cls in COLLABORATORS.items():
        helpers = COLLABORATOR_HELPERS.get(attribute, set())
        for name in dir(cls):
            method = getattr(cls, name)
            if name.startswith("_") or not callable(method) or inspect.isclass(method):
                continue
            if name in helpers | CREDENTIALS:
                continue
            if declared_actions(method) is None:
                escaped.append(f"{attribute}.{name}")
            elif list(inspect.signature(method).parameters)[:2] != ["self", "ctx"]:
                missing.append(f"{attribute}.{name}")
    assert not escaped, f"collaborator methods outside the authorization seam: {escaped}"
    assert not missing, f"collaborator methods without a RequestContext first: {missing}"


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


def test_a_decorated_method_needs_nothing_but_a_seam(store: Store) -> None:
    """The decorators reach only ``self.seam``: any object holding the store's
    seam is checked as the store's own methods are."""

    class Probe:
        def __init__(self, seam: object) -> None:
            self.seam = seam

        @owner_only("objfs:ManageUsers")
        def administer(self, ctx: RequestContext) -> str:
            return "administered"

        @requires(Need("s3:ListBucket", key=None))
        def look(self, ctx: RequestContext, bucket: str) -> str:
            return "looked"

    store.create_bucket(OWNER, "probe-bucket")
    probe = Probe(store.seam)
    anonymous = RequestContext(ANONYMOUS_IDENTITY, "api")
    assert probe.administer(OWNER) == "administered"
    assert probe.look(OWNER, "probe-bucket") == "looked"
    with pytest.raises(AccessDenied):
        probe.administer(anonymous)
    with pytest.raises(AccessDenied):
        probe.look(anonymous, "probe-bucket")


# -- static checks over the source ----------------------------------------------------------

PACKAGE = Path(objfs.__file__).parent

# The primitives behind the seam (objfs/store/seam.py), by the name their
# owner goes by everywhere: AccessControl (``access``) and AccessLog
# (``access_log``). A call of one of them elsewhere bypasses the seam.
PRIMITIVES = {
    "access": {"check", "check_owner", "check_key", "decide"},
    "access_log": {"record", "targets"},
}


def _sources() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(PACKAGE.parent)), ast.parse(path.read_text(), str(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def _receiver_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def test_the_primitives_behind_the_seam_are_called_only_by_the_seam() -> None:
    outside = []
    for path, tree in _sources():
        if path == "objfs/store/seam.py":
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = _receiver_name(node.func.value)
            if owner in PRIMITIVES and node.func.attr in PRIMITIVES[owner]:
                outside.append(f"{path}:{node.lineno}: {owner}.{node.func.attr}(...)")
    assert not outside, f"decisions or access-log records outside the seam: {outside}"


def test_the_primitives_test_sees_a_bypass() -> None:
    """The check above is not vacuous: it finds the calls it looks for."""
    tree = ast.parse("self.access.check(ctx, 'a', 'b', None, None, {})\nstore.access_log.record(x)")
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert {(_receiver_name(c.func.value), c.func.attr) for c in calls} == {  # type: ignore[attr-defined]
        ("access", "check"),
        ("access_log", "record"),
    }


# Where no object reaches into another's private attributes: the store's
# collaborators, the mount's handler groups, the HTTP adapter, the CLI.
SCOPES = ("objfs/store/", "objfs/fs/", "objfs/s3api/", "objfs/cli/")
# A named tuple's own API (``_make``, ``_fields``...) is public by design.
NAMEDTUPLE_API = {"_make", "_fields", "_replace", "_asdict", "_field_defaults"}
# ``file: receiver._name`` that may stay: a library's type with no public name.
PRIVATE_USES_ALLOWED = {
    "objfs/cli/builder.py: argparse._SubParsersAction",  # argparse's subparsers' type
    "objfs/s3api/workers.py: os._exit",  # a forked worker ends without the parent's unwinding
}


def _private_uses(tree: ast.AST, path: str) -> set[str]:
    """``path: receiver._name`` for each read or call of a private attribute
    of something other than ``self``/``cls``/``super()``."""
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__") or name in NAMEDTUPLE_API:
            continue
        receiver = node.value
        if isinstance(receiver, ast.Name) and receiver.id in ("self", "cls"):
            continue
        if isinstance(receiver, ast.Call) and _receiver_name(receiver.func) == "super":
            continue
        found.add(f"{path}: {ast.unparse(receiver)}.{name}")
    return found


def test_no_object_reaches_into_anothers_private_attributes() -> None:
    """No collaborator calls (or reads) another's private method or attribute:
    each is built with what it needs and uses its public names."""
    found = set()
    for path, tree in _sources():
        if path.startswith(SCOPES):
            found |= _private_uses(tree, path)
    new = sorted(found - PRIVATE_USES_ALLOWED)
    assert not new, f"uses of another object's private attributes: {new}"
    gone = sorted(PRIVATE_USES_ALLOWED - found)
    assert not gone, f"gone: remove them from PRIVATE_USES_ALLOWED: {gone}"


def test_the_private_use_check_sees_one() -> None:
    """The check above is not vacuous."""
    tree = ast.parse(
        "self._mine()\nsuper()._base()\nRow._make(r)\nstore._domain(x)\nn = self.access_log._schema"
    )
    assert _private_uses(tree, "f.py") == {"f.py: store._domain", "f.py: self.access_log._schema"}
