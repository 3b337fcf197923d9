"""aws-chunked request bodies: signed chunks and unsigned-with-trailer, and how
broken ones are refused with nothing committed."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from .chunked import SIGNED, TRAILER, chunked_put


def absent(alice, bkt: str, key: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        alice.head_object(Bucket=bkt, Key=key)
    except ClientError:
        return True
    return False


@pytest.mark.parametrize("mode", [SIGNED, TRAILER])
def test_chunked_upload_is_decoded(server, keys, alice, bkt, mode):
    chunks = [os.urandom(65536), os.urandom(65536), os.urandom(1000)]
    resp = chunked_put(server.endpoint, f"/{bkt}/c", keys["alice"], chunks, mode=mode)
    assert resp.status == 200, resp.body
    assert alice.get_object(Bucket=bkt, Key="c")["Body"].read() == b"".join(chunks)
    if mode == TRAILER:
        assert resp.headers["x-amz-checksum-crc32"]


def _flip_in_data(body: bytes) -> bytes:
    i = body.index(b"\r\n") + 10
    return body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :]


@pytest.mark.parametrize(
    ("mode", "mangle", "status", "code"),
    [
        (SIGNED, _flip_in_data, 403, "SignatureDoesNotMatch"),
        (SIGNED, lambda b: b[: len(b) // 2], 400, "IncompleteBody"),
        (
            SIGNED,
            lambda b: b.replace(b"chunk-signature=", b"chunk-signaturX=", 1),
            400,
            "IncompleteBody",
        ),
        (TRAILER, lambda b: b[: b.rindex(b"0\r\n")], 400, "IncompleteBody"),
        (TRAILER, lambda b: b"zz\r\n" + b, 400, "IncompleteBody"),
        (TRAILER, _flip_in_data, 400, "BadDigest"),
    ],
)
def test_broken_chunked_bodies_commit_nothing(server, keys, alice, bkt, mode, mangle, status, code):
    chunks = [os.urandom(4096), os.urandom(4096)]
    resp = chunked_put(
        server.endpoint, f"/{bkt}/broken", keys["alice"], chunks, mode=mode, mangle=mangle
    )
    assert (resp.status, resp.code) == (status, code), resp.body
    assert absent(alice, bkt, "broken")


def test_wrong_trailer_checksum_and_length(server, keys, alice, bkt):
    resp = chunked_put(
        server.endpoint,
        f"/{bkt}/t",
        keys["alice"],
        [b"abc"],
        mode=TRAILER,
        trailer_value="AAAAAA==",
    )
    assert (resp.status, resp.code) == (400, "BadDigest")
    resp = chunked_put(server.endpoint, f"/{bkt}/t", keys["alice"], [b"abc"], decoded_length=4)
    assert (resp.status, resp.code) == (400, "IncompleteBody")
    assert absent(alice, bkt, "t")
