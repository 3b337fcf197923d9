"""CLI bucket guard rails: ``objfs bucket ownership`` and ``objfs bucket public-access-block``.

Show or set a bucket's Object Ownership (S3's OwnershipControls) and its
Block Public Access settings; every rule is the store's
(``objfs/store/ownership.py``, ``objfs/store/policies.py``).
"""

from __future__ import annotations

import argparse

from objfs.auth.ownership import MODES
from objfs.auth.public import PublicAccessBlock
from objfs.cli.app import CliApp
from objfs.cli.args import CliError
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json
from objfs.errors import NoSuchPublicAccessBlockConfiguration, OwnershipControlsNotFoundError

_SETTINGS = (
    ("block_public_acls", "--block-public-acls", "refuse requests that put a public ACL"),
    ("ignore_public_acls", "--ignore-public-acls", "public ACL grants count for nothing"),
    ("block_public_policy", "--block-public-policy", "refuse a public bucket policy"),
    (
        "restrict_public_buckets",
        "--restrict-public-buckets",
        "a public policy grants nothing outside the bucket owner's account",
    ),
)


def cmd_bucket_ownership(app: CliApp, args: argparse.Namespace) -> int:
    if args.mode is not None and args.delete:
        raise CliError("give a MODE or --delete, not both")
    if args.mode is not None:
        app.store.put_bucket_ownership_controls(app.ctx, args.name, args.mode)
    elif args.delete:
        app.store.delete_bucket_ownership_controls(app.ctx, args.name)
    try:
        mode: str | None = app.store.get_bucket_ownership_controls(app.ctx, args.name)
    except OwnershipControlsNotFoundError:
        mode = None
    if app.json:
        dump_json({"name": args.name, "ownership": mode})
    elif (args.mode is None and not args.delete) or not app.quiet:
        print(f"{args.name}: {mode or 'no ownership controls (objects belong to their writer)'}")
    return 0


def cmd_bucket_public_access_block(app: CliApp, args: argparse.Namespace) -> int:
    chosen = {attr: bool(getattr(args, attr)) or args.all for attr, _, _ in _SETTINGS}
    setting = any(chosen.values()) or args.none
    if setting and args.delete:
        raise CliError("give settings or --delete, not both")
    if setting:
        app.store.put_public_access_block(app.ctx, args.name, PublicAccessBlock(**chosen))
    elif args.delete:
        app.store.delete_public_access_block(app.ctx, args.name)
    try:
        conf: PublicAccessBlock | None = app.store.get_public_access_block(app.ctx, args.name)
    except NoSuchPublicAccessBlockConfiguration:
        conf = None
    public = app.store.get_bucket_policy_status(app.ctx, args.name)
    on = [flag[2:] for attr, flag, _ in _SETTINGS if conf is not None and getattr(conf, attr)]
    if app.json:
        dump_json(
            {
                "name": args.name,
                "public_access_block": None if conf is None else conf.to_obj(),
                "is_public": public,
            }
        )
    elif not (setting or args.delete) or not app.quiet:
        shown = "not configured" if conf is None else (", ".join(on) or "all off")
        print(f"{args.name}: {shown}; public: {'yes' if public else 'no'}")
    return 0


def register_guard_rails(inner: Builder) -> None:
    p = inner.add(
        "ownership",
        cmd_bucket_ownership,
        "show or set a bucket's Object Ownership (BucketOwnerEnforced disables ACLs)",
        "objfs bucket ownership photos BucketOwnerEnforced\nobjfs bucket ownership photos",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "mode",
        nargs="?",
        choices=MODES,
        help="BucketOwnerEnforced (ACLs off, the bucket owner owns every object), "
        "BucketOwnerPreferred (objects written with bucket-owner-full-control are the "
        "bucket owner's) or ObjectWriter; omit to print the current one",
    )
    p.add_argument("--delete", action="store_true", help="remove the ownership controls")

    p = inner.add(
        "public-access-block",
        cmd_bucket_public_access_block,
        "show or set a bucket's Block Public Access settings (and whether it is public)",
        "objfs bucket public-access-block photos --all\n"
        "objfs bucket public-access-block photos --block-public-policy\n"
        "objfs bucket public-access-block photos",
    )
    p.add_argument("name", metavar="NAME")
    for attr, flag, summary in _SETTINGS:
        p.add_argument(flag, dest=attr, action="store_true", help=summary)
    p.add_argument("--all", action="store_true", help="turn all four settings on")
    p.add_argument(
        "--none", action="store_true", help="store a configuration with all four settings off"
    )
    p.add_argument("--delete", action="store_true", help="remove the configuration")
