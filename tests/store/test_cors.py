"""CORS in the store: validation of a configuration, its storage, and which rule matches."""

from __future__ import annotations

import pytest

from objfs.errors import (
    AccessDenied,
    InvalidRequest,
    MalformedXML,
    NoSuchBucket,
    NoSuchCORSConfiguration,
)
from objfs.store import ANONYMOUS_IDENTITY, OWNER, RequestContext, Store
from objfs.store.cors import CORSRule, match_rule, parse_rules, split_header_list

WEB = {
    "ID": "web",
    "AllowedOrigins": ["https://app.example.com", "http://*.example.org"],
    "AllowedMethods": ["GET", "HEAD"],
    "AllowedHeaders": ["Authorization", "x-amz-*"],
    "ExposeHeaders": ["ETag", "x-amz-version-id"],
    "MaxAgeSeconds": 600,
}
ANY = {"AllowedOrigins": ["*"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"]}


def test_put_get_delete_round_trip(store: Store, ctx: RequestContext, make_bucket) -> None:
    b = make_bucket()
    with pytest.raises(NoSuchCORSConfiguration) as err:
        store.get_bucket_cors(ctx, b)
    assert err.value.status == 404 and err.value.code == "NoSuchCORSConfiguration"
    stored = store.put_bucket_cors(ctx, b, [WEB, ANY])
    assert [r.to_obj() for r in store.get_bucket_cors(ctx, b)] == [r.to_obj() for r in stored]
    assert store.get_bucket_cors(ctx, b)[0].to_obj() == WEB
    store.put_bucket_cors(ctx, b, [ANY])  # a put replaces the whole configuration
    assert [r.to_obj() for r in store.get_bucket_cors(ctx, b)] == [ANY]
    store.delete_bucket_cors(ctx, b)
    with pytest.raises(NoSuchCORSConfiguration):
        store.get_bucket_cors(ctx, b)
    store.delete_bucket_cors(ctx, b)  # deleting nothing is fine, as in S3


def test_missing_bucket(store: Store, ctx: RequestContext) -> None:
    with pytest.raises(NoSuchBucket):
        store.put_bucket_cors(ctx, "nope", [ANY])
    with pytest.raises(NoSuchBucket):
        store.cors_match(ctx, "nope", "http://a", "GET")


@pytest.mark.parametrize(
    ("rules", "error", "text"),
    [
        ([], MalformedXML, "at least one CORSRule"),
        ([ANY] * 101, MalformedXML, "at most 100"),
        ([{"AllowedMethods": ["GET"]}], MalformedXML, "AllowedOrigin"),
        ([{"AllowedOrigins": ["*"]}], MalformedXML, "AllowedMethod"),
        ([{**ANY, "AllowedOrigins": ["http://*.*.com"]}], InvalidRequest, "more than one wildcard"),
        ([{**ANY, "AllowedMethods": ["PATCH"]}], InvalidRequest, "Unsupported method is PATCH"),
        ([{**ANY, "AllowedMethods": ["get"]}], InvalidRequest, "Unsupported method is get"),
        ([{**ANY, "AllowedHeaders": ["a*b*"]}], InvalidRequest, "more than one wildcard"),
        ([{**ANY, "MaxAgeSeconds": "soon"}], MalformedXML, "MaxAgeSeconds"),
        ([{**ANY, "MaxAgeSeconds": -1}], MalformedXML, "MaxAgeSeconds"),
        ([{**ANY, "Colour": "red"}], MalformedXML, "Colour"),
        ([{**ANY, "AllowedOrigins": [1]}], MalformedXML, "list of strings"),
        ([{**ANY, "ID": "x" * 256}], MalformedXML, "255"),
        ({"CORSRules": [ANY]}, MalformedXML, "list of CORSRules"),
    ],
    ids=["empty", "101", "no-origin", "no-method", "2-wildcards", "PATCH", "lower-case",
         "header-2-wildcards", "max-age-text", "max-age-negative", "unknown-field",
         "not-strings", "long-id", "not-a-list"],
)  # fmt: skip
def test_bad_configurations_are_refused_and_change_nothing(
    store: Store, ctx: RequestContext, make_bucket, rules, error, text
) -> None:
    b = make_bucket()
    store.put_bucket_cors(ctx, b, [WEB])
    with pytest.raises(error, match=text) as err:
        store.put_bucket_cors(ctx, b, rules)
    assert err.value.status == 400
    assert [r.to_obj() for r in store.get_bucket_cors(ctx, b)] == [WEB]


def test_exactly_100_rules_and_string_max_age_are_accepted() -> None:
    assert len(parse_rules([ANY] * 100)) == 100
    assert parse_rules([{**ANY, "MaxAgeSeconds": "30"}])[0].max_age_seconds == 30


def test_matching_rules() -> None:
    rules = parse_rules([WEB, ANY])
    web, anyone = rules
    assert match_rule(rules, "https://app.example.com", "GET") is web
    assert match_rule(rules, "http://cdn.example.org", "HEAD") is web
    assert match_rule(rules, "http://example.org", "GET") is None  # "*." needs a subdomain
    assert match_rule(rules, "https://app.example.com:8443", "GET") is None  # the port counts
    assert match_rule(rules, "http://app.example.com", "GET") is None  # so does the scheme
    assert match_rule(rules, "HTTPS://APP.EXAMPLE.COM", "GET") is None  # origins: exact case
    assert match_rule(rules, "https://app.example.com", "get") is None  # methods: exact case
    assert match_rule(rules, "https://app.example.com", "DELETE") is None
    assert match_rule(rules, "https://elsewhere.test", "PUT") is anyone
    # every requested header must be allowed, case-insensitively, with wildcards
    hdrs = split_header_list("AUTHORIZATION, X-Amz-Date,x-amz-content-sha256")
    assert hdrs == ["authorization", "x-amz-date", "x-amz-content-sha256"]
    assert match_rule(rules, "https://app.example.com", "GET", hdrs) is web
    assert match_rule(rules, "https://app.example.com", "GET", ["content-type"]) is None
    assert match_rule(rules, "https://x.test", "PUT", ["content-type", "x-anything"]) is anyone
    # the first matching rule wins, even when a later one is broader
    both = parse_rules([{**WEB, "ID": "first"}, {**ANY, "AllowedMethods": ["GET"], "ID": "2nd"}])
    assert match_rule(both, "https://app.example.com", "GET").id == "first"
    assert match_rule(both, "https://app.example.com", "GET", ["range"]).id == "2nd"
    # a rule without AllowedHeaders allows requests that ask for none
    bare = (CORSRule(("http://a.test",), ("GET",)),)
    assert match_rule(bare, "http://a.test", "GET") is bare[0]
    assert match_rule(bare, "http://a.test", "GET", ["x-y"]) is None


def test_cors_match_through_the_store(store: Store, ctx: RequestContext, make_bucket) -> None:
    b = make_bucket()
    anon = RequestContext(ANONYMOUS_IDENTITY, "api")
    with pytest.raises(NoSuchCORSConfiguration):
        store.cors_match(anon, b, "https://app.example.com", "GET")
    store.put_bucket_cors(ctx, b, [WEB])
    # answered to anyone (a preflight has no credentials), from the current rules
    assert store.cors_match(anon, b, "https://app.example.com", "GET").id == "web"
    assert store.cors_match(anon, b, "https://evil.test", "GET") is None
    store.put_bucket_cors(ctx, b, [ANY])
    assert store.cors_match(anon, b, "https://app.example.com", "GET") is None
    assert store.cors_match(anon, b, "https://evil.test", "PUT") is not None


def test_configuration_needs_permission(store: Store, ctx: RequestContext, make_bucket) -> None:
    b = make_bucket()
    anon = RequestContext(ANONYMOUS_IDENTITY, "api")
    with pytest.raises(AccessDenied):
        store.put_bucket_cors(anon, b, [ANY])
    store.put_bucket_cors(OWNER, b, [ANY])
    with pytest.raises(AccessDenied):
        store.get_bucket_cors(anon, b)
    with pytest.raises(AccessDenied):
        store.delete_bucket_cors(anon, b)
    assert store.get_bucket_cors(OWNER, b)
