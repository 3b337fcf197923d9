"""CLI reading and removing keys: ``ls``, ``versions``, ``head`` and ``rm``.

Owns how listings page through the store and how deletes are batched.
Invariants: listings stream page by page (memory bounded by one page);
``rm`` of a key that does not exist is an error (unlike S3's idempotent
DeleteObject), so a typo never silently stacks delete markers; recursive
deletes proceed in batches of at most ``BATCH`` keys and report every key
that failed.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from objfs.cli.app import CliApp
from objfs.cli.args import CliError, S3Url, parse_s3_url
from objfs.cli.builder import Builder
from objfs.cli.crypto import for_download, open_cse, sse_c_refusals
from objfs.cli.crypto_args import add_read_encryption
from objfs.cli.mfa import add_mfa_option
from objfs.cli.output import (
    VERSIONS_HEADER,
    bucket_record,
    dump_json,
    format_head,
    format_ls_object,
    format_ls_prefix,
    format_version,
    head_record,
    local_time,
    version_record,
)
from objfs.cli.transfer import as_prefix
from objfs.errors import MFARequired, NoSuchKey, ObjfsError
from objfs.store.types import DeleteResult, ObjectVersion

BATCH = 1000


def cmd_ls(app: CliApp, args: argparse.Namespace) -> int:
    if not args.url:
        buckets = app.store.list_buckets(app.ctx)
        if app.json:
            dump_json([bucket_record(b) for b in buckets])
        else:
            for b in buckets:
                print(f"{local_time(b.created_ns)} {b.name}")
        return 0
    url = parse_s3_url(args.url)
    prefix = url.key
    # Names are shown relative to the "directory" part of the prefix, as the
    # aws cli does; --recursive shows full keys.
    base = "" if args.recursive else prefix[: prefix.rfind("/") + 1]
    items = app.store.iter_objects(
        app.ctx, url.bucket, prefix=prefix, delimiter=None if args.recursive else "/"
    )
    if app.json:
        records = []
        for item in items:
            if isinstance(item, str):
                records.append({"prefix": item})
            else:
                records.append(version_record(item))
        dump_json(records)
        return 0
    for item in items:
        if isinstance(item, str):
            print(format_ls_prefix(item[len(base) :]))
        else:
            print(format_ls_object(item, item.key[len(base) :]))
    return 0


def iter_versions(app: CliApp, bucket: str, prefix: str) -> Iterator[ObjectVersion]:
    """Every version and delete marker under ``prefix``, all pages."""
    key_marker: str | None = None
    vid_marker: str | None = None
    while True:
        page = app.store.list_object_versions(
            app.ctx,
            bucket,
            prefix=prefix,
            key_marker=key_marker,
            version_id_marker=vid_marker,
        )
        yield from page.versions
        if not page.is_truncated:
            return
        key_marker, vid_marker = page.next_key_marker, page.next_version_id_marker


def cmd_versions(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url)
    versions = iter_versions(app, url.bucket, url.key)
    if app.json:
        dump_json([version_record(v) for v in versions])
        return 0
    header_done = False
    for v in versions:
        if not header_done and not app.quiet:
            print(VERSIONS_HEADER)
        header_done = True
        print(format_version(v))
    return 0


def cmd_head(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url, need_key=True)
    enc = for_download(args)
    with sse_c_refusals(url):
        info = app.store.head_object(
            app.ctx, url.bucket, url.key, version_id=args.version_id, sse=enc.read
        )
    cse = open_cse(info, enc, url)  # refuses a missing or wrong client-side key
    plain_size = None if cse is None else cse.plain_size(info.size)
    if app.json:
        dump_json(head_record(info, plain_size))
    else:
        for line in format_head(info, plain_size):
            print(line)
    return 0


def _describe(url: S3Url, result: DeleteResult, asked_version: str | None) -> str:
    line = f"delete: {url}"
    if asked_version:
        kind = "delete marker" if result.delete_marker else "version"
        return f"{line} ({kind} {asked_version} removed)"
    if result.delete_marker and result.version_id:
        return f"{line} (delete marker {result.version_id} added)"
    return line


def _rm_one(app: CliApp, url: S3Url, version_id: str | None, bypass: bool = False) -> int:
    if version_id is None:
        try:
            app.store.head_object(app.ctx, url.bucket, url.key)
        except NoSuchKey as err:
            if err.details.get("delete_marker"):
                raise CliError(
                    f"{url} is already deleted (its latest version is a delete marker; "
                    "see `objfs versions`)"
                ) from None
            raise
    result = app.store.delete_object(
        app.ctx, url.bucket, url.key, version_id=version_id, bypass_governance=bypass
    )
    app.say(_describe(url, result, version_id))
    return 0


def _delete_batch(
    app: CliApp, bucket: str, items: list[tuple[str, str | None]], bypass: bool = False
) -> list[tuple[str, str | None]]:
    """Delete ``items`` in one store call; report each; return the ones that failed."""
    failed = []
    results = app.store.delete_objects(app.ctx, bucket, items, bypass_governance=bypass)
    for item, result in zip(items, results, strict=True):
        url = S3Url(bucket, item[0])
        if isinstance(result, ObjfsError):
            app.warn(f"{url}: {result}")
            failed.append(item)
        else:
            app.say(_describe(url, result, item[1]))
    return failed


def _rm_latest(app: CliApp, url: S3Url) -> int:
    """Delete every current key under the prefix (delete markers if versioned)."""
    prefix = as_prefix(url.key)
    failures = 0
    start_after: str | None = None
    while True:
        # Each batch restarts the listing after the last key it handled, so
        # the deletes never disturb an open continuation token.
        page = app.store.list_objects(
            app.ctx, url.bucket, prefix=prefix, max_keys=BATCH, start_after=start_after
        )
        keys = [v.key for v in page.contents]
        if not keys:
            break
        failures += len(_delete_batch(app, url.bucket, [(k, None) for k in keys]))
        start_after = keys[-1]
        if not page.is_truncated:
            break
    return failures


def _rm_all_versions(app: CliApp, url: S3Url, bypass: bool = False) -> int:
    """Remove every version and delete marker under the prefix, for good."""
    prefix = as_prefix(url.key)
    failed: set[tuple[str, str | None]] = set()
    done = 0
    while True:
        batch: list[tuple[str, str | None]] = []
        for v in iter_versions(app, url.bucket, prefix):
            if (v.key, v.version_id) not in failed:
                batch.append((v.key, v.version_id))
                if len(batch) == BATCH:
                    break
        if not batch:
            return len(failed)
        try:
            failures = _delete_batch(app, url.bucket, batch, bypass)
        except MFARequired as err:
            if not done:
                raise
            # Each batch is one request and an MFA code is good for one.
            raise CliError(
                f"{err} ({done} versions deleted so far: run the command again with the next code)"
            ) from None
        done += len(batch) - len(failures)
        failed.update(failures)


def cmd_rm(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url, need_key=not args.recursive)
    if args.all_versions and not args.recursive:
        raise CliError("--all-versions needs --recursive (for one version use --version-id)")
    if args.recursive:
        if args.version_id:
            raise CliError("--version-id names one object; it cannot be used with --recursive")
        app.store.head_bucket(app.ctx, url.bucket)
        failures = (
            _rm_all_versions(app, url, args.bypass_governance)
            if args.all_versions
            else _rm_latest(app, url)
        )
        return 1 if failures else 0
    return _rm_one(app, url, args.version_id, args.bypass_governance)


# -- command line ---------------------------------------------------------------


def register(build: Builder) -> None:
    p = build.add(
        "head",
        cmd_head,
        "show an object's metadata",
        "objfs head s3://docs/2026/report.pdf --json",
    )
    p.add_argument("url", metavar="s3://BUCKET/KEY")
    p.add_argument("--version-id", metavar="V", help="show this version instead of the latest")
    add_read_encryption(p)

    p = build.add(
        "ls",
        cmd_ls,
        "list buckets, or keys under a prefix (PRE lines are common prefixes)",
        "objfs ls\nobjfs ls s3://docs/2026/\nobjfs ls --recursive --json s3://docs",
    )
    p.add_argument("url", metavar="s3://BUCKET[/PREFIX]", nargs="?")
    p.add_argument("-r", "--recursive", action="store_true", help="all keys, no folding at /")

    p = build.add(
        "versions",
        cmd_versions,
        "list every version and delete marker under a prefix, newest first per key",
        "objfs versions s3://docs/2026/report.pdf",
    )
    p.add_argument("url", metavar="s3://BUCKET[/PREFIX]")

    p = build.add(
        "rm",
        cmd_rm,
        "delete a key (a delete marker if versioned), one version, or a prefix",
        "objfs rm s3://docs/draft.txt\n"
        "objfs rm s3://docs/draft.txt --version-id 0000000001a2b3c4\n"
        "objfs rm --recursive s3://docs/tmp/\n"
        "objfs rm --recursive --all-versions s3://scratch   # empty a bucket for good\n"
        'objfs rm s3://docs/draft.txt --version-id 0000000001a2b3c4 --mfa "arn:objfs:iam::owner:mfa/root 123456"',
    )
    p.add_argument("url", metavar="s3://BUCKET/KEY")
    p.add_argument("--version-id", metavar="V", help="remove this version permanently")
    p.add_argument("-r", "--recursive", action="store_true", help="every key under the prefix")
    p.add_argument(
        "--all-versions",
        action="store_true",
        help="with --recursive: remove every version and delete marker permanently",
    )
    add_mfa_option(p, what="needed to remove versions while the bucket has MFA delete on")
    p.add_argument(
        "--bypass-governance",
        action="store_true",
        help="remove versions under GOVERNANCE Object Lock retention "
        "(needs s3:BypassGovernanceRetention; see `objfs lock`)",
    )
