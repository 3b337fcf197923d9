"""CLI: ``objfs presign s3://B/K`` — a pre-signed URL for a running ``objfs serve``.

``--post`` prints instead the URL and form fields of a browser upload (POST
Object), signed as boto3's ``generate_presigned_post`` signs them: a SigV4
POST policy with the bucket and key, each ``--field`` and each ``--condition``.

Signs with the caller's access key (``--profile`` or the AWS_* environment,
checked against the store first); the URL carries the signer's permissions,
which the server checks when the URL is *used* (S3-SEMANTICS.md,
"Pre-signed URLs"). The store owner has no access key, so it cannot sign.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from objfs.auth import postpolicy, sigv4
from objfs.auth.credentials import find_credentials
from objfs.cli.app import CliApp
from objfs.cli.args import CliError, parse_s3_url
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json

REGION = "us-east-1"  # the region S3 clients sign with by default; objfs serve accepts any


def _expires(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= sigv4.MAX_EXPIRES:
        raise argparse.ArgumentTypeError(
            f"--expires takes 1 to {sigv4.MAX_EXPIRES} seconds (7 days), not {text!r}"
        )
    return int(text)


def presigned_url(
    endpoint: str,
    bucket: str,
    key: str,
    *,
    method: str,
    access_key: str,
    secret_key: str,
    expires: int,
    now: datetime | None = None,
) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(f"--endpoint must be http(s)://HOST:PORT, not {endpoint!r}")
    base = parts.path.rstrip("/")
    path = f"{base}/{bucket}/{key}"
    params = sigv4.presign(
        method,
        path,
        [],
        [("host", parts.netloc)],
        access_key=access_key,
        secret_key=secret_key,
        region=REGION,
        amz_date=sigv4.format_amz_date(now or datetime.now(UTC)),
        expires=expires,
    )
    query = "&".join(f"{sigv4.uri_encode(k)}={sigv4.uri_encode(v)}" for k, v in params)
    return f"{parts.scheme}://{parts.netloc}{sigv4.uri_encode(path, encode_slash=False)}?{query}"


def presigned_post(
    endpoint: str,
    bucket: str,
    key: str,
    *,
    access_key: str,
    secret_key: str,
    expires: int,
    fields: dict[str, str] | None = None,
    conditions: list[object] | None = None,
    now: datetime | None = None,
) -> tuple[str, dict[str, str]]:
    """(URL, form fields) of a browser upload to ``bucket``: the policy names
    the bucket, the key (a prefix when it ends in ``${filename}``), each
    field given (unless a condition names it) and each extra condition."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(f"--endpoint must be http(s)://HOST:PORT, not {endpoint!r}")
    now = now or datetime.now(UTC)
    fields = dict(fields or {})
    conditions = list(conditions or [])
    named = {_condition_field(c) for c in conditions}
    policy_conditions: list[object] = [{"bucket": bucket}]
    if key.endswith("${filename}"):
        policy_conditions.append(["starts-with", "$key", key[: -len("${filename}")]])
    else:
        policy_conditions.append({"key": key})
    policy_conditions += [{k: v} for k, v in fields.items() if k.lower() not in named]
    policy = {
        "expiration": (now + timedelta(seconds=expires)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "conditions": policy_conditions + conditions,
    }
    signed = postpolicy.sign_v4(
        policy, access_key=access_key, secret_key=secret_key, region=REGION, now=now
    )
    url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/{sigv4.uri_encode(bucket)}"
    return url, {"key": key, **fields, **signed}


def _condition_field(condition: object) -> str:
    if isinstance(condition, dict) and len(condition) == 1:
        return str(next(iter(condition))).lower().lstrip("$")
    if isinstance(condition, list) and len(condition) == 3 and isinstance(condition[1], str):
        return condition[1].lower().lstrip("$")
    return ""


def _condition(text: str) -> object:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, (list, dict)):
        raise argparse.ArgumentTypeError(
            f"--condition takes a JSON policy condition, such as "
            f"'[\"content-length-range\", 0, 1048576]', not {text!r}"
        )
    return value


def _field(text: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq or not name:
        raise argparse.ArgumentTypeError(f"--field takes NAME=VALUE, not {text!r}")
    return name, value


def cmd_presign(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url, need_key=True)
    creds = find_credentials(app.profile, app.credentials_file)
    if creds is None:
        raise CliError(
            "presign signs with an access key: pass --profile NAME or set AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY (the store owner has no key)"
        )
    app.ctx  # noqa: B018 - checks the key against the store: a wrong secret fails here
    if args.post:
        post_url, fields = presigned_post(
            args.endpoint,
            url.bucket,
            url.key,
            access_key=creds.access_key_id,
            secret_key=creds.secret_access_key,
            expires=args.expires,
            fields=dict(args.field or []),
            conditions=args.condition or [],
        )
        if app.json:
            dump_json({"url": post_url, "fields": fields})
            return 0
        print(f"POST {post_url}")
        for name, value in fields.items():
            print(f"{name}={value}")
        print("file=<the file: the form's last field>")
        return 0
    if args.field or args.condition:
        raise CliError("--field and --condition are for --post")
    print(
        presigned_url(
            args.endpoint,
            url.bucket,
            url.key,
            method=args.method,
            access_key=creds.access_key_id,
            secret_key=creds.secret_access_key,
            expires=args.expires,
        )
    )
    return 0


def register(build: Builder) -> None:
    p = build.add(
        "presign",
        cmd_presign,
        "print a pre-signed URL for an object on a running `objfs serve`",
        "objfs --profile alice presign s3://photos/cat.jpg --expires 600\n"
        'curl -T cat.jpg "$(objfs --profile alice presign s3://photos/cat.jpg --method PUT)"\n'
        "objfs --profile alice presign --post 's3://photos/uploads/${filename}' \\\n"
        "    --condition '[\"content-length-range\", 0, 10485760]' --field acl=public-read",
    )
    p.add_argument("url", metavar="s3://BUCKET/KEY")
    p.add_argument(
        "--expires",
        type=_expires,
        default=3600,
        metavar="SECONDS",
        help="validity, 1 to 604800 seconds (default 3600)",
    )
    p.add_argument(
        "--method",
        choices=("GET", "PUT", "HEAD"),
        default="GET",
        help="the HTTP method the URL is for (default GET)",
    )
    p.add_argument(
        "--post",
        action="store_true",
        help="print the URL and form fields of a browser upload (POST Object) instead",
    )
    p.add_argument(
        "--field",
        action="append",
        type=_field,
        metavar="NAME=VALUE",
        help="--post: a form field (Content-Type=image/png, acl=..., x-amz-meta-*=...), "
        "which the policy requires as given",
    )
    p.add_argument(
        "--condition",
        action="append",
        type=_condition,
        metavar="JSON",
        help="--post: one more policy condition, e.g. "
        '\'["starts-with", "$Content-Type", "image/"]\'',
    )
    p.add_argument(
        "--endpoint",
        default="http://127.0.0.1:9000",
        metavar="URL",
        help="the objfs serve endpoint (default http://127.0.0.1:9000)",
    )
