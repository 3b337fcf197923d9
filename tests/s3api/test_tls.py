"""HTTPS with a self-signed certificate made here, and SSE-C over it (boto3
streams bodies aws-chunked with a trailing checksum over HTTPS)."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from objfs.store import OWNER, Store
from objfs.store.logquery import query_access_logs

from .conftest import make_users
from .support import Server, client

MiB = 1 << 20


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "objfs test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, object, Path]]:
    root = tmp_path_factory.mktemp("tls")
    store = root / "store"
    Store.init(store).close()
    keys = make_users(store, "alice")
    cert, key = self_signed(root)
    server = Server(store, "--tls-cert", str(cert), "--tls-key", str(key), log=root / "log")
    try:
        assert server.endpoint.startswith("https://")
        yield server, client(server.endpoint, keys["alice"], verify=str(cert)), store
    finally:
        assert server.stop() == 0, server.stderr()


def test_https_put_get_with_streaming_checksum_trailer(tls):
    server, s3, _ = tls
    s3.create_bucket(Bucket="tls-bucket")
    data = os.urandom(3 * MiB + 5)
    put = s3.put_object(Bucket="tls-bucket", Key="k", Body=data)
    assert put["ChecksumCRC32"]
    assert s3.get_object(Bucket="tls-bucket", Key="k")["Body"].read() == data


def test_sse_c_over_tls(tls):
    server, s3, store_path = tls
    s3.create_bucket(Bucket="ssec")
    key, other = os.urandom(32), os.urandom(32)
    secret = b"customer-encrypted plaintext marker " * 100
    put = s3.put_object(
        Bucket="ssec", Key="s", Body=secret, SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"]
    got = s3.get_object(Bucket="ssec", Key="s", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert got["Body"].read() == secret and got["SSECustomerAlgorithm"] == "AES256"
    head = s3.head_object(Bucket="ssec", Key="s", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert head["ContentLength"] == len(secret)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="ssec", Key="s")
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="ssec", Key="s", SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # copy with an SSE-C source, re-encrypted under another customer key
    s3.copy_object(
        Bucket="ssec",
        Key="copy",
        CopySource={"Bucket": "ssec", "Key": "s"},
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=key,
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=other,
    )
    got = s3.get_object(
        Bucket="ssec", Key="copy", SSECustomerAlgorithm="AES256", SSECustomerKey=other
    )
    assert got["Body"].read() == secret
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket="ssec", Key="nokey", CopySource={"Bucket": "ssec", "Key": "s"})
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
    # the key is never stored: no file under the store holds it or the plaintext
    for path in Path(store_path).rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert key not in blob and b"customer-encrypted plaintext marker" not in blob
    assert hashlib.md5(key).digest() not in Path(store_path, "meta.db").read_bytes()


def test_sse_c_key_on_an_object_without_one(tls):
    """S3: SSE-C headers on a read of data not SSE-C encrypted -> 400 InvalidRequest."""
    _, s3, _ = tls
    s3.create_bucket(Bucket="plainc")
    key = os.urandom(32)
    s3.put_object(Bucket="plainc", Key="plain", Body=b"not customer encrypted")
    s3.put_object(Bucket="plainc", Key="s3", Body=b"sse-s3", ServerSideEncryption="AES256")
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    for name in ("plain", "s3"):
        for call in (s3.get_object, s3.head_object):
            with pytest.raises(ClientError) as exc:
                call(Bucket="plainc", Key=name, **ssec)
            assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            if call is s3.get_object:
                err = exc.value.response["Error"]
                assert err["Code"] == "InvalidRequest"
                assert "not applicable to this object" in err["Message"]
        with pytest.raises(ClientError) as exc:  # a ranged GET too
            s3.get_object(Bucket="plainc", Key=name, Range="bytes=0-3", **ssec)
        assert exc.value.response["Error"]["Code"] == "InvalidRequest"
        with pytest.raises(ClientError) as exc:  # and a copy naming a source key
            s3.copy_object(
                Bucket="plainc",
                Key="copy",
                CopySource={"Bucket": "plainc", "Key": name},
                CopySourceSSECustomerAlgorithm="AES256",
                CopySourceSSECustomerKey=key,
            )
        assert exc.value.response["Error"]["Code"] == "InvalidRequest"
        assert s3.get_object(Bucket="plainc", Key=name)["Body"].read()  # without: served
    assert "Contents" in s3.list_objects_v2(Bucket="plainc")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="plainc")["Contents"]] == ["plain", "s3"]


def test_access_log_records_tls_version_and_cipher(tls):
    server, s3, store_path = tls
    s3.create_bucket(Bucket="tlslogged")
    s3.create_bucket(Bucket="tlslogs", ACL="log-delivery-write")
    s3.put_bucket_logging(
        Bucket="tlslogged",
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "tlslogs", "TargetPrefix": ""}},
    )
    s3.put_object(Bucket="tlslogged", Key="k", Body=b"over TLS")
    assert s3.get_object(Bucket="tlslogged", Key="k")["Body"].read() == b"over TLS"
    with Store.open(store_path) as store:
        store.flush_access_logs(OWNER)
        records = [r for r in query_access_logs(store, OWNER, "tlslogs", "") if r.key == "k"]
    assert {r.operation for r in records} == {"REST.PUT.OBJECT", "REST.GET.OBJECT"}
    # what the client negotiated, as OpenSSL names it
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        context = ssl.create_default_context(cafile=str(Path(store_path).parent / "cert.pem"))
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            version, cipher = conn.version(), conn.cipher()[0]
    for r in records:
        assert (r.tls_version, r.cipher_suite) == (version, cipher)
        assert r.tls_version in ("TLSv1.2", "TLSv1.3")
        assert (r.auth_type, r.signature_version) == ("AuthHeader", "SigV4")
        assert r.host_header == server.endpoint.split("://", 1)[1]
