"""CLI bucket management: ``objfs bucket create|ls|rm|versioning|encryption``.

Owns the commands that create, list, remove and configure buckets; every
rule (naming, emptiness, versioning transitions) is the store's. Invariant:
``bucket rm`` of a non-empty bucket says how to empty it.
"""

from __future__ import annotations

import argparse

from objfs.auth.ownership import MODES
from objfs.cli import accesslog
from objfs.cli.app import CliApp
from objfs.cli.args import SSE_MODES, CliError, parse_sse_mode
from objfs.cli.builder import Builder
from objfs.cli.cors import register_bucket_cors
from objfs.cli.guardrails import register_guard_rails
from objfs.cli.mfa import add_mfa_option
from objfs.cli.output import bucket_record, dump_json, format_bucket
from objfs.cli.policy import register_bucket_policy
from objfs.errors import BucketNotEmpty

# -- buckets ------------------------------------------------------------------


def cmd_bucket_create(app: CliApp, args: argparse.Namespace) -> int:
    info = app.store.create_bucket(
        app.ctx,
        args.name,
        region=args.region,
        versioning=args.versioning,
        ownership=args.ownership,
        object_lock=args.object_lock,
    )
    lock = ", Object Lock on" if args.object_lock else ""
    app.say(f"make_bucket: {info.name} (region {info.region}, versioning {info.versioning}{lock})")
    return 0


def cmd_bucket_ls(app: CliApp, args: argparse.Namespace) -> int:
    buckets = app.store.list_buckets(app.ctx)
    if app.json:
        dump_json([bucket_record(b) for b in buckets])
    else:
        for b in buckets:
            print(format_bucket(b))
    return 0


def cmd_bucket_rm(app: CliApp, args: argparse.Namespace) -> int:
    try:
        app.store.delete_bucket(app.ctx, args.name)
    except BucketNotEmpty as err:
        raise CliError(
            f"{err} (empty it with `objfs rm --recursive --all-versions s3://{args.name}`)"
        ) from None
    app.say(f"remove_bucket: {args.name}")
    return 0


def cmd_bucket_versioning(app: CliApp, args: argparse.Namespace) -> int:
    if args.mfa_delete is not None and args.state is None:
        raise CliError(
            f"--mfa-delete needs the versioning state too, e.g. `objfs bucket versioning "
            f'{args.name} Enabled --mfa-delete {args.mfa_delete} --mfa "SERIAL CODE"`'
        )
    if args.state is not None:
        mfa_delete = None if args.mfa_delete is None else args.mfa_delete == "Enabled"
        app.store.set_bucket_versioning(app.ctx, args.name, args.state, mfa_delete=mfa_delete)
    info = app.store.head_bucket(app.ctx, args.name)
    if app.json:
        dump_json(
            {"name": info.name, "versioning": str(info.versioning), "mfa_delete": info.mfa_delete}
        )
    elif args.state is None or not app.quiet:
        mfa = " (MFA delete Enabled)" if info.mfa_delete else ""
        print(f"{info.name}: {info.versioning}{mfa}")
    return 0


def cmd_bucket_encryption(app: CliApp, args: argparse.Namespace) -> int:
    mode = args.mode
    if mode is None and args.kms_key_id is not None:
        mode = "aws:kms"  # as --sse-kms-key-id on put: the key id implies SSE-KMS
    if mode is not None:
        app.store.set_bucket_encryption(app.ctx, args.name, mode, args.kms_key_id)
    info = app.store.head_bucket(app.ctx, args.name)
    if app.json:
        dump_json({"name": info.name, "encryption": info.encryption, "kms_key_id": info.kms_key_id})
    elif mode is None or not app.quiet:
        key = ""
        if info.encryption == "aws:kms":
            key = f" ({info.kms_key_id or 'the store default key alias/aws/s3'})"
        print(f"{info.name}: {info.encryption}{key}")
    return 0


# -- command line ---------------------------------------------------------------


def register(build: Builder) -> None:
    bucket = build.add(
        "bucket",
        cmd_bucket_ls,
        "create, list and remove buckets; set versioning",
        "objfs bucket create photos --versioning\nobjfs bucket ls",
    )
    inner = build.group(bucket, "bucket_command")
    p = inner.add(
        "create",
        cmd_bucket_create,
        "create a bucket (S3 naming rules: 3-63 chars of a-z 0-9 . -)",
        "objfs bucket create photos --region local --versioning",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--region", default="local", help="region label (default: local)")
    p.add_argument("--versioning", action="store_true", help="enable versioning at creation")
    p.add_argument(
        "--ownership",
        choices=MODES,
        help="Object Ownership (see `objfs bucket ownership`); default: none",
    )
    p.add_argument(
        "--object-lock",
        action="store_true",
        help="enable S3 Object Lock (and versioning, for good); see `objfs lock`",
    )
    inner.add("ls", cmd_bucket_ls, "list buckets", "objfs bucket ls --json")
    p = inner.add(
        "rm",
        cmd_bucket_rm,
        "remove an empty bucket (no versions, no delete markers)",
        "objfs bucket rm scratch",
    )
    p.add_argument("name", metavar="NAME")
    p = inner.add(
        "versioning",
        cmd_bucket_versioning,
        "show or set a bucket's versioning state and MFA delete",
        "objfs bucket versioning photos Enabled\nobjfs bucket versioning photos\n"
        "objfs bucket versioning photos Enabled --mfa-delete Enabled "
        '--mfa "arn:objfs:iam::owner:mfa/root 123456"',
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "state",
        nargs="?",
        type=str.capitalize,
        choices=["Enabled", "Suspended"],
        help="new state; omit to print the current one",
    )
    p.add_argument(
        "--mfa-delete",
        type=str.capitalize,
        choices=["Enabled", "Disabled"],
        help="require an MFA code to delete a version for good or change the versioning "
        "state (store owner only; needs --mfa)",
    )
    add_mfa_option(p, what="to change MFA delete, or the state while it is on")
    _register_encryption(inner)
    register_bucket_policy(inner)
    register_bucket_cors(inner)
    register_guard_rails(inner)  # objfs bucket ownership|public-access-block
    accesslog.register(inner)  # objfs bucket logging ...


def _register_encryption(inner: Builder) -> None:
    p = inner.add(
        "encryption",
        cmd_bucket_encryption,
        "show or set a bucket's default encryption for new objects",
        "objfs bucket encryption photos aws:kms --kms-key-id alias/photos\n"
        "objfs bucket encryption photos",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "mode",
        nargs="?",
        type=parse_sse_mode,
        choices=SSE_MODES,
        help="none, AES256 (SSE-S3, the default) or aws:kms; omit to print the current one",
    )
    p.add_argument(
        "--kms-key-id",
        metavar="KEY",
        help="with aws:kms: key id, ARN or alias/NAME (default: the store's key alias/aws/s3)",
    )
