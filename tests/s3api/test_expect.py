"""``Expect: 100-continue`` over a raw socket, as S3 answers it: "100 Continue"
only once the request is authenticated and authorized and its body wanted; a
refused request gets its final status alone (the client never sends the
body). Every final answer carries a reason phrase (botocore reads a status
line without one as garbage when it waits for 100), and a header the HTTP
parser refuses (an empty Content-Length) is an S3 error document botocore
reads.
"""

from __future__ import annotations

import socket

import pytest
from botocore.exceptions import ClientError

from .support import Key, Server, sign_v4

TIMEOUT = 30.0  # generous: a loaded machine is slow, never wrong


def request_head(
    server: Server, method: str, path: str, key: Key | None, headers: dict[str, str], body: bytes
) -> bytes:
    hdrs = {"host": f"127.0.0.1:{server.port}", **headers}
    if key is not None:
        sign_v4(hdrs, method, path, [], key, body=body)
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in hdrs.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(f) -> tuple[bytes, dict[str, str], bytes]:  # type: ignore[no-untyped-def]
    """One response (an interim 1xx included) from a socket file: status line,
    headers, body (by Content-Length)."""
    status = f.readline()
    assert status, "the server closed the connection without an answer"
    headers: dict[str, str] = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = f.read(int(headers.get("content-length", "0")))
    return status.rstrip(b"\r\n"), headers, body


def expect_put(server: Server, path: str, key: Key | None, body: bytes, **headers: str):  # type: ignore[no-untyped-def]
    """Send the head of a PUT with Expect: 100-continue; the body only after a 100.
    Returns the responses read, interim ones first."""
    head = request_head(
        server,
        "PUT",
        path,
        key,
        {"content-length": str(len(body)), "expect": "100-continue", **headers},
        body,
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(head)
        f = sock.makefile("rb")
        first = read_response(f)
        if not first[0].startswith(b"HTTP/1.1 100 "):
            return [first]
        sock.sendall(body)
        return [first, read_response(f)]


def test_a_refused_put_gets_its_final_status_without_100(server, keys, alice, bkt):
    body = b"not wanted" * 1000
    wrong = Key("alice", keys["alice"].key_id, "not the secret")
    for who, code in ((None, b"AccessDenied"), (wrong, b"SignatureDoesNotMatch")):
        answers = expect_put(server, f"/{bkt}/k", who, body)
        assert len(answers) == 1, answers[0][0]
        status, headers, doc = answers[0]
        assert status == b"HTTP/1.1 403 Forbidden"
        assert b"<Code>" + code + b"</Code>" in doc
        assert headers.get("connection") == "close"  # the body was never asked for
    # Bob is authenticated but has no right to write into alice's bucket.
    answers = expect_put(server, f"/{bkt}/k", keys["bob"], body)
    assert [a[0] for a in answers] == [b"HTTP/1.1 403 Forbidden"]
    assert "Contents" not in alice.list_objects_v2(Bucket=bkt)
    log = server.stderr()
    assert "BusyResourceError" not in log and "Traceback" not in log, log


def test_an_authorized_put_gets_100_then_200(server, keys, alice, bkt):
    body = b"wanted " * 5000
    answers = expect_put(server, f"/{bkt}/k", keys["alice"], body)
    assert [a[0] for a in answers] == [b"HTTP/1.1 100 Continue", b"HTTP/1.1 200 OK"]
    assert alice.get_object(Bucket=bkt, Key="k")["Body"].read() == body
    log = server.stderr()
    assert "BusyResourceError" not in log and "Traceback" not in log, log


def test_botocore_waiting_for_100_reads_a_refusal(anon, bkt):
    """botocore sends Expect: 100-continue with a PutObject body and reads a
    final answer in its place only when its status line has three parts."""
    with pytest.raises(ClientError) as exc:
        anon.put_object(Bucket=bkt, Key="k", Body=b"x" * 100_000)
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize("body", [b"", b"hello"])
def test_an_empty_content_length_is_an_error_botocore_reads(alice, bkt, body):
    def empty_length(request, **_: object) -> None:  # type: ignore[no-untyped-def]
        request.headers["Content-Length"] = ""

    alice.meta.events.register("before-send.s3.PutObject", empty_length)
    try:
        with pytest.raises(ClientError) as exc:
            alice.put_object(Bucket=bkt, Key="k", Body=body)
    finally:
        alice.meta.events.unregister("before-send.s3.PutObject", empty_length)
    e = exc.value.response
    assert (e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidRequest", 400)
    assert "Contents" not in alice.list_objects_v2(Bucket=bkt)
