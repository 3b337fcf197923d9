"""Reads and checks that race with writes see one version.

A GET with an open (``bytes=N-``) or suffix (``bytes=-N``) range, and a
CopyObject with ``x-amz-copy-source-if-*`` conditions, while another client
overwrites the key again and again with contents of other sizes: every
answer (body, Content-Range, ETag) belongs to one version, and a copy's
conditions hold for the version it copied. Bounded loops, a few seconds.
"""

from __future__ import annotations

import hashlib
import threading
import time

from botocore.exceptions import ClientError

from .support import client

RUN_SECONDS = 3.0
# Contents of different sizes (each > 2 KiB so every range below is
# satisfiable whichever is current), each byte telling which it is.
CONTENTS = [bytes([65 + i]) * (2500 + i * 3001) for i in range(6)]
BY_ETAG = {hashlib.md5(c).hexdigest(): c for c in CONTENTS}


def _overwrite(endpoint, key_of, bucket, key, stop, contents=CONTENTS) -> None:  # type: ignore[no-untyped-def]
    writer = client(endpoint, key_of)
    i = 0
    while not stop.is_set() and i < 10_000:
        writer.put_object(Bucket=bucket, Key=key, Body=contents[i % len(contents)])
        i += 1


def test_open_and_suffix_range_gets_read_one_version(alice, bkt, server, keys) -> None:  # type: ignore[no-untyped-def]
    alice.put_object(Bucket=bkt, Key="k", Body=CONTENTS[0])
    stop = threading.Event()
    writer = threading.Thread(
        target=_overwrite, args=(server.endpoint, keys["alice"], bkt, "k", stop)
    )
    writer.start()
    wrong: list[str] = []
    gets = 0
    try:
        started = time.monotonic()
        while time.monotonic() - started < RUN_SECONDS and gets < 2000:
            for spec in ("bytes=-700", "bytes=1900-", "bytes=0-"):
                gets += 1
                try:
                    got = alice.get_object(Bucket=bkt, Key="k", Range=spec)
                except ClientError as err:
                    wrong.append(f"{spec}: {err.response['Error']['Code']}")
                    continue
                body = got["Body"].read()
                content = BY_ETAG.get(got["ETag"].strip('"'))
                if content is None:
                    wrong.append(f"{spec}: unknown ETag {got['ETag']}")
                    continue
                size = len(content)
                first = {"bytes=-700": size - 700, "bytes=1900-": 1900, "bytes=0-": 0}[spec]
                want_range = f"bytes {first}-{size - 1}/{size}"
                if got["ContentRange"] != want_range or body != content[first:]:
                    wrong.append(
                        f"{spec}: ETag of {size} bytes, Content-Range {got['ContentRange']}, "
                        f"{len(body)} bytes of {sorted(set(body))!r}"
                    )
    finally:
        stop.set()
        writer.join()
    assert gets > 0
    assert wrong == [], f"{len(wrong)} of {gets} GETs mixed versions: {wrong[:5]}"


def test_copy_source_conditions_hold_for_the_version_copied(alice, vbkt, server, keys) -> None:  # type: ignore[no-untyped-def]
    wanted = CONTENTS[0]
    etag = hashlib.md5(wanted).hexdigest()
    alice.put_object(Bucket=vbkt, Key="src", Body=wanted)
    stop = threading.Event()
    writer = threading.Thread(
        target=_overwrite,
        args=(server.endpoint, keys["alice"], vbkt, "src", stop, CONTENTS[:2]),
    )
    writer.start()
    wrong: list[str] = []
    copies = refused = 0
    try:
        started = time.monotonic()
        while time.monotonic() - started < RUN_SECONDS and copies < 2000:
            copies += 1
            dst = f"dst-{copies}"
            try:
                out = alice.copy_object(
                    Bucket=vbkt,
                    Key=dst,
                    CopySource={"Bucket": vbkt, "Key": "src"},
                    CopySourceIfMatch=f'"{etag}"',
                )
            except ClientError as err:
                if err.response["Error"]["Code"] != "PreconditionFailed":
                    wrong.append(f"{dst}: {err.response['Error']['Code']}")
                refused += 1
                continue
            copied = out["CopyObjectResult"]["ETag"].strip('"')
            if copied != etag:
                wrong.append(f"{dst}: If-Match {etag} held, but {copied} was copied")
    finally:
        stop.set()
        writer.join()
    assert copies - refused > 0  # some copies did happen
    assert wrong == [], f"{len(wrong)} of {copies} copies: {wrong[:5]}"


def test_copy_source_if_none_match_that_matches_is_412(alice, bkt) -> None:  # type: ignore[no-untyped-def]
    put = alice.put_object(Bucket=bkt, Key="src", Body=b"same")
    try:
        alice.copy_object(
            Bucket=bkt,
            Key="dst",
            CopySource={"Bucket": bkt, "Key": "src"},
            CopySourceIfNoneMatch=put["ETag"],
        )
    except ClientError as err:
        got = (err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"])
    else:
        got = ("copied", 200)
    assert got == ("PreconditionFailed", 412)  # S3: 412 for a copy, never 304


def test_upload_part_copy_checks_the_source_conditions(alice, bkt) -> None:  # type: ignore[no-untyped-def]
    put = alice.put_object(Bucket=bkt, Key="src", Body=b"part source")
    upload = alice.create_multipart_upload(Bucket=bkt, Key="dst")["UploadId"]
    copy = {"Bucket": bkt, "Key": "dst", "UploadId": upload, "PartNumber": 1}
    source = {"Bucket": bkt, "Key": "src"}
    for condition in ({"CopySourceIfMatch": '"0000"'}, {"CopySourceIfNoneMatch": put["ETag"]}):
        try:
            alice.upload_part_copy(**copy, CopySource=source, **condition)
        except ClientError as err:
            got = err.response["Error"]["Code"]
        else:
            got = "copied"
        assert got == "PreconditionFailed", condition
    part = alice.upload_part_copy(**copy, CopySource=source, CopySourceIfMatch=put["ETag"])
    assert part["CopyPartResult"]["ETag"] == put["ETag"]
    alice.abort_multipart_upload(Bucket=bkt, Key="dst", UploadId=upload)
