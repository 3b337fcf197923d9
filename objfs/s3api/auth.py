"""Who sent a request: SigV4 or SigV2 (header or pre-signed query) or nobody (anonymous).

The math is ``objfs.auth.sigv4`` and ``objfs.auth.sigv2`` (which the server
may refuse: ``objfs serve --no-sigv2``); the secret comes from
``Store.signing_secret``. This module only picks the mode and builds the
``RequestContext`` every store call is checked against. Payload modes
(``x-amz-content-sha256``): a hex SHA-256 (checked by ``body``),
``UNSIGNED-PAYLOAD``, ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` (chunk
signatures chained to this request's signature) and
``STREAMING-UNSIGNED-PAYLOAD-TRAILER``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from objfs.auth import sigv2, sigv4
from objfs.auth.identity import Identity
from objfs.errors import AuthorizationHeaderMalformed, InvalidRequest
from objfs.s3api.body import ChunkSigner, chunk_signer
from objfs.store import RequestContext

V2_REFUSED = (
    "The authorization mechanism you have provided is not supported. "
    "Please use AWS4-HMAC-SHA256 (signature_version='s3v4')."
)
SUPPORTED_STREAMING = (
    sigv4.STREAMING_PAYLOAD,
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
)


@dataclass(slots=True, frozen=True)
class Authenticated:
    ctx: RequestContext
    auth_type: str | None  # "AuthHeader", "QueryString" or None (anonymous)
    payload: str  # x-amz-content-sha256 as sent (UNSIGNED-PAYLOAD for pre-signed)
    signer: ChunkSigner | None = None
    signature_version: str | None = None  # "SigV4", "SigV2" or None (anonymous)


class SecretSource(Protocol):
    """What authentication needs of the store: an access key's owner and secret."""

    def signing_secret(self, key_id: str) -> tuple[Identity, str]: ...


def authenticate(
    store: SecretSource,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    h: dict[str, str],
    *,
    remote_addr: str | None,
    secure: bool,
    now: datetime | None = None,
    sign_path: str | None = None,
    allow_sigv2: bool = True,
) -> Authenticated:
    """Verify the request's signature (runs on a worker thread: it reads the store).

    ``sign_path`` is the path as SigV2 signs it: as sent, still
    percent-encoded, ``/BUCKET`` first for a virtual-hosted request (default:
    ``path`` encoded again).
    """
    now = now or datetime.now(UTC)
    payload = h.get("x-amz-content-sha256", "")

    def context(identity: Identity, access_key: str | None) -> RequestContext:
        return RequestContext(
            identity,
            "api",
            remote_addr=remote_addr,
            mfa=h.get("x-amz-mfa"),
            secure_transport=secure,
            user_agent=h.get("user-agent"),
            access_key=access_key,
        )

    header = h.get("authorization")
    if sigv2.is_header(header) or (header is None and sigv2.is_presigned(query)):
        if not allow_sigv2:
            raise InvalidRequest(V2_REFUSED)  # never anonymous: the caller meant to sign
        return _authenticate_v2(
            store, method, sign_path or sigv4.uri_encode(path, encode_slash=False), query,
            headers, header, payload, now, context,
        )  # fmt: skip
    if header is not None:
        if not header.startswith(sigv4.ALGORITHM):
            raise AuthorizationHeaderMalformed(
                "only AWS Signature Version 4 (AWS4-HMAC-SHA256) is supported"
            )
        auth = sigv4.parse_authorization(header)
        if payload.startswith("STREAMING-") and payload not in SUPPORTED_STREAMING:
            raise InvalidRequest(f"payload mode {payload} is not supported")
        identity, secret = store.signing_secret(auth.credential.access_key)
        sigv4.verify_headers(method, path, query, headers, auth, secret, now=now)
        signer = None
        if payload == sigv4.STREAMING_PAYLOAD:
            cred = auth.credential
            key = sigv4.signing_key(secret, cred.date, cred.region, cred.service)
            signer = chunk_signer(key, sigv4.request_amz_date(h), cred.scope, auth.signature)
        return Authenticated(
            context(identity, cred_key(auth)), "AuthHeader", payload, signer, "SigV4"
        )
    if any(k == "X-Amz-Signature" or k == "X-Amz-Credential" for k, _ in query):
        auth = sigv4.parse_presigned(query)
        identity, secret = store.signing_secret(auth.credential.access_key)
        sigv4.verify_presigned(method, path, query, headers, secret, now=now)
        return Authenticated(
            context(identity, cred_key(auth)),
            "QueryString",
            sigv4.UNSIGNED_PAYLOAD,
            None,
            "SigV4",
        )
    if payload.startswith("STREAMING-AWS4"):
        raise AuthorizationHeaderMalformed(
            "a signed streaming payload needs an Authorization header"
        )
    return Authenticated(context(Identity.anonymous(), None), None, payload)


def cred_key(auth: sigv4.Authorization) -> str:
    return auth.credential.access_key


def _authenticate_v2(
    store: SecretSource,
    method: str,
    sign_path: str,
    query: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    header: str | None,
    payload: str,
    now: datetime,
    context: Callable[[Identity, str | None], RequestContext],
) -> Authenticated:
    """A Signature Version 2 request: the same key lookup, expiry and tamper checks."""
    if payload.startswith("STREAMING-AWS4"):
        raise InvalidRequest("a signed streaming payload needs Signature Version 4")
    if header is not None:
        auth = sigv2.parse_authorization(header)
        identity, secret = store.signing_secret(auth.access_key)
        sigv2.verify_headers(method, sign_path, query, headers, auth, secret, now=now)
        return Authenticated(
            context(identity, auth.access_key), "AuthHeader", payload, None, "SigV2"
        )
    auth = sigv2.parse_presigned(query)
    identity, secret = store.signing_secret(auth.access_key)
    sigv2.verify_presigned(method, sign_path, query, headers, secret, now=now)
    return Authenticated(
        context(identity, auth.access_key), "QueryString", sigv4.UNSIGNED_PAYLOAD, None, "SigV2"
    )
