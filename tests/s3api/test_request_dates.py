"""When a request says it was signed: SigV4 with a Date header instead of
X-Amz-Date, SigV2's x-amz-date (empty, before 1970), and a pre-signed URL whose
X-Amz-Expires is 0. Each as boto3 (or a URL) sends it, as S3 answers it."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from email.utils import formatdate

import pytest
from botocore.exceptions import ClientError

from .support import client


def status(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def with_headers(c, operation: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    """``c`` adding ``headers`` to every ``operation`` call before it is signed."""
    c.meta.events.register(
        f"before-call.s3.{operation}", lambda **kw: kw["params"]["headers"].update(headers)
    )
    return c


def test_sigv4_signed_with_the_date_header(server, keys, bkt) -> None:
    """botocore signs with the Date header (and sends no X-Amz-Date) when the
    request carries one; SigV4 allows either."""
    date = formatdate(usegmt=True)
    for extra in ({"Date": date, "X-Amz-Date": date}, {"Date": "", "X-Amz-Date": date}):
        c = with_headers(client(server.endpoint, keys["alice"]), "PutObject", extra)
        c.put_object(Bucket=bkt, Key="dated", Body=b"bar")
    assert (
        client(server.endpoint, keys["alice"]).get_object(Bucket=bkt, Key="dated")["Body"].read()
        == b"bar"
    )


@pytest.mark.parametrize(
    ("amz_date", "code"),
    [
        ("", "AccessDenied"),  # present and empty: it decides, and is no date
        ("Tue, 07 Jul 1950 21:53:04 GMT", "AccessDenied"),  # before 1970: no valid date
        ("Tue, 07 Jul 2010 21:53:04 GMT", "RequestTimeTooSkewed"),
    ],
)
def test_sigv2_x_amz_date(server, keys, bkt, amz_date: str, code: str) -> None:
    for operation, call in (
        ("PutObject", lambda c: c.put_object(Bucket=bkt, Key="k", Body=b"bar")),
        ("CreateBucket", lambda c: c.create_bucket(Bucket=f"{bkt}-v2")),
    ):
        c = client(server.endpoint, keys["alice"], signature_version="s3")
        with_headers(c, operation, {"x-amz-date": amz_date})
        with pytest.raises(ClientError) as exc:
            call(c)
        assert status(exc) == (code, 403)


def test_presigned_url_with_expires_zero_has_expired(alice, bkt) -> None:
    alice.put_object(Bucket=bkt, Key="dl", Body=b"x")
    url = alice.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": "dl"})
    url = re.sub(r"X-Amz-Expires=\d+", "X-Amz-Expires=0", url)
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(url, timeout=10)  # noqa: S310 - our own endpoint
    assert exc.value.code == 403
    body = exc.value.read()
    assert b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body
