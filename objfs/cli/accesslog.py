"""CLI server access logs: ``objfs bucket logging put|get|rm|flush|query``.

Owns the ``logging`` sub-group of ``objfs bucket``: configuring where a
bucket's access log goes, delivering pending records now, and reading
delivered log objects back with filters for a human (or ``--json``). Every
rule (self-target refused, the target must accept delivery, the line
format) is the store's (``objfs/store/accesslog.py``); this module parses
arguments and prints.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from objfs.cli.app import CliApp
from objfs.cli.args import CliError, parse_s3_url
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json
from objfs.store.logquery import principal_names, query_access_logs

if TYPE_CHECKING:
    from objfs.store.accesslog import BucketLogging

# A record's key or name is whatever a client sent: shown to a person, its
# control characters are escaped so it stays on its line and cannot drive
# the terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _printable(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(one, text)


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> datetime:
    """``30m``, ``2h``, ``7d`` ago, or an ISO 8601 date/time (UTC unless it says)."""
    match = _RELATIVE.match(text.strip())
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return datetime.now(UTC) - delta
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (use 30m, 2h, 7d, or 2026-11-30T10:00)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _target(logging: BucketLogging) -> str:
    return f"s3://{logging.target_bucket}/{logging.target_prefix}"


def cmd_logging_put(app: CliApp, args: argparse.Namespace) -> int:
    config = app.store.put_bucket_logging(
        app.ctx, args.name, args.target_bucket, args.target_prefix
    )
    app.say(f"logging: s3://{config.bucket} -> {_target(config)}")
    return 0


def cmd_logging_get(app: CliApp, args: argparse.Namespace) -> int:
    config = app.store.get_bucket_logging(app.ctx, args.name)
    if app.json:
        dump_json(
            None
            if config is None
            else {
                "bucket": config.bucket,
                "target_bucket": config.target_bucket,
                "target_prefix": config.target_prefix,
            }
        )
    elif config is None:
        print(f"{args.name}: logging off")
    else:
        print(f"{args.name}: {_target(config)}")
    return 0


def cmd_logging_rm(app: CliApp, args: argparse.Namespace) -> int:
    app.store.delete_bucket_logging(app.ctx, args.name)
    app.say(f"logging off: s3://{args.name} (records already captured are still delivered)")
    return 0


def cmd_logging_flush(app: CliApp, args: argparse.Namespace) -> int:
    delivered = app.store.flush_access_logs(app.ctx)
    if app.json:
        dump_json([{"bucket": d.bucket, "key": d.key, "records": d.records} for d in delivered])
    else:
        for d in delivered:
            app.say(f"delivered {d.records} record(s) to s3://{d.bucket}/{d.key}")
        if not delivered:
            app.say("nothing to deliver")
    return 0


def cmd_logging_query(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url)
    records = query_access_logs(
        app.store,
        app.ctx,
        url.bucket,
        url.key,
        since=args.since,
        operation=args.op,
        status=args.status,
        requester=args.requester,
    )
    if app.json:
        dump_json([r.to_obj() for r in records])
        return 0
    names = principal_names(app.store)
    for r in records:
        who = "anonymous" if r.requester is None else names.get(r.requester, r.requester)
        where = f"s3://{r.bucket}/{r.key}" if r.key is not None else f"s3://{r.bucket}"
        line = (
            f"{r.time.strftime('%Y-%m-%dT%H:%M:%SZ')}  {who:<12} {r.remote_ip or '-':<15} "
            f"{r.operation:<24} {r.http_status or '-':>3} {r.error_code or '-':<14} "
            f"{r.bytes_sent or 0:>9} B {_or_dash(r.total_time_ms):>5} ms  {where}"
        )
        print(_printable(line))
    return 0


def _or_dash(value: int | None) -> str:
    """A record's number, or ``-`` where it has none (a lifecycle action has no
    request, so no status and no time: S3 logs ``-`` there too)."""
    return "-" if value is None else str(value)


def register(bucket_group: Builder) -> None:
    """Add ``objfs bucket logging ...`` to the ``bucket`` group (``objfs/cli/buckets.py``)."""
    logging = bucket_group.add(
        "logging",
        cmd_logging_get_usage,
        "server access logs: where a bucket's log goes, and reading it back",
        "objfs bucket logging put photos --target-bucket logs --target-prefix photos/\n"
        "objfs bucket logging query s3://logs/photos/ --since 1h --status 403",
    )
    inner = bucket_group.group(logging, "logging_command")
    p = inner.add(
        "put",
        cmd_logging_put,
        "log every request on a bucket into objects in another bucket",
        "objfs bucket logging put photos --target-bucket logs --target-prefix photos/",
    )
    p.add_argument("name", metavar="BUCKET")
    p.add_argument("--target-bucket", required=True, metavar="T", help="bucket the logs go to")
    p.add_argument(
        "--target-prefix", default="", metavar="P", help="prefix of the log objects' keys"
    )
    p = inner.add(
        "get",
        cmd_logging_get,
        "show where a bucket's access log goes",
        "objfs bucket logging get photos",
    )
    p.add_argument("name", metavar="BUCKET")
    p = inner.add(
        "rm", cmd_logging_rm, "turn a bucket's access log off", "objfs bucket logging rm photos"
    )
    p.add_argument("name", metavar="BUCKET")
    inner.add(
        "flush",
        cmd_logging_flush,
        "deliver every pending record now (store owner only)",
        "objfs bucket logging flush",
    )
    p = inner.add(
        "query",
        cmd_logging_query,
        "read delivered access logs back, filtered",
        "objfs bucket logging query s3://logs/photos/ --since 2h --op GET.OBJECT\n"
        "objfs bucket logging query s3://logs/photos/ --status 403 --requester alice --json",
    )
    p.add_argument("url", metavar="s3://T/P", help="target bucket and prefix of the logs")
    p.add_argument(
        "--since", type=parse_since, metavar="T", help="only records from T on (30m, 2h, ISO)"
    )
    p.add_argument("--op", metavar="OP", help="operation, e.g. REST.GET.OBJECT or GET.OBJECT")
    p.add_argument("--status", type=int, metavar="N", help="HTTP status, e.g. 403")
    p.add_argument("--requester", metavar="U", help="user name, owner, anonymous or canonical id")


def cmd_logging_get_usage(app: CliApp, args: argparse.Namespace) -> int:
    raise CliError("say what to do: objfs bucket logging put|get|rm|flush|query (see --help)")
