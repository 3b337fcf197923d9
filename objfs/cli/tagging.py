"""CLI for tags: ``objfs tag put|get|rm s3://BUCKET[/KEY]``.

A URL with a key names an object (its latest version, or ``--version-id``);
a URL without one names the bucket. ``put`` replaces the whole tag set, as
S3's PutObjectTagging / PutBucketTagging do; the store validates (S3's
limits and characters) and a refusal is one line.
"""

from __future__ import annotations

import argparse

from objfs.cli.app import CliApp
from objfs.cli.args import CliError, parse_s3_url
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json
from objfs.store.tagging import tag_pairs


def parse_tag(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (or ``KEY`` alone: the empty value) for ``objfs tag put``."""
    key, _, value = text.partition("=")
    if not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _version_note(version_id: str) -> str:
    return "" if version_id == "null" else f" (version {version_id})"


def cmd_tag_put(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url)
    tags = tag_pairs(args.tags)
    if url.key:
        info = app.store.put_object_tagging(
            app.ctx, url.bucket, url.key, tags, version_id=args.version_id
        )
        app.say(f"{len(tags)} tag(s) set on {url}{_version_note(info.version_id)}")
    else:
        if args.version_id:
            raise CliError("--version-id names an object's version: give s3://BUCKET/KEY")
        app.store.put_bucket_tagging(app.ctx, url.bucket, tags)
        app.say(f"{len(tags)} tag(s) set on bucket {url.bucket}")
    return 0


def cmd_tag_get(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url)
    if url.key:
        info = app.store.get_object_tagging(
            app.ctx, url.bucket, url.key, version_id=args.version_id
        )
        tags = info.tags
    else:
        tags = app.store.get_bucket_tagging(app.ctx, url.bucket)
    if app.json:
        dump_json({"TagSet": [{"Key": k, "Value": tags[k]} for k in sorted(tags)]})
    else:
        for key in sorted(tags):
            print(f"{key}={tags[key]}")
    return 0


def cmd_tag_rm(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url)
    if url.key:
        info = app.store.delete_object_tagging(
            app.ctx, url.bucket, url.key, version_id=args.version_id
        )
        app.say(f"tags removed from {url}{_version_note(info.version_id)}")
    else:
        app.store.delete_bucket_tagging(app.ctx, url.bucket)
        app.say(f"tags removed from bucket {url.bucket}")
    return 0


def register(build: Builder) -> None:
    p = build.add(
        "tag",
        cmd_tag_get,
        "show or set the tags of an object (s3://BUCKET/KEY) or a bucket (s3://BUCKET)",
        "objfs tag put s3://photos/2026/a.jpg project=alpha review=\n"
        "objfs tag get s3://photos/2026/a.jpg\n"
        "objfs tag put s3://photos team=media\n"
        "objfs tag rm s3://photos/2026/a.jpg --version-id V",
    )
    sub = build.group(p, "tag_command")
    q = sub.add(
        "put",
        cmd_tag_put,
        "replace the tag set (at most 10 tags on an object, 50 on a bucket)",
        "objfs tag put s3://photos/2026/a.jpg project=alpha review=\n"
        "objfs tag put s3://photos team=media",
    )
    q.add_argument("url", metavar="s3://BUCKET[/KEY]")
    q.add_argument("tags", metavar="KEY=VALUE", nargs="+", type=parse_tag, help="a tag")
    q.add_argument("--version-id", metavar="V", help="an object's version (default: latest)")
    for name, handler, summary in (
        ("get", cmd_tag_get, "print the tags, one KEY=VALUE a line (--json: S3's TagSet)"),
        ("rm", cmd_tag_rm, "remove every tag"),
    ):
        q = sub.add(name, handler, summary, f"objfs tag {name} s3://photos/2026/a.jpg")
        q.add_argument("url", metavar="s3://BUCKET[/KEY]")
        q.add_argument("--version-id", metavar="V", help="an object's version (default: latest)")
