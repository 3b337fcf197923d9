"""S3's standard object headers (Cache-Control, Content-Disposition,
Content-Encoding, Content-Language, Expires): stored as given on PUT, copy
and CreateMultipartUpload, returned on GET and HEAD; and user metadata that
is not ASCII."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from objfs.store import Store

STANDARD = {
    "CacheControl": "public, max-age=14400",
    "ContentDisposition": 'attachment; filename="report.pdf"',
    "ContentEncoding": "gzip",
    "ContentLanguage": "de-DE",
}


def _expires() -> datetime:
    return (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)


def _check(response: dict, expires: datetime) -> None:
    for name, value in STANDARD.items():
        assert response[name] == value, name
    assert response["Expires"] == expires


def test_put_stores_standard_headers(alice, bkt):
    expires = _expires()
    alice.put_object(Bucket=bkt, Key="k", Body=b"data", Expires=expires, **STANDARD)
    _check(alice.head_object(Bucket=bkt, Key="k"), expires)
    got = alice.get_object(Bucket=bkt, Key="k")
    _check(got, expires)
    assert got["Body"].read() == b"data"


def test_aws_chunked_is_not_stored_as_content_encoding(alice, bkt):
    for given, stored in (("gzip, aws-chunked", "gzip"), ("aws-chunked", None)):
        alice.put_object(Bucket=bkt, Key="k", Body=b"x", ContentEncoding=given)
        assert alice.head_object(Bucket=bkt, Key="k").get("ContentEncoding") == stored


def test_overwrite_without_headers_drops_them(alice, bkt):
    alice.put_object(Bucket=bkt, Key="k", Body=b"1", CacheControl="no-cache")
    alice.put_object(Bucket=bkt, Key="k", Body=b"2")
    assert "CacheControl" not in alice.head_object(Bucket=bkt, Key="k")


def test_copy_keeps_or_replaces_standard_headers(alice, bkt):
    expires = _expires()
    alice.put_object(Bucket=bkt, Key="src", Body=b"data", Expires=expires, **STANDARD)
    alice.copy_object(Bucket=bkt, Key="same", CopySource={"Bucket": bkt, "Key": "src"})
    _check(alice.head_object(Bucket=bkt, Key="same"), expires)
    alice.copy_object(
        Bucket=bkt,
        Key="new",
        CopySource={"Bucket": bkt, "Key": "src"},
        MetadataDirective="REPLACE",
        CacheControl="no-store",
    )
    head = alice.head_object(Bucket=bkt, Key="new")
    assert head["CacheControl"] == "no-store"
    assert "ContentDisposition" not in head and "Expires" not in head


def test_multipart_upload_keeps_standard_headers(alice, bkt):
    expires = _expires()
    upload = alice.create_multipart_upload(Bucket=bkt, Key="mp", Expires=expires, **STANDARD)
    part = alice.upload_part(
        Bucket=bkt, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 100
    )
    alice.complete_multipart_upload(
        Bucket=bkt,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    _check(alice.get_object(Bucket=bkt, Key="mp"), expires)


def test_headers_survive_a_store_reopen(alice, bkt, s3env):
    alice.put_object(Bucket=bkt, Key="k", Body=b"x", ContentLanguage="fr")
    with Store.open(s3env["store"]) as store:
        from objfs.store import OWNER

        info = store.head_object(OWNER, bkt, "k")
    assert info.headers.content_language == "fr"


def test_non_ascii_user_metadata(alice, bkt):
    def set_unicode(params, **_):  # type: ignore[no-untyped-def]
        params["headers"]["x-amz-meta-meta1"] = "Hello World\xe9"

    alice.meta.events.register("before-call.s3.PutObject", set_unicode)
    try:
        alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    finally:
        alice.meta.events.unregister("before-call.s3.PutObject", set_unicode)
    assert alice.get_object(Bucket=bkt, Key="k")["Metadata"]["meta1"] == "Hello World\xe9"
