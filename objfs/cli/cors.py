"""CLI for a bucket's CORS rules: ``objfs bucket cors put|get|rm``.

Takes and prints S3's JSON shape, as ``aws s3api put-bucket-cors
--cors-configuration`` takes it and ``get-bucket-cors`` prints it
(``{"CORSRules": [...]}``). The store validates; a bad configuration is
refused in one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from objfs.cli.app import CliApp
from objfs.cli.args import CliError
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json


def _read_configuration(source: str | None) -> list[Any]:
    if source in (None, "-"):
        if sys.stdin.isatty():
            raise CliError("give the CORS configuration as a FILE, or pipe it in with -")
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as err:
            raise CliError(f"cannot read CORS file {source}: {err.strerror}") from None
        except UnicodeDecodeError:
            raise CliError(f"CORS file {source} is not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise CliError(f"the CORS configuration is not JSON: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("CORSRules"), list):
        raise CliError('the CORS configuration is {"CORSRules": [...]}, as S3 takes it')
    return doc["CORSRules"]


def cmd_bucket_cors_put(app: CliApp, args: argparse.Namespace) -> int:
    rules = app.store.put_bucket_cors(app.ctx, args.name, _read_configuration(args.file))
    if app.json:
        dump_json({"CORSRules": [r.to_obj() for r in rules]})
    else:
        app.say(f"{len(rules)} CORS rule(s) set on bucket {args.name}")
    return 0


def cmd_bucket_cors_get(app: CliApp, args: argparse.Namespace) -> int:
    rules = app.store.get_bucket_cors(app.ctx, args.name)
    dump_json({"CORSRules": [r.to_obj() for r in rules]})
    return 0


def cmd_bucket_cors_rm(app: CliApp, args: argparse.Namespace) -> int:
    app.store.delete_bucket_cors(app.ctx, args.name)
    app.say(f"CORS rules removed from bucket {args.name}")
    return 0


def register_bucket_cors(inner: Builder) -> None:
    """``objfs bucket cors ACTION`` (called from the bucket group)."""
    cors = inner.add(
        "cors",
        cmd_bucket_cors_get,
        "a bucket's CORS rules (S3's JSON shape): put, get, rm",
        "objfs bucket cors put photos cors.json\nobjfs bucket cors get photos",
    )
    sub = inner.group(cors, "bucket_cors_command")
    p = sub.add(
        "put",
        cmd_bucket_cors_put,
        'set (or replace) the CORS rules from {"CORSRules": [...]}',
        "objfs bucket cors put photos cors.json\ncat cors.json | objfs bucket cors put photos -",
    )
    p.add_argument("name", metavar="BUCKET")
    p.add_argument("file", metavar="FILE", nargs="?", help="the JSON document, or - for stdin")
    for name, handler, summary in (
        ("get", cmd_bucket_cors_get, "print the CORS rules as JSON"),
        ("rm", cmd_bucket_cors_rm, "remove the CORS rules"),
    ):
        p = sub.add(name, handler, summary, f"objfs bucket cors {name} photos")
        p.add_argument("name", metavar="BUCKET")
