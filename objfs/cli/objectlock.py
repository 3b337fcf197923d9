"""CLI Object Lock: ``objfs lock config|retain|hold|show``.

Owns the commands that set a bucket's Object Lock configuration (its
default retention) and one version's retention and legal hold; every rule
(what may be shortened, who may bypass GOVERNANCE) is the store's
(objfs/store/objectlock.py). A bucket gets Object Lock at creation with
``objfs bucket create NAME --object-lock``, or later (versioning Enabled)
with ``objfs lock config NAME --enable``.
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import UTC, datetime

from objfs.cli.app import CliApp
from objfs.cli.args import CliError, parse_s3_url
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json, iso_time
from objfs.store import ObjectLockConfig

MODES = ("GOVERNANCE", "COMPLIANCE")
_RELATIVE = re.compile(r"\+(\d+)([smhdy])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}


def parse_until(text: str) -> int:
    """``2030-01-01``, ``2030-01-01T12:00:00Z`` (UTC unless a zone is given) or
    ``+30d`` (s, m, h, d, y from now) -> ns since the epoch."""
    found = _RELATIVE.fullmatch(text.strip())
    if found:
        return time.time_ns() + int(found.group(1)) * _UNIT_S[found.group(2)] * 10**9
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"not a date: {text!r} (use 2030-01-01, 2030-01-01T12:00:00Z or +30d)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 10**9 + when.microsecond * 1000


def _mode(text: str) -> str:
    return text.upper()


def cmd_lock_config(app: CliApp, args: argparse.Namespace) -> int:
    if args.days is not None or args.years is not None or args.mode is not None:
        if args.mode is None or (args.days is None) == (args.years is None):
            raise CliError("a default retention needs --mode and one of --days or --years")
        config = ObjectLockConfig(args.mode, args.days, args.years)
        app.store.put_object_lock_configuration(app.ctx, args.bucket, config)
    elif args.enable:
        app.store.put_object_lock_configuration(app.ctx, args.bucket, ObjectLockConfig())
    conf = app.store.get_object_lock_configuration(app.ctx, args.bucket)
    if app.json:
        dump_json(
            {
                "bucket": args.bucket,
                "enabled": True,
                "mode": conf.mode,
                "days": conf.days,
                "years": conf.years,
            }
        )
    elif conf.mode is None:
        print(f"{args.bucket}: Object Lock Enabled, no default retention")
    else:
        period = f"{conf.days} days" if conf.days is not None else f"{conf.years} years"
        print(f"{args.bucket}: Object Lock Enabled, default retention {conf.mode} {period}")
    return 0


def cmd_lock_retain(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url, need_key=True)
    if args.clear:
        if args.mode is not None or args.until is not None:
            raise CliError("--clear removes the retention: give no --mode or --until with it")
        mode, until = None, None
    else:
        if args.mode is None or args.until is None:
            raise CliError("give --mode and --until (or --clear to remove the retention)")
        mode, until = args.mode, parse_until(args.until)
    version = app.store.put_object_retention(
        app.ctx,
        url.bucket,
        url.key,
        mode,
        until,
        version_id=args.version_id,
        bypass_governance=args.bypass_governance,
    )
    if mode is None:
        app.say(f"retention removed: {url} version {version.version_id}")
    else:
        app.say(f"retain: {url} version {version.version_id} {mode} until {iso_time(until or 0)}")
    return 0


def cmd_lock_hold(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url, need_key=True)
    version = app.store.put_object_legal_hold(
        app.ctx, url.bucket, url.key, args.state == "on", version_id=args.version_id
    )
    app.say(f"legal hold {args.state.upper()}: {url} version {version.version_id}")
    return 0


def cmd_lock_show(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url, need_key=True)
    info = app.store.head_object(app.ctx, url.bucket, url.key, version_id=args.version_id)
    lock = info.lock
    now = int(app.store.clock() * 1e9)
    record = {
        "url": str(url),
        "version_id": info.version_id,
        "mode": lock.mode,
        "retain_until": iso_time(lock.until_ns) if lock.until_ns is not None else None,
        "legal_hold": lock.legal_hold,
        "locked": lock.holds(now),
    }
    if app.json:
        dump_json(record)
        return 0
    print(f"{url} version {info.version_id}")
    if lock.mode is not None:
        print(f"  retention: {lock.mode} until {record['retain_until']}")
    else:
        print("  retention: none")
    print(f"  legal hold: {'ON' if lock.legal_hold else 'OFF'}")
    print(f"  deletable now: {'no' if record['locked'] else 'yes'}")
    return 0


# -- command line ---------------------------------------------------------------


def register(build: Builder) -> None:
    lock = build.add(
        "lock",
        cmd_lock_show,
        "S3 Object Lock: a bucket's default retention, a version's retention and legal hold",
        "objfs bucket create ledger --object-lock\n"
        "objfs lock config ledger --mode COMPLIANCE --days 365\n"
        "objfs lock retain s3://ledger/2026.csv --mode GOVERNANCE --until 2030-01-01\n"
        "objfs lock hold s3://ledger/2026.csv on\n"
        "objfs lock show s3://ledger/2026.csv",
    )
    inner = build.group(lock, "lock_command")
    p = inner.add(
        "config",
        cmd_lock_config,
        "show or set a bucket's Object Lock configuration (default retention of new versions)",
        "objfs lock config ledger\n"
        "objfs lock config ledger --enable      # on, for a bucket with versioning Enabled\n"
        "objfs lock config ledger --mode GOVERNANCE --days 30",
    )
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument(
        "--enable",
        action="store_true",
        help="turn Object Lock on (it cannot be turned off; versioning stays Enabled)",
    )
    p.add_argument("--mode", type=_mode, choices=MODES, help="default retention mode")
    period = p.add_mutually_exclusive_group()
    period.add_argument("--days", type=int, metavar="N", help="default retention in days")
    period.add_argument("--years", type=int, metavar="N", help="default retention in years")

    p = inner.add(
        "retain",
        cmd_lock_retain,
        "set, extend, shorten or remove a version's retention",
        "objfs lock retain s3://ledger/2026.csv --mode COMPLIANCE --until 2031-01-01\n"
        "objfs lock retain s3://ledger/2026.csv --mode GOVERNANCE --until +7d\n"
        "objfs lock retain s3://ledger/2026.csv --clear --bypass-governance",
    )
    p.add_argument("url", metavar="s3://BUCKET/KEY")
    p.add_argument("--mode", type=_mode, choices=MODES, help="GOVERNANCE or COMPLIANCE")
    p.add_argument(
        "--until", metavar="DATE", help="retain-until date: 2030-01-01, ISO 8601, or +30d"
    )
    p.add_argument("--clear", action="store_true", help="remove the retention")
    p.add_argument("--version-id", metavar="V", help="this version instead of the latest")
    p.add_argument(
        "--bypass-governance",
        action="store_true",
        help="shorten, remove or change GOVERNANCE retention (needs s3:BypassGovernanceRetention)",
    )

    p = inner.add(
        "hold",
        cmd_lock_hold,
        "put a legal hold on a version, or lift it",
        "objfs lock hold s3://ledger/2026.csv on\nobjfs lock hold s3://ledger/2026.csv off",
    )
    p.add_argument("url", metavar="s3://BUCKET/KEY")
    p.add_argument("state", choices=["on", "off"], type=str.lower)
    p.add_argument("--version-id", metavar="V", help="this version instead of the latest")

    p = inner.add(
        "show",
        cmd_lock_show,
        "show a version's retention and legal hold, and whether it can be deleted now",
        "objfs lock show s3://ledger/2026.csv --json",
    )
    p.add_argument("url", metavar="s3://BUCKET/KEY")
    p.add_argument("--version-id", metavar="V", help="this version instead of the latest")
