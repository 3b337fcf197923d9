"""CORS over HTTP: Put/Get/DeleteBucketCors with boto3, preflights and actual
requests with raw http.client (as a browser sends them: no credentials)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .support import raw_request

APP = "http://app.test:8080"
RULES = {
    "CORSRules": [
        {
            "ID": "app",
            "AllowedOrigins": [APP, "https://*.example.org"],
            "AllowedMethods": ["GET", "HEAD", "PUT"],
            "AllowedHeaders": ["Range", "x-amz-*"],
            "ExposeHeaders": ["ETag", "Content-Range"],
            "MaxAgeSeconds": 300,
        },
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
    ]
}


def preflight(server, path: str, origin: str | None, method: str | None, headers: str = ""):  # type: ignore[no-untyped-def]
    hdrs = {}
    if origin is not None:
        hdrs["Origin"] = origin
    if method is not None:
        hdrs["Access-Control-Request-Method"] = method
    if headers:
        hdrs["Access-Control-Request-Headers"] = headers
    return raw_request(server.endpoint, "OPTIONS", path, headers=hdrs)


def test_put_get_delete_with_boto3(alice, bob, bkt) -> None:
    with pytest.raises(ClientError) as err:
        alice.get_bucket_cors(Bucket=bkt)
    assert err.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    alice.put_bucket_cors(Bucket=bkt, CORSConfiguration=RULES)
    got = alice.get_bucket_cors(Bucket=bkt)["CORSRules"]
    assert got == RULES["CORSRules"]
    with pytest.raises(ClientError) as err:  # bob does not own the bucket
        bob.get_bucket_cors(Bucket=bkt)
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as err:
        bob.put_bucket_cors(Bucket=bkt, CORSConfiguration=RULES)
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    alice.delete_bucket_cors(Bucket=bkt)
    with pytest.raises(ClientError):
        alice.get_bucket_cors(Bucket=bkt)


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        ({"AllowedOrigins": ["http://*.*.test"], "AllowedMethods": ["GET"]}, "InvalidRequest"),
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}, "InvalidRequest"),
        ({"AllowedOrigins": ["*"], "AllowedMethods": []}, "MalformedXML"),
    ],
)
def test_bad_configuration_is_refused(alice, bkt, rule, code) -> None:
    with pytest.raises(ClientError) as err:
        alice.put_bucket_cors(Bucket=bkt, CORSConfiguration={"CORSRules": [rule]})
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_too_many_rules_and_raw_xml(server, keys, bkt) -> None:
    rule = "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"
    body = f"<CORSConfiguration>{rule * 101}</CORSConfiguration>".encode()
    resp = raw_request(
        server.endpoint, "PUT", f"/{bkt}", query=[("cors", "")], body=body, key=keys["alice"]
    )
    assert (resp.status, resp.code) == (400, "MalformedXML")
    for bad in (b"<CORSConfiguration><CORSRule>", b"<Other/>"):
        resp = raw_request(
            server.endpoint, "PUT", f"/{bkt}", query=[("cors", "")], body=bad, key=keys["alice"]
        )
        assert (resp.status, resp.code) == (400, "MalformedXML")
    body = f"<CORSConfiguration>{rule * 100}</CORSConfiguration>".encode()
    resp = raw_request(
        server.endpoint, "PUT", f"/{bkt}", query=[("cors", "")], body=body, key=keys["alice"]
    )
    assert resp.status == 200


def test_preflight(server, alice, bkt) -> None:
    path = f"/{bkt}/photo.jpg"
    resp = preflight(server, path, APP, "GET")
    assert resp.status == 403 and resp.code == "AccessForbidden"  # no configuration yet
    assert "access-control-allow-origin" not in resp.headers
    alice.put_bucket_cors(Bucket=bkt, CORSConfiguration=RULES)

    resp = preflight(server, path, APP, "PUT", "X-Amz-Date, range,x-amz-content-sha256")
    assert resp.status == 200, resp.body
    h = resp.headers
    assert h["access-control-allow-origin"] == APP
    assert h["access-control-allow-methods"] == "GET, HEAD, PUT"
    assert h["access-control-allow-headers"] == "x-amz-date, range, x-amz-content-sha256"
    assert h["access-control-max-age"] == "300"
    assert h["access-control-expose-headers"] == "ETag, Content-Range"
    assert "Origin" in [v.strip() for v in h["vary"].split(",")]

    resp = preflight(server, path, "https://cdn.example.org", "HEAD")
    assert resp.status == 200 and resp.headers["access-control-allow-origin"] == (
        "https://cdn.example.org"
    )
    # the second rule: any origin, GET only, no headers
    resp = preflight(server, path, "http://elsewhere.test", "GET")
    assert resp.status == 200 and resp.headers["access-control-allow-origin"] == "*"
    assert "access-control-max-age" not in resp.headers
    # nothing matches all three: 403
    for origin, method, headers in [
        ("http://elsewhere.test", "PUT", ""),  # method
        ("http://elsewhere.test", "GET", "range"),  # header
        (APP, "GET", "content-type"),  # header of the first rule; the second allows none
        (APP, "DELETE", ""),
        ("http://app.test", "PUT", ""),  # port differs: another origin
    ]:
        resp = preflight(server, path, origin, method, headers)
        assert resp.status == 403 and resp.code == "AccessForbidden", (origin, method, headers)
        assert "access-control-allow-origin" not in resp.headers
    # bucket level too; a preflight without Origin or method is a bad request
    assert preflight(server, f"/{bkt}", APP, "GET").status == 200
    assert preflight(server, path, None, "GET").status == 400
    assert preflight(server, path, APP, None).status == 400
    assert preflight(server, "/no-such-bucket/k", APP, "GET").status in (403, 404)


def test_actual_requests_get_allow_headers(server, keys, alice, bkt) -> None:
    alice.put_object(Bucket=bkt, Key="k", Body=b"hello")
    alice.put_bucket_cors(Bucket=bkt, CORSConfiguration=RULES)
    alice.put_bucket_acl(Bucket=bkt, ACL="public-read")
    alice.put_object_acl(Bucket=bkt, Key="k", ACL="public-read")

    resp = raw_request(server.endpoint, "GET", f"/{bkt}/k", headers={"Origin": APP})
    assert resp.status == 200 and resp.body == b"hello"
    assert resp.headers["access-control-allow-origin"] == APP
    assert resp.headers["access-control-expose-headers"] == "ETag, Content-Range"
    assert "Origin" in resp.headers["vary"]
    # signed requests too
    resp = raw_request(
        server.endpoint, "PUT", f"/{bkt}/k2", body=b"x", headers={"Origin": APP}, key=keys["alice"]
    )
    assert resp.status == 200 and resp.headers["access-control-allow-origin"] == APP
    # error responses carry them as well, so a page can read the error
    resp = raw_request(server.endpoint, "GET", f"/{bkt}/missing", headers={"Origin": APP})
    assert resp.status in (403, 404)
    assert resp.headers["access-control-allow-origin"] == APP
    # no rule for this origin + method: no CORS headers, the request itself still answered
    resp = raw_request(server.endpoint, "GET", f"/{bkt}/k", headers={"Origin": "http://x.test"})
    assert resp.headers["access-control-allow-origin"] == "*"
    resp = raw_request(
        server.endpoint, "DELETE", f"/{bkt}/k2", headers={"Origin": APP}, key=keys["alice"]
    )
    assert resp.status == 204 and "access-control-allow-origin" not in resp.headers
    # without Origin: nothing
    resp = raw_request(server.endpoint, "GET", f"/{bkt}/k")
    assert "access-control-allow-origin" not in resp.headers
    # the rules change at once (strong consistency of bucket configuration)
    alice.delete_bucket_cors(Bucket=bkt)
    resp = raw_request(server.endpoint, "GET", f"/{bkt}/k", headers={"Origin": APP})
    assert resp.status == 200 and "access-control-allow-origin" not in resp.headers
    assert preflight(server, f"/{bkt}/k", APP, "GET").status == 403


def test_actual_requests_carry_the_rules_methods_and_max_age(server, alice, bkt) -> None:
    """S3 answers an actual (non-preflight) request with the matching rule's
    Allow-Methods, Expose-Headers and Max-Age too; a request that names
    Access-Control-Request-Method is matched on that method."""
    alice.put_object(Bucket=bkt, Key="k", Body=b"hello")
    alice.put_bucket_cors(Bucket=bkt, CORSConfiguration=RULES)
    alice.put_bucket_acl(Bucket=bkt, ACL="public-read")
    alice.put_object_acl(Bucket=bkt, Key="k", ACL="public-read")

    resp = raw_request(server.endpoint, "GET", f"/{bkt}/k", headers={"Origin": APP})
    assert resp.status == 200
    assert resp.headers["access-control-allow-methods"] == "GET, HEAD, PUT"
    assert resp.headers["access-control-expose-headers"] == "ETag, Content-Range"
    assert resp.headers["access-control-max-age"] == "300"
    resp = raw_request(server.endpoint, "GET", f"/{bkt}/k", headers={"Origin": "http://x.test"})
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["access-control-allow-methods"] == "GET"
    assert "access-control-max-age" not in resp.headers
    # an anonymous PUT (refused) naming GET is matched on GET: its answer carries the rule
    hdrs = {"Origin": "http://x.test", "Access-Control-Request-Method": "GET"}
    resp = raw_request(server.endpoint, "PUT", f"/{bkt}/new", headers=hdrs)
    assert resp.status == 403
    assert resp.headers["access-control-allow-methods"] == "GET"
    hdrs["Access-Control-Request-Method"] = "DELETE"  # no rule allows DELETE
    resp = raw_request(server.endpoint, "PUT", f"/{bkt}/new", headers=hdrs)
    assert resp.status == 403 and "access-control-allow-origin" not in resp.headers
    resp = raw_request(server.endpoint, "PUT", f"/{bkt}/new", headers={"Origin": "http://x.test"})
    assert resp.status == 403 and "access-control-allow-origin" not in resp.headers
