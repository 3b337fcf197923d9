"""CLI for policies and ACLs on resources: ``bucket policy``, ``acl``, ``policy simulate``.

Owns how bucket policies, ACLs and simulated decisions are shown. The store
validates and decides; the simulator prints the store's own decision for a
user, an action and a resource, naming the statement that decided.
Invariants: a malformed policy is refused in one line naming the statement
and field (``MalformedPolicy``); ``acl get`` shows owner and grants with
display names; ``policy simulate`` exits 0 when allowed and 3 when denied,
so scripts can test a policy without parsing text.
"""

from __future__ import annotations

import argparse
from typing import Any

from objfs.auth.acl import Acl, Grant, parse_grant_option
from objfs.auth.evaluate import RESOURCE_PREFIX
from objfs.auth.identity import ANONYMOUS_NAME, OWNER_NAME, Identity
from objfs.auth.policy import parse_bucket_policy, to_json
from objfs.cli.app import CliApp
from objfs.cli.args import CliError, parse_s3_url
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json
from objfs.cli.users import read_document

DENIED_EXIT = 3

# -- bucket policy -------------------------------------------------------------------


def cmd_bucket_policy_put(app: CliApp, args: argparse.Namespace) -> int:
    text = app.store.put_bucket_policy(app.ctx, args.name, read_document(args.file))
    if app.json:
        print(text)
    else:
        app.say(f"policy set on bucket {args.name}")
    return 0


def cmd_bucket_policy_get(app: CliApp, args: argparse.Namespace) -> int:
    text = app.store.get_bucket_policy(app.ctx, args.name)  # as it was put
    print(to_json(parse_bucket_policy(text, args.name), indent=2))
    return 0


def cmd_bucket_policy_rm(app: CliApp, args: argparse.Namespace) -> int:
    app.store.delete_bucket_policy(app.ctx, args.name)
    app.say(f"policy removed from bucket {args.name}")
    return 0


def register_bucket_policy(inner: Builder) -> None:
    """``objfs bucket policy ACTION`` (called from the bucket group)."""
    pol = inner.add(
        "policy",
        cmd_bucket_policy_get,
        "a bucket's policy (S3 JSON, at most 20 KiB): put, get, rm",
        "objfs bucket policy put photos policy.json\nobjfs bucket policy get photos",
    )
    sub = inner.group(pol, "bucket_policy_command")
    p = sub.add(
        "put",
        cmd_bucket_policy_put,
        "set (or replace) the bucket policy; malformed JSON is refused",
        "objfs bucket policy put photos policy.json\ncat policy.json | objfs bucket policy put photos -",
    )
    p.add_argument("name", metavar="BUCKET")
    p.add_argument("file", metavar="FILE", nargs="?", help="the JSON document, or - for stdin")
    for name, handler, summary in (
        ("get", cmd_bucket_policy_get, "print the bucket policy (normalised JSON)"),
        ("rm", cmd_bucket_policy_rm, "remove the bucket policy"),
    ):
        p = sub.add(name, handler, summary, f"objfs bucket policy {name} photos")
        p.add_argument("name", metavar="BUCKET")


# -- ACLs ---------------------------------------------------------------------------------


def acl_record(acl: Acl, names: dict[str, str]) -> dict[str, Any]:
    record = acl.to_obj()
    record["owner"]["display_name"] = names.get(acl.owner_id, "")
    for grant in record["grants"]:
        grantee = grant["grantee"]
        if grantee.get("id"):
            grantee["display_name"] = names.get(grantee["id"], "")
    return record


def _names(app: CliApp, acl: Acl) -> dict[str, str]:
    """Canonical id -> display name, for the ids an ACL mentions."""
    out: dict[str, str] = {}
    known = {app.store.user_canonical_id(OWNER_NAME)[0]: OWNER_NAME}
    if app.ctx.identity.is_owner:
        known.update({u.canonical_id: u.display_name for u in app.store.list_users(app.ctx)})
    for cid in [acl.owner_id] + [g.grantee.id for g in acl.grants if g.grantee.id]:
        out[cid] = known.get(cid, "")
    return out


def _grants(app: CliApp, specs: list[str] | None) -> tuple[Grant, ...]:
    grants: list[Grant] = []
    for spec in specs or []:
        grants += parse_grant_option(spec, app.store.user_canonical_id)
    return tuple(grants)


def cmd_acl_put(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url)
    if args.canned is None and not args.grant:
        raise CliError("give --canned NAME or at least one --grant PERMISSION=GRANTEE")
    grants = _grants(app, args.grant)
    if url.key:
        acl = app.store.put_object_acl(
            app.ctx,
            url.bucket,
            url.key,
            version_id=args.version_id,
            canned=args.canned,
            grants=grants,
        )
    else:
        acl = app.store.put_bucket_acl(app.ctx, url.bucket, canned=args.canned, grants=grants)
    app.say(f"ACL of {url} set: {len(acl.grants)} grant(s)")
    return 0


def cmd_acl_get(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url)
    if url.key:
        acl = app.store.get_object_acl(app.ctx, url.bucket, url.key, version_id=args.version_id)
    else:
        acl = app.store.get_bucket_acl(app.ctx, url.bucket)
    names = _names(app, acl)
    if app.json:
        dump_json(acl_record(acl, names))
        return 0
    print(f"owner: {names.get(acl.owner_id) or '-'} ({acl.owner_id})")
    for g in acl.grants:
        who = g.grantee
        if who.uri is not None:
            label = f"group {who.uri.short}"
        else:
            label = f"user {names.get(who.id or '') or '-'} ({who.id})"
        print(f"grant: {g.permission.value:<12} {label}")
    return 0


def register_acl(build: Builder) -> None:
    p = build.add(
        "acl",
        cmd_acl_get,
        "show or set the ACL of a bucket or object (canned or explicit grants)",
        "objfs acl put s3://www --canned public-read\n"
        "objfs acl put s3://docs/report.pdf --grant read=user:alice --grant read=group:AllUsers\n"
        "objfs acl get s3://docs/report.pdf",
    )
    sub = build.group(p, "acl_command")
    for name, handler, summary in (
        ("get", cmd_acl_get, "show owner and grants"),
        ("put", cmd_acl_put, "replace the ACL (the owner always keeps FULL_CONTROL)"),
    ):
        q = sub.add(name, handler, summary, f"objfs acl {name} s3://docs/report.pdf")
        q.add_argument("url", metavar="s3://BUCKET[/KEY]")
        q.add_argument("--version-id", metavar="V", help="an object's version (default: latest)")
        if name == "put":
            q.add_argument(
                "--canned",
                metavar="NAME",
                help="private, public-read, public-read-write, authenticated-read, "
                "bucket-owner-read, bucket-owner-full-control, log-delivery-write",
            )
            q.add_argument(
                "--grant",
                action="append",
                metavar="PERM=GRANTEE",
                help="PERM: read, write, read-acp, write-acp, full-control; GRANTEE: user:NAME, "
                "id:CANONICAL_ID, group:AllUsers|AuthenticatedUsers|LogDelivery; repeatable",
            )


# -- the simulator ---------------------------------------------------------------------------


def _identity(app: CliApp, name: str) -> Identity:
    if name == OWNER_NAME:
        return Identity.owner(app.store.user_canonical_id(OWNER_NAME)[0], OWNER_NAME)
    if name == ANONYMOUS_NAME:
        return Identity.anonymous()
    return app.store.user_identity(name)


def _resource(text: str) -> tuple[str | None, str | None]:
    if text in ("*", f"{RESOURCE_PREFIX}*"):
        return None, None
    if text.startswith("s3://"):
        url = parse_s3_url(text)
        return url.bucket, url.key or None
    if not text.startswith(RESOURCE_PREFIX):
        raise CliError(
            f"--resource must be arn:aws:s3:::BUCKET[/KEY] or s3://BUCKET[/KEY], not {text!r}"
        )
    bucket, slash, key = text[len(RESOURCE_PREFIX) :].partition("/")
    return bucket, (key if slash else None)


def _context(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise CliError(f"--context takes KEY=VALUE, not {item!r}")
        out[key] = value
    return out


def cmd_simulate(app: CliApp, args: argparse.Namespace) -> int:
    identity = _identity(app, args.user)
    bucket, key = _resource(args.resource)
    decision = app.store.simulate_policy(
        app.ctx, identity, args.action, bucket, key, _context(args.context)
    )
    if app.json:
        source = decision.source
        dump_json(
            {
                "user": args.user,
                "action": decision.action,
                "resource": decision.resource,
                "decision": "Allowed" if decision.allowed else "Denied",
                "reason": decision.reason.value,
                "source": None
                if source is None
                else {
                    "kind": source.kind.value,
                    "name": source.name,
                    "statement": source.index,
                    "sid": source.sid,
                    "grant": source.grant.describe() if source.grant else None,
                },
                "explanation": decision.explain(),
            }
        )
    else:
        print(decision.explain())
    return 0 if decision.allowed else DENIED_EXIT


def register_simulate(build: Builder) -> None:
    p = build.add(
        "policy",
        cmd_simulate,
        "policy tools: simulate a request and name the statement that decides it",
        "objfs policy simulate --user alice --action s3:PutObject "
        "--resource arn:aws:s3:::photos/2026/a.jpg",
    )
    sub = build.group(p, "policy_command")
    q = sub.add(
        "simulate",
        cmd_simulate,
        "decide a request as the store would; exit 0 allowed, 3 denied",
        "objfs policy simulate --user alice --action s3:GetObject --resource s3://photos/a.jpg\n"
        "objfs policy simulate --user anonymous --action s3:ListBucket "
        "--resource arn:aws:s3:::www --context aws:SourceIp=10.0.0.7 --json",
    )
    q.add_argument("--user", required=True, metavar="U", help="a user name, owner or anonymous")
    q.add_argument("--action", required=True, metavar="A", help="e.g. s3:GetObject")
    q.add_argument(
        "--resource", required=True, metavar="ARN", help="arn:aws:s3:::B[/K] or s3://B[/K]"
    )
    q.add_argument(
        "--context",
        action="append",
        metavar="KEY=VALUE",
        help="a condition key, e.g. aws:SourceIp=10.1.2.3 or s3:x-amz-server-side-encryption=AES256",
    )
