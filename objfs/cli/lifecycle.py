"""CLI for lifecycle rules: ``objfs lifecycle put|get|rm|run``.

``put`` takes S3's JSON shape (``{"Rules": [...]}``, as ``aws s3api
put-bucket-lifecycle-configuration --lifecycle-configuration`` takes it) or
S3's XML (``<LifecycleConfiguration>``); ``get`` prints the JSON shape.
``run`` applies every enabled rule now (or at ``--now``, to see what a date
would do) and prints what it changed: what the systemd timer in
``contrib/`` runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from objfs.cli.app import CliApp
from objfs.cli.args import CliError
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json


def _read_rules(source: str | None) -> list[Any]:
    if source in (None, "-"):
        if sys.stdin.isatty():
            raise CliError("give the lifecycle configuration as a FILE, or pipe it in with -")
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as err:
            raise CliError(f"cannot read lifecycle file {source}: {err.strerror}") from None
    if data.lstrip().startswith(b"<"):
        from objfs.s3api.lifecycle import rules_from_xml

        return rules_from_xml(data)
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CliError(f"the lifecycle configuration is neither JSON nor XML: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Rules"), list):
        raise CliError('the lifecycle configuration is {"Rules": [...]}, as S3 takes it')
    return doc["Rules"]


def parse_now(text: str | None) -> int | None:
    """``--now``: an ISO 8601 date or time (UTC unless it says otherwise), as ns."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--now wants an ISO 8601 date or time, not {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1e9)


def cmd_lifecycle_put(app: CliApp, args: argparse.Namespace) -> int:
    rules = app.store.put_bucket_lifecycle(app.ctx, args.name, _read_rules(args.file))
    if app.json:
        dump_json({"Rules": rules})
    else:
        app.say(f"{len(rules)} lifecycle rule(s) set on bucket {args.name}")
    return 0


def cmd_lifecycle_get(app: CliApp, args: argparse.Namespace) -> int:
    dump_json({"Rules": app.store.get_bucket_lifecycle(app.ctx, args.name)})
    return 0


def cmd_lifecycle_rm(app: CliApp, args: argparse.Namespace) -> int:
    app.store.delete_bucket_lifecycle(app.ctx, args.name)
    app.say(f"lifecycle rules removed from bucket {args.name}")
    return 0


def cmd_lifecycle_run(app: CliApp, args: argparse.Namespace) -> int:
    report = app.store.apply_lifecycle(app.ctx, args.name, now_ns=parse_now(args.now))
    if app.json:
        dump_json(report.as_dict())
        return 0
    for operation, bucket, key, version in report.actions:
        shown = f" (version {version})" if version and version != "null" else ""
        app.say(f"{operation} s3://{bucket}/{key}{shown}")
    app.say(
        f"lifecycle: {report.buckets} bucket(s); {report.expired} expired, "
        f"{report.delete_markers_added} delete marker(s) added, "
        f"{report.delete_markers_removed} removed, {report.noncurrent_expired} noncurrent "
        f"version(s) expired, {report.uploads_aborted} upload(s) aborted, "
        f"{report.kept_locked} kept by Object Lock"
    )
    return 0


def register(build: Builder) -> None:
    top = build.add(
        "lifecycle",
        cmd_lifecycle_get,
        "a bucket's lifecycle rules (S3's JSON or XML): put, get, rm, and run them",
        "objfs lifecycle put photos rules.json\nobjfs lifecycle run",
    )
    sub = build.group(top, "lifecycle_command")
    p = sub.add(
        "put",
        cmd_lifecycle_put,
        'set (or replace) the rules from {"Rules": [...]} or <LifecycleConfiguration>',
        "objfs lifecycle put photos rules.json\ncat rules.xml | objfs lifecycle put photos -",
    )
    p.add_argument("name", metavar="BUCKET")
    p.add_argument("file", metavar="FILE", nargs="?", help="JSON or XML, or - for stdin")
    for name, handler, summary in (
        ("get", cmd_lifecycle_get, "print the rules as JSON"),
        ("rm", cmd_lifecycle_rm, "remove the rules"),
    ):
        p = sub.add(name, handler, summary, f"objfs lifecycle {name} photos")
        p.add_argument("name", metavar="BUCKET")
    p = sub.add(
        "run",
        cmd_lifecycle_run,
        "apply every enabled rule now: expire, remove delete markers, abort uploads",
        "objfs lifecycle run\nobjfs lifecycle run photos --now 2027-01-31",
    )
    p.add_argument("name", metavar="BUCKET", nargs="?", help="one bucket (default: every one)")
    p.add_argument(
        "--now",
        metavar="ISO-DATE",
        help="act as if it were this date or time (UTC), e.g. to see a rule's effect early",
    )
