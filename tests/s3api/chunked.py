"""Hand-made aws-chunked bodies (what current SDKs stream), signed with objfs's SigV4."""

from __future__ import annotations

import base64
import hashlib
import zlib
from datetime import UTC, datetime

from objfs.auth import sigv4

from .support import Key, Raw, raw_request

SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def chunked_put(
    endpoint: str,
    path: str,
    key: Key,
    chunks: list[bytes],
    *,
    mode: str = SIGNED,
    trailer_value: str | None = None,
    mangle=None,  # type: ignore[no-untyped-def]  # bytes -> bytes, applied to the encoded body
    decoded_length: int | None = None,
) -> Raw:
    """PUT ``chunks`` as one aws-chunked body; ``mangle`` breaks it on purpose."""
    data = b"".join(chunks)
    amz_date = sigv4.format_amz_date(datetime.now(UTC))
    headers = {
        "host": endpoint.split("://", 1)[1],
        "x-amz-date": amz_date,
        "x-amz-content-sha256": mode,
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(
            len(data) if decoded_length is None else decoded_length
        ),
    }
    if mode == TRAILER:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    auth = sigv4.sign_headers(
        "PUT",
        path,
        [],
        list(headers.items()),
        access_key=key.key_id,
        secret_key=key.secret,
        region="us-east-1",
        service="s3",
        amz_date=amz_date,
        payload_hash=mode,
    )
    seed = auth.rsplit("Signature=", 1)[1]
    body = bytearray()
    if mode == SIGNED:
        signing = sigv4.signing_key(key.secret, amz_date[:8], "us-east-1", "s3")
        scope = sigv4.credential_scope(amz_date[:8], "us-east-1", "s3")
        previous = seed
        for chunk in [*chunks, b""]:
            sig = sigv4.chunk_signature(
                signing, amz_date, scope, previous, hashlib.sha256(chunk).hexdigest()
            )
            body += f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + chunk + b"\r\n"
            previous = sig
    else:
        for chunk in chunks:
            body += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        value = crc32_b64(data) if trailer_value is None else trailer_value
        body += f"0\r\nx-amz-checksum-crc32:{value}\r\n\r\n".encode()
    encoded = mangle(bytes(body)) if mangle else bytes(body)
    headers["content-length"] = str(len(encoded))
    return raw_request(endpoint, "PUT", path, headers=headers, body=encoded, authorization=auth)
