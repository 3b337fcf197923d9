"""CLI for the store's local KMS: ``objfs kms ...`` (keys, aliases, state, audit).

Owns the commands that manage SSE-KMS keys and how keys and audit entries
are shown. Every call goes to the store's ``kms_*`` API (the store checks
and audits it). Invariants: ``create-key`` prints the new key id alone on
stdout (``KEY=$(objfs kms create-key)`` works); listings have a ``--json``
form with ISO-8601 UTC times; nothing here ever prints key material.
"""

from __future__ import annotations

import argparse
from typing import Any

from objfs.cli.app import CliApp
from objfs.cli.args import CliError, parse_positive_int
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json, iso_time, local_time
from objfs.store.kms_types import KMSAuditEntry, KMSKeyInfo


def key_record(k: KMSKeyInfo) -> dict[str, Any]:
    return {
        "key_id": k.key_id,
        "arn": k.arn,
        "aliases": list(k.aliases),
        "state": k.state,
        "created": iso_time(k.created_ns),
        "deletion_date": None if k.deletion_ns is None else iso_time(k.deletion_ns),
        "material_versions": k.material_versions,
        "description": k.description,
        "owner": k.owner,
        "is_default": k.is_default,
    }


def audit_record(e: KMSAuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "time": iso_time(e.time_ns),
        "principal": e.principal,
        "interface": e.interface,
        "operation": e.operation,
        "key_id": e.key_id,
        "bucket": e.bucket,
        "key": e.key,
        "material_version": e.material_version,
        "error": e.error,
    }


KEYS_HEADER = f"{'KEY ID':<36}  {'STATE':<15} {'VERSIONS':>8}  {'ALIASES':<24} DESCRIPTION"


def format_key_row(k: KMSKeyInfo) -> str:
    aliases = ",".join(k.aliases) or "-"
    return (
        f"{k.key_id:<36}  {k.state:<15} {k.material_versions:>8}  {aliases:<24} "
        f"{k.description or '-'}"
    )


def format_key(k: KMSKeyInfo) -> list[str]:
    rows = [
        ("key_id", k.key_id),
        ("arn", k.arn),
        ("aliases", ", ".join(k.aliases) or "-"),
        ("state", k.state),
        ("created", iso_time(k.created_ns)),
    ]
    if k.deletion_ns is not None:
        rows.append(("deletion_date", iso_time(k.deletion_ns)))
    rows += [
        ("versions", str(k.material_versions)),
        ("description", k.description or "-"),
        ("owner", k.owner),
        ("default", "yes (alias/aws/s3: SSE-KMS without a key id)" if k.is_default else "no"),
    ]
    return [f"{name + ':':<15}{value}" for name, value in rows]


AUDIT_HEADER = (
    f"{'TIME':<19} {'PRINCIPAL':<10} {'INTERFACE':<9} {'OPERATION':<19} {'KEY':<36} "
    f"{'OBJECT':<30} ERROR"
)


def format_audit(e: KMSAuditEntry) -> str:
    target = "-"
    if e.bucket is not None:
        target = f"s3://{e.bucket}/{e.key or ''}"
    return (
        f"{local_time(e.time_ns):<19} {e.principal:<10} {e.interface:<9} {e.operation:<19} "
        f"{e.key_id or '-':<36} {target:<30} {e.error or '-'}"
    )


def _show(app: CliApp, info: KMSKeyInfo, line: str) -> int:
    """After a change: the key record with --json, else one confirmation line."""
    if app.json:
        dump_json(key_record(info))
    else:
        app.say(line)
    return 0


# -- commands --------------------------------------------------------------------


def cmd_kms_create_key(app: CliApp, args: argparse.Namespace) -> int:
    info = app.store.kms_create_key(app.ctx, args.description or "")
    if app.json:
        dump_json(key_record(info))
    else:
        print(info.key_id)
    return 0


def cmd_kms_alias(app: CliApp, args: argparse.Namespace) -> int:
    if args.delete:
        if args.key is not None:
            raise CliError("kms alias --delete takes only the alias NAME, not a key")
        app.store.kms_delete_alias(app.ctx, args.alias)
        app.say(f"kms: deleted alias {_alias(args.alias)}")
        return 0
    if args.key is None:
        raise CliError(f"kms alias needs a KEY to point {_alias(args.alias)} at (or --delete)")
    info = app.store.kms_create_alias(app.ctx, args.alias, args.key)
    return _show(app, info, f"kms: {_alias(args.alias)} -> {info.key_id}")


def _alias(name: str) -> str:
    return name if name.startswith("alias/") else f"alias/{name}"


def cmd_kms_ls(app: CliApp, args: argparse.Namespace) -> int:
    keys = app.store.kms_list_keys(app.ctx)
    if app.json:
        dump_json([key_record(k) for k in keys])
        return 0
    if keys and not app.quiet:
        print(KEYS_HEADER)
    for k in keys:
        print(format_key_row(k))
    return 0


def cmd_kms_describe(app: CliApp, args: argparse.Namespace) -> int:
    info = app.store.kms_describe_key(app.ctx, args.key)
    if app.json:
        dump_json(key_record(info))
    else:
        for line in format_key(info):
            print(line)
    return 0


def cmd_kms_disable(app: CliApp, args: argparse.Namespace) -> int:
    info = app.store.kms_disable_key(app.ctx, args.key)
    return _show(
        app,
        info,
        f"kms: key {info.key_id} is Disabled: data under it can be neither read nor written "
        f"until `objfs kms enable {info.key_id}`",
    )


def cmd_kms_enable(app: CliApp, args: argparse.Namespace) -> int:
    info = app.store.kms_enable_key(app.ctx, args.key)
    return _show(app, info, f"kms: key {info.key_id} is Enabled")


def cmd_kms_rotate(app: CliApp, args: argparse.Namespace) -> int:
    version = app.store.kms_rotate_key(app.ctx, args.key)
    info = app.store.kms_describe_key(app.ctx, args.key)
    return _show(
        app,
        info,
        f"kms: key {info.key_id} rotated: new data uses material version {version}, "
        "older data stays readable",
    )


def cmd_kms_schedule_deletion(app: CliApp, args: argparse.Namespace) -> int:
    app.store.kms_schedule_key_deletion(app.ctx, args.key, args.days)
    info = app.store.kms_describe_key(app.ctx, args.key)
    when = iso_time(info.deletion_ns) if info.deletion_ns is not None else "?"
    return _show(
        app,
        info,
        f"kms: key {info.key_id} is PendingDeletion: its material is destroyed on {when} and "
        f"data under it becomes unreadable for good (`objfs kms cancel-deletion {info.key_id}` "
        "before then keeps it)",
    )


def cmd_kms_cancel_deletion(app: CliApp, args: argparse.Namespace) -> int:
    info = app.store.kms_cancel_key_deletion(app.ctx, args.key)
    return _show(
        app,
        info,
        f"kms: deletion of key {info.key_id} cancelled; the key is Disabled "
        f"(`objfs kms enable {info.key_id}` to use it again)",
    )


def cmd_kms_audit(app: CliApp, args: argparse.Namespace) -> int:
    entries = app.store.kms_audit(app.ctx, key=args.key, limit=args.limit)
    if app.json:
        dump_json([audit_record(e) for e in entries])
        return 0
    if entries and not app.quiet:
        print(AUDIT_HEADER)
    for e in entries:
        print(format_audit(e))
    return 0


# -- command line ---------------------------------------------------------------


def register(build: Builder) -> None:
    kms = build.add(
        "kms",
        cmd_kms_ls,
        "manage SSE-KMS keys: create, alias, disable/enable, rotate, delete, audit",
        "KEY=$(objfs kms create-key)\nobjfs kms alias photos $KEY\n"
        "objfs put a.jpg s3://photos/a.jpg --sse-kms-key-id alias/photos\nobjfs kms audit",
    )
    _register_actions(build.group(kms, "kms_command"))


def _register_actions(inner: Builder) -> None:
    """``objfs kms ACTION``; ``inner`` is the CLI's subcommand builder for ``kms``."""
    p = inner.add(
        "create-key",
        cmd_kms_create_key,
        "create a KMS key; prints its id",
        'KEY=$(objfs kms create-key --description "photo archive")',
    )
    p.add_argument("--description", metavar="TEXT", help="free text shown by kms ls")

    p = inner.add(
        "alias",
        cmd_kms_alias,
        "point alias/NAME at a key, or delete an alias",
        "objfs kms alias photos $KEY\nobjfs kms alias --delete photos",
    )
    p.add_argument("alias", metavar="NAME", help="NAME or alias/NAME")
    p.add_argument("key", metavar="KEY", nargs="?", help="key id, ARN or alias/OTHER")
    p.add_argument("--delete", action="store_true", help="delete the alias (the key stays)")

    inner.add(
        "ls",
        cmd_kms_ls,
        "list KMS keys (deleted ones are not listed)",
        "objfs kms ls --json",
    )

    for name, handler, summary, example in (
        ("describe", cmd_kms_describe, "show one KMS key", "objfs kms describe alias/photos"),
        (
            "disable",
            cmd_kms_disable,
            "disable a key: data under it can be neither read nor written",
            "objfs kms disable alias/photos",
        ),
        ("enable", cmd_kms_enable, "enable a disabled key", "objfs kms enable alias/photos"),
        (
            "rotate",
            cmd_kms_rotate,
            "new key material for new data; older data stays readable",
            "objfs kms rotate alias/photos",
        ),
        (
            "cancel-deletion",
            cmd_kms_cancel_deletion,
            "keep a key pending deletion (it comes back Disabled)",
            "objfs kms cancel-deletion alias/photos",
        ),
    ):
        p = inner.add(name, handler, summary, example)
        p.add_argument("key", metavar="KEY", help="key id, ARN or alias/NAME")

    p = inner.add(
        "schedule-deletion",
        cmd_kms_schedule_deletion,
        "destroy a key's material after N days (7-30); its data is then lost for good",
        "objfs kms schedule-deletion alias/old --days 30",
    )
    p.add_argument("key", metavar="KEY", help="key id, ARN or alias/NAME")
    p.add_argument(
        "--days", type=parse_positive_int, required=True, metavar="N", help="waiting period, 7-30"
    )

    p = inner.add(
        "audit",
        cmd_kms_audit,
        "every use and change of KMS keys, oldest first: time, principal, interface, "
        "operation, key, object, error",
        "objfs kms audit --key alias/photos --limit 20",
    )
    p.add_argument("--key", metavar="KEY", help="only this key (id, ARN or alias/NAME)")
    p.add_argument(
        "--limit",
        type=parse_positive_int,
        default=1000,
        metavar="N",
        help="the newest N entries (default: 1000)",
    )
