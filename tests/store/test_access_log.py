"""Server access logs through the store API: configuration, capture, delivery.

What a user would notice: after 1,000 mixed requests (puts, gets, lists,
deletes, errors, requests denied to a user without permission) the
delivered log objects hold exactly those 1,000 records, field by field; log
delivery writes are never logged, even when the target logs elsewhere; a
bucket cannot log into itself; batches are bounded by size and age; a
process killed after delivery loses nothing delivered.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from objfs.errors import (
    AccessDenied,
    InvalidArgument,
    InvalidTargetBucketForLogging,
    KMSDisabled,
    NoSuchKey,
)
from objfs.meta import log_queries as lq
from objfs.store import OWNER, RequestContext, Store
from objfs.store.accesslog import BucketLogging
from objfs.store.logformat import LogRecord, format_line, parse_line, parse_lines
from objfs.store.logquery import query_access_logs

FAST = OWNER.with_options(durable=False)
QUIET = FAST.with_options(log=False)  # the test's own reading is not a logged request
NAME = re.compile(r"^logs/\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$")


def delivered(store: Store, bucket: str = "logs", prefix: str = "logs/") -> list[LogRecord]:
    """Every record of every log object, in delivery order (object names sort by time)."""
    records: list[LogRecord] = []
    keys = [v.key for v in store.list_objects(QUIET, bucket, prefix=prefix).contents]
    for key in keys:
        with store.get_object(QUIET, bucket, key) as reader:
            records += parse_lines(reader.read().decode())
    return records


def log_keys(store: Store, bucket: str = "logs") -> list[str]:
    return [v.key for v in store.list_objects(QUIET, bucket).contents]


@pytest.fixture
def logged(store: Store) -> Store:
    """``src`` (versioned) logs into ``logs`` under ``logs/``."""
    store.create_bucket(OWNER, "src", versioning=True)
    store.create_bucket(OWNER, "logs")
    store.put_bucket_logging(OWNER, "src", "logs", "logs/")
    return store


# -- configuration ----------------------------------------------------------------


def test_configuration_put_get_delete(logged: Store) -> None:
    store = logged
    assert store.get_bucket_logging(OWNER, "src") == BucketLogging("src", "logs", "logs/")
    assert store.get_bucket_logging(OWNER, "logs") is None
    seq = store.change_seq(OWNER)
    store.delete_bucket_logging(OWNER, "src")
    assert store.change_seq(OWNER) > seq
    assert store.get_bucket_logging(OWNER, "src") is None
    seq = store.change_seq(OWNER)
    store.put_bucket_logging(OWNER, "src", "logs")
    assert store.change_seq(OWNER) > seq
    assert store.get_bucket_logging(OWNER, "src") == BucketLogging("src", "logs", "")


def test_logging_into_itself_is_refused_saying_why(logged: Store) -> None:
    with pytest.raises(InvalidArgument, match="its own log writes"):
        logged.put_bucket_logging(OWNER, "src", "src", "logs/")
    assert logged.get_bucket_logging(OWNER, "src") == BucketLogging("src", "logs", "logs/")


def test_target_must_exist_and_accept_delivery(logged: Store) -> None:
    store = logged
    with pytest.raises(InvalidTargetBucketForLogging, match="does not exist"):
        store.put_bucket_logging(OWNER, "src", "nowhere")
    # A user's bucket may not log into the owner's private bucket ...
    store.create_user(OWNER, "alice")
    alice = RequestContext(store.user_identity("alice"), "cli")
    store.create_bucket(alice, "alices")
    # (S3 refuses with AccessDenied a target that does not let the logging service in.)
    with pytest.raises(AccessDenied, match="log-delivery-write"):
        store.put_bucket_logging(alice, "alices", "logs")
    # ... until the target grants the LogDelivery group WRITE.
    store.put_bucket_acl(OWNER, "logs", canned="log-delivery-write")
    store.put_bucket_logging(alice, "alices", "logs", "alice/")
    store.put_object(alice, "alices", "k", b"x")
    store.flush_access_logs(OWNER)
    records = delivered(store, prefix="alice/")
    assert [(r.operation, r.requester) for r in records] == [
        ("REST.PUT.OBJECT", store.user_identity("alice").canonical_id)
    ]


def test_log_objects_are_not_owned_by_the_request_that_triggered_delivery(logged: Store) -> None:
    store = logged
    store.create_user(OWNER, "alice")
    alice = RequestContext(store.user_identity("alice"), "cli")
    store.create_bucket(alice, "alices")
    store.put_bucket_acl(OWNER, "logs", canned="log-delivery-write")
    store.put_bucket_logging(alice, "alices", "logs", "alice/")
    store.access_log.max_records = 1
    store.put_object(alice, "alices", "k", b"x")  # fills a batch: delivered right after
    (key,) = log_keys(store)
    assert store.get_object_acl(OWNER, "logs", key).owner_id == store.access.owner_id()
    with pytest.raises(AccessDenied):  # alice cannot read (or rewrite) the log she caused
        store.get_object(alice, "logs", key)


def test_configuring_needs_permission_and_is_logged_when_denied(logged: Store) -> None:
    store = logged
    store.create_user(OWNER, "mallory")
    mallory = RequestContext(store.user_identity("mallory"), "cli")
    with pytest.raises(AccessDenied):
        store.delete_bucket_logging(mallory, "src")
    with pytest.raises(AccessDenied):
        store.flush_access_logs(mallory)
    store.flush_access_logs(OWNER)
    (record,) = delivered(store)
    assert (record.operation, record.http_status, record.error_code) == (
        "REST.PUT.LOGGING_STATUS",
        403,
        "AccessDenied",
    )


# -- capture and delivery ------------------------------------------------------------


def test_thousand_mixed_requests_make_exactly_thousand_records(logged: Store) -> None:
    store = logged
    store.create_user(OWNER, "mallory")
    mallory = RequestContext(store.user_identity("mallory"), "cli", remote_addr="192.0.2.7")
    owner_id = store.access.owner_id()
    mallory_id = store.user_identity("mallory").canonical_id
    expected: list[tuple] = []  # (requester, operation, key, status, error, sent, size, version)
    live: dict[str, bytes] = {}
    for i in range(1000):
        kind = i % 10
        key = f"dir/k{i % 37} {i % 3}"
        if kind in (0, 1, 2) or not live:
            body = os.urandom(i % 300)
            put = store.put_object(FAST, "src", key, body)
            live[key] = body
            expected.append(
                (owner_id, "REST.PUT.OBJECT", key, 200, None, 0, len(body), put.version_id)
            )
        elif kind in (3, 4):
            key = sorted(live)[i % len(live)]
            with store.get_object(FAST, "src", key) as reader:
                assert reader.read() == live[key]
            size = len(live[key])
            expected.append((owner_id, "REST.GET.OBJECT", key, 200, None, size, size, None))
        elif kind == 5:
            store.list_objects(FAST, "src", prefix="dir/")
            expected.append((owner_id, "REST.GET.BUCKET", None, 200, None, 0, None, None))
        elif kind == 6:
            key = sorted(live)[0]
            result = store.delete_object(FAST, "src", key)
            del live[key]
            expected.append(
                (owner_id, "REST.DELETE.OBJECT", key, 204, None, 0, None, result.version_id)
            )
        elif kind == 7:
            with pytest.raises(AccessDenied):
                store.get_object(mallory, "src", key)
            expected.append(
                (mallory_id, "REST.GET.OBJECT", key, 403, "AccessDenied", 0, None, None)
            )
        elif kind == 8:
            with pytest.raises(NoSuchKey):
                store.head_object(FAST, "src", "missing")
            expected.append(
                (owner_id, "REST.HEAD.OBJECT", "missing", 404, "NoSuchKey", 0, None, None)
            )
        else:
            with pytest.raises(AccessDenied):
                store.put_object(mallory, "src", key, b"nope")
            expected.append(
                (mallory_id, "REST.PUT.OBJECT", key, 403, "AccessDenied", 0, None, None)
            )
    # The 1,000th record filled a batch: delivered at the end of that request.
    assert store.access_log.pending() == 0
    keys = log_keys(store)
    assert len(keys) == 1 and NAME.match(keys[0])
    records = delivered(store)
    assert len(records) == 1000
    got_versions = {}
    for want, got in zip(expected, records, strict=True):
        requester, operation, key, status, error, sent, size, version = want
        assert (got.bucket, got.bucket_owner, got.requester) == ("src", owner_id, requester)
        assert (got.operation, got.key, got.http_status, got.error_code) == (
            operation,
            key,
            status,
            error,
        )
        assert (got.bytes_sent, got.object_size) == (sent, size)
        if operation == "REST.PUT.OBJECT" and status == 200 or operation.endswith("DELETE.OBJECT"):
            assert got.version_id == version
        got_versions[got.request_id] = got
        assert got.remote_ip == ("192.0.2.7" if requester == mallory_id else None)
        assert got.user_agent == "objfs/0.1.0 (cli)"
        assert got.request_uri is None and got.referer is None
        assert 0 <= got.total_time_ms < 60_000
        assert abs((datetime.now(UTC) - got.time).total_seconds()) < 600
    assert len(got_versions) == 1000  # one request id each


def test_delivery_is_never_logged_even_when_the_target_logs(logged: Store) -> None:
    store = logged
    store.create_bucket(OWNER, "audit")
    store.put_bucket_logging(OWNER, "logs", "audit", "logs-of-logs/")
    store.put_bucket_logging(OWNER, "audit", "logs", "audit/")  # a cycle of targets
    for i in range(20):
        store.put_object(FAST, "src", f"k{i}", b"data")
    assert store.access_log.pending() == 20
    out = store.flush_access_logs(OWNER)
    assert [d.records for d in out] == [20]
    # Delivery wrote into "logs" (which logs into "audit"): nothing was captured.
    assert store.access_log.pending() == 0
    assert log_keys(store, "audit") == []
    assert store.flush_access_logs(OWNER) == []


def test_batches_are_bounded_by_size_and_age(logged: Store) -> None:
    store = logged
    store.access_log.max_records = 10
    store.access_log.max_age_s = 3600
    for i in range(25):
        store.put_object(FAST, "src", f"k{i}", b"x")
    keys = log_keys(store)
    assert len(keys) == 2 and all(NAME.match(k) for k in keys)
    assert store.access_log.pending() == 5
    store.access_log.max_age_s = 0.3
    store.put_object(FAST, "src", "k-last", b"x")  # notes when its batch falls due
    time.sleep(0.4)
    store.create_bucket(OWNER, "other")  # any later request delivers what is due
    assert store.access_log.pending() == 0
    assert len(delivered(store)) == 26
    assert max(len(parse_lines(_body(store, k))) for k in log_keys(store)) == 10


def _body(store: Store, key: str) -> str:
    with store.get_object(QUIET, "logs", key) as reader:
        return reader.read().decode()


def test_continuations_are_not_requests(logged: Store) -> None:
    store = logged
    store.put_object(FAST, "src", "big", os.urandom(300_000))
    cont = FAST.with_options(log=False)
    store.read_range(FAST, "src", "big", 0, 131072)  # open-and-read: the one GET
    store.read_range(cont, "src", "big", 131072, 131072)
    store.read_range(cont, "src", "big", 262144, 131072)
    for i in range(1001):  # a listing of more than one page is still one request
        store.put_object(cont, "src", f"many/{i:04d}", b"")
    assert len(list(store.iter_objects(FAST, "src", prefix="many/"))) == 1001
    store.flush_access_logs(OWNER)
    records = delivered(store)
    assert [(r.operation, r.key, r.bytes_sent) for r in records] == [
        ("REST.PUT.OBJECT", "big", 0),
        ("REST.GET.OBJECT", "big", 131072),
        ("REST.GET.BUCKET", None, 0),
    ]


def test_mount_write_is_one_put_and_a_denied_open_is_logged(logged: Store) -> None:
    store = logged
    writer = store.open_writer(FAST, "src", "file", base=None)
    writer.write(0, b"hello")
    writer.commit(FAST)
    writer.close()
    store.create_user(OWNER, "reader")
    reader = RequestContext(store.user_identity("reader"), "mount")
    with pytest.raises(AccessDenied):
        store.open_writer(reader, "src", "file", base=None)
    store.flush_access_logs(OWNER)
    records = delivered(store)
    assert [(r.operation, r.key, r.http_status, r.object_size) for r in records] == [
        ("REST.PUT.OBJECT", "file", 200, 5),
        ("REST.PUT.OBJECT", "file", 403, None),
    ]
    assert records[1].user_agent == "objfs/0.1.0 (mount)"


def test_copy_is_logged_in_both_buckets(logged: Store) -> None:
    store = logged
    store.create_bucket(OWNER, "dst")
    store.put_bucket_logging(OWNER, "dst", "logs", "dst/")
    store.put_object(FAST, "src", "a", b"abc")
    store.copy_object(FAST, "src", "a", "dst", "b")
    store.flush_access_logs(OWNER)
    src = delivered(store, prefix="logs/")
    dst = delivered(store, prefix="dst/")
    assert [(r.operation, r.key) for r in src] == [
        ("REST.PUT.OBJECT", "a"),
        ("REST.COPY.OBJECT_GET", "a"),
    ]
    assert [(r.operation, r.key, r.object_size) for r in dst] == [("REST.COPY.OBJECT", "b", 3)]
    assert src[1].request_id == dst[0].request_id


def test_delete_objects_logs_the_request_and_one_record_per_key(logged: Store) -> None:
    """As S3: REST.POST.MULTI_OBJECT_DELETE, then BATCH.DELETE.OBJECT per key, each
    with its own outcome (a key the user may not delete: 403)."""
    store = logged
    a = store.put_object(FAST, "src", "a", b"1").version_id
    store.put_object(FAST, "src", "b", b"2")
    store.create_user(OWNER, "mallory")
    store.put_bucket_policy(
        OWNER,
        "src",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Principal": {"AWS": "mallory"}, "Action": "s3:DeleteObject", '
        '"Resource": "arn:aws:s3:::src/b"}]}',
    )
    store.flush_access_logs(OWNER)
    before = {r.request_id for r in delivered(store)}
    results = store.delete_objects(FAST, "src", [("a", a), ("gone", None)])
    assert not any(isinstance(r, Exception) for r in results)
    mallory = RequestContext(store.user_identity("mallory"), "cli", durable=False)
    denied = store.delete_objects(mallory, "src", [("a", None), ("b", None)])
    assert isinstance(denied[0], AccessDenied) and not isinstance(denied[1], Exception)
    store.flush_access_logs(OWNER)
    records = [r for r in delivered(store) if r.request_id not in before]
    assert [(r.operation, r.key, r.version_id, r.http_status, r.error_code) for r in records] == [
        ("REST.POST.MULTI_OBJECT_DELETE", None, None, 200, None),
        ("BATCH.DELETE.OBJECT", "a", a, 204, None),
        ("BATCH.DELETE.OBJECT", "gone", answered_version(results[1]), 204, None),
        ("REST.POST.MULTI_OBJECT_DELETE", None, None, 200, None),
        ("BATCH.DELETE.OBJECT", "a", None, 403, "AccessDenied"),
        ("BATCH.DELETE.OBJECT", "b", answered_version(denied[1]), 204, None),
    ]
    assert len({r.request_id for r in records[:3]}) == 1
    assert records[3].request_id != records[0].request_id


def answered_version(result: object) -> str | None:
    """The version id a delete answered (the new delete marker's, versioned bucket)."""
    return getattr(result, "version_id", None)


def test_unlogged_probes_still_log_their_refusals(logged: Store) -> None:
    """``log=False`` (a continuation, an adapter's probe) records nothing but a denial."""
    store = logged
    store.put_object(FAST, "src", "k", b"x")
    store.create_user(OWNER, "eve")
    eve = RequestContext(store.user_identity("eve"), "mount", durable=False)
    store.flush_access_logs(OWNER)
    before = {r.request_id for r in delivered(store)}
    store.head_object(QUIET, "src", "k")
    with pytest.raises(NoSuchKey):
        store.head_object(QUIET, "src", "missing")
    with pytest.raises(AccessDenied):
        store.head_object(eve.with_options(log=False), "src", "k")
    store.flush_access_logs(OWNER)
    fresh = [r for r in delivered(store) if r.request_id not in before]
    assert [(r.operation, r.key, r.http_status, r.error_code) for r in fresh] == [
        ("REST.HEAD.OBJECT", "k", 403, "AccessDenied")
    ]


def test_unlogged_buckets_keep_nothing(store: Store, bucket: str) -> None:
    for i in range(5):
        store.put_object(FAST, bucket, f"k{i}", b"x")
        store.read_range(FAST, bucket, f"k{i}", 0, 1)
    with store.db.read() as cur:
        assert not lq.has_schema(cur)
    assert store.flush_access_logs(OWNER) == []


def test_records_for_a_deleted_target_are_dropped(logged: Store, caplog) -> None:
    store = logged
    store.put_object(FAST, "src", "k", b"x")
    store.delete_bucket_logging(OWNER, "src")
    store.delete_bucket(OWNER, "logs")
    assert store.access_log.pending() == 2  # the put, and turning logging off
    assert store.flush_access_logs(OWNER) == []
    assert store.access_log.pending() == 0
    assert "is gone" in caplog.text


def test_a_failed_delivery_keeps_the_records_and_never_fails_a_request(logged: Store) -> None:
    store = logged
    key = store.kms_create_key(OWNER, "logs").key_id
    store.set_bucket_encryption(OWNER, "logs", "aws:kms", key)
    store.kms_disable_key(OWNER, key)
    store.access_log.max_records = 2
    for i in range(3):  # the batch fills: delivery fails, the requests do not
        store.put_object(FAST, "src", f"k{i}", b"x")
    assert store.access_log.pending() == 3
    with pytest.raises(KMSDisabled):
        store.flush_access_logs(OWNER)
    assert store.access_log.pending() == 3 and log_keys(store) == []
    store.kms_enable_key(OWNER, key)
    assert sum(d.records for d in store.flush_access_logs(OWNER)) == 3
    assert sorted(r.key for r in delivered(store)) == ["k0", "k1", "k2"]
    assert {v.sse for v in store.list_objects(QUIET, "logs").contents} == {"aws:kms"}


def test_query_filters(logged: Store) -> None:
    store = logged
    store.create_user(OWNER, "mallory")
    mallory = RequestContext(store.user_identity("mallory"), "cli")
    store.put_object(FAST, "src", "a", b"1")
    with pytest.raises(AccessDenied):
        store.get_object(mallory, "src", "a")
    store.read_range(FAST, "src", "a", 0, 1)
    store.flush_access_logs(OWNER)
    everything = list(query_access_logs(store, OWNER, "logs", "logs/"))
    assert len(everything) == 3

    def ops(**filters: object) -> list[str]:
        return [r.operation for r in query_access_logs(store, OWNER, "logs", "logs/", **filters)]

    assert ops(operation="get.object") == ["REST.GET.OBJECT", "REST.GET.OBJECT"]
    assert ops(status=403) == ["REST.GET.OBJECT"]
    assert ops(requester="mallory") == ["REST.GET.OBJECT"]
    assert ops(requester="owner") == ["REST.PUT.OBJECT", "REST.GET.OBJECT"]
    assert ops(since=datetime.now(UTC).replace(year=2100)) == []
    assert len(ops(since=everything[0].time)) == 3


# -- the line format ---------------------------------------------------------------------

AWS_EXAMPLE = (
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 "
    "[06/Feb/2019:00:00:38 +0000] 192.0.2.3 "
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE "
    'REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - '
    '"-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/'
    "XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader "
    "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 - -"
)


def test_parses_the_line_aws_documents() -> None:
    r = parse_line(AWS_EXAMPLE)
    assert r.bucket == "amzn-s3-demo-bucket1"
    assert r.time == datetime(2019, 2, 6, 0, 0, 38, tzinfo=UTC)
    assert (r.remote_ip, r.request_id, r.operation, r.key) == (
        "192.0.2.3",
        "3E57427F3EXAMPLE",
        "REST.GET.VERSIONING",
        None,
    )
    assert r.request_uri == "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1"
    assert (r.http_status, r.error_code, r.bytes_sent, r.object_size) == (200, None, 113, None)
    assert (r.total_time_ms, r.turn_around_ms, r.referer, r.user_agent) == (
        7,
        None,
        None,
        "S3Console/0.4",
    )
    assert (r.signature_version, r.auth_type, r.tls_version) == ("SigV4", "AuthHeader", "TLSV1.2")
    assert r.host_header == "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com"
    assert format_line(r) == AWS_EXAMPLE


@pytest.mark.parametrize(
    ("key", "agent", "uri"),
    [
        ("plain.txt", None, None),
        ("with space/and %41 üñï", 'a "quoted" agent\\ with backslash', "PUT /b/k HTTP/1.1"),
        ("-", "-x-", "-"),
        ('[bracket]"quote"', "", 'GET /b?x="1" HTTP/1.1'),
    ],
)
def test_format_round_trips(key: str, agent: str | None, uri: str | None) -> None:
    record = LogRecord(
        bucket_owner="a" * 64,
        bucket="bkt",
        time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        remote_ip="203.0.113.9",
        requester=None,
        request_id="0123456789ABCDEF",
        operation="REST.PUT.OBJECT",
        key=key,
        request_uri=uri,
        http_status=403,
        error_code="AccessDenied",
        bytes_sent=0,
        object_size=12,
        total_time_ms=3,
        turn_around_ms=2,
        referer=None,
        user_agent=agent,
        version_id="v1",
        host_id=None,
        signature_version=None,
        cipher_suite=None,
        auth_type=None,
        host_header=None,
        tls_version=None,
    )
    line = format_line(record)
    assert "\n" not in line
    assert parse_line(line) == record


_CONTROLS = "".join(map(chr, [*range(0x20), *range(0x7F, 0xA0)])) + "\u2028\u2029"


def test_every_field_escapes_every_control_character() -> None:
    """No string field can add a line or hide a field: each round-trips alone on its line."""
    evil = f'a{_CONTROLS} b\\"c%0a%zz [x] -'
    record = LogRecord(
        bucket_owner=evil,
        bucket=evil,
        time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        remote_ip="[::1]:80",
        requester=evil,
        request_id=evil,
        operation=evil,
        key=evil,
        request_uri=evil,
        http_status=403,
        error_code=evil,
        bytes_sent=0,
        object_size=None,
        total_time_ms=3,
        turn_around_ms=None,
        referer=evil,
        user_agent=evil,
        version_id=evil,
        host_id=evil,
        signature_version=evil,
        cipher_suite=evil,
        auth_type=evil,
        host_header="[::1]:8080",
        tls_version=evil,
        access_point_arn=evil,
        acl_required=evil,
    )
    line = format_line(record)
    assert len(line.splitlines()) == 1 and not any(c in line for c in _CONTROLS)
    assert parse_line(line) == record
    assert parse_lines(f"{line}\n{line}\n") == [record, record]


def test_not_a_log_line_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument):
        parse_line("hello world")
    with pytest.raises(InvalidArgument, match="http_status"):
        parse_line(AWS_EXAMPLE.replace(" 200 ", " OK "))


# -- crash safety -------------------------------------------------------------------------

CRASHER = textwrap.dedent(
    """
    import os, sys
    from objfs.store import OWNER, Store
    store = Store.open(sys.argv[1])
    store.access_log.max_records = 50
    fast = OWNER.with_options(durable=False)
    for i in range(120):
        store.put_object(fast, "src", f"k{i}", b"x")
        print(i, flush=True)  # acknowledged
    os.kill(os.getpid(), 9)
    """
)


def test_sigkill_after_delivery_loses_no_record(store_path: Path) -> None:
    with Store.open(store_path) as store:
        store.create_bucket(OWNER, "src")
        store.create_bucket(OWNER, "logs")
        store.put_bucket_logging(OWNER, "src", "logs", "logs/")
    proc = subprocess.run(
        [sys.executable, "-c", CRASHER, str(store_path)], capture_output=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    acknowledged = len(proc.stdout.splitlines())
    assert acknowledged == 120
    with Store.open(store_path) as store:
        # Two full batches were delivered before the kill; the rest is pending.
        assert len(delivered(store)) == 100
        assert store.access_log.pending() == 20
        store.flush_access_logs(OWNER)
        records = delivered(store)
    assert sorted(r.key for r in records) == sorted(f"k{i}" for i in range(120))


@pytest.mark.parametrize("source", ["EventTime", "DeliveryTime"])
def test_partitioned_prefix_puts_log_objects_under_account_region_bucket_and_date(
    logged: Store, source: str
) -> None:
    store = logged
    store.put_bucket_logging(OWNER, "src", "logs", "logs/", partition_date_source=source)
    assert store.get_bucket_logging(OWNER, "src") == BucketLogging("src", "logs", "logs/", source)
    store.put_object(OWNER, "src", "k", b"x")
    store.flush_access_logs(OWNER)
    owner_id = store.access.owner_id()
    today = datetime.now(UTC).strftime("%Y/%m/%d")
    # Requests before the change went to logs/NAME; the rest under the partition.
    keys = [k for k in log_keys(store) if k.startswith(f"logs/{owner_id}/")]
    assert keys and all(k.startswith(f"logs/{owner_id}/local/src/{today}/") for k in keys), keys
    assert not any("\x00" in k for k in log_keys(store))
    records = list(query_access_logs(store, OWNER, "logs", "logs/"))
    assert ("REST.PUT.OBJECT", "k") in [(r.operation, r.key) for r in records]
    with pytest.raises(InvalidArgument, match="PartitionDateSource"):
        store.put_bucket_logging(OWNER, "src", "logs", "logs/", partition_date_source="Now")
