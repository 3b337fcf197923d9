"""CLI: ``objfs presign s3://B/K`` — a pre-signed URL for a running ``objfs serve``.

Signs with the caller's access key (``--profile`` or the AWS_* environment,
checked against the store first); the URL carries the signer's permissions,
which the server checks when the URL is *used* (S3-SEMANTICS.md,
"Pre-signed URLs"). The store owner has no access key, so it cannot sign.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from urllib.parse import urlsplit

from objfs.auth import sigv4
from objfs.auth.credentials import find_credentials
from objfs.cli.app import CliApp
from objfs.cli.args import CliError, parse_s3_url
from objfs.cli.builder import Builder

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


def cmd_presign(app: CliApp, args: argparse.Namespace) -> int:
    url = parse_s3_url(args.url, need_key=True)
    creds = find_credentials(app.profile, app.credentials_file)
    if creds is None:
        raise CliError(
            "presign signs with an access key: pass --profile NAME or set AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY (the store owner has no key)"
        )
    app.ctx  # noqa: B018 - checks the key against the store: a wrong secret fails here
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
        'curl -T cat.jpg "$(objfs --profile alice presign s3://photos/cat.jpg --method PUT)"',
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
        "--endpoint",
        default="http://127.0.0.1:9000",
        metavar="URL",
        help="the objfs serve endpoint (default http://127.0.0.1:9000)",
    )
