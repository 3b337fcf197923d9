"""Two nodes over one store (PostgreSQL metadata, SeaweedFS chunks): the
guarantees of one host hold across hosts.

Each node's ``objfs serve`` and mount is its own process; the two share
nothing but the two engines. What is checked: read-after-write over HTTP
across nodes, concurrent writers of one key, multipart parts through both
nodes, an edit through node B's mount after a PUT on node A, and attaching.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from tests.cluster.conftest import Cluster
from tests.fs.support import Mount
from tests.s3api.support import Server


def test_a_second_node_attaches_to_the_store_and_never_reinitialises_it(cluster: Cluster) -> None:
    cluster.objfs("a", "bucket", "create", "shared")
    # Both nodes name one store: what one makes, the other lists.
    listed = cluster.objfs("b", "bucket", "ls").stdout
    assert "shared" in listed
    info_a, info_b = cluster.objfs("a", "info").stdout, cluster.objfs("b", "info").stdout
    assert cluster.chunks_url.split("?")[0] in info_a and cluster.chunks_url.split("?")[0] in info_b
    assert "postgresql://" in info_a and "postgresql://" in info_b
    # A third attach without the master key is refused, and leaves no descriptor.
    third = cluster.root / "node-c"
    done = cluster.objfs_at(
        third, "init", "--meta", cluster.meta_url, "--chunks", cluster.chunks_url
    )
    assert done.returncode != 0
    assert "master key" in done.stderr and "Traceback" not in done.stderr
    # Attaching with other chunks than the store's is refused, naming both.
    other = cluster.chunks_url.replace("/store?", "/elsewhere?")
    done = cluster.objfs_at(
        cluster.root / "node-d",
        "init",
        "--meta",
        cluster.meta_url,
        "--chunks",
        other,
        "--master-key-file",
        str(cluster.nodes["a"] / "keys" / "master.key"),
    )
    assert done.returncode != 0 and "elsewhere" in done.stderr and "Traceback" not in done.stderr
    # The store is as it was: still one bucket, seen from both nodes.
    assert "shared" in cluster.objfs("b", "bucket", "ls").stdout


def test_read_after_write_over_http_across_nodes(
    cluster: Cluster, two_servers: Callable[..., tuple[Server, Server]]
) -> None:
    a, b = two_servers()
    on_a, on_b = cluster.client(a), cluster.client(b)
    on_a.create_bucket(Bucket="raw")
    stale = []
    for i in range(1000):
        body = f"{i}:{secrets.token_hex(8)}".encode()
        key = "same" if i % 2 else f"k{i}"  # overwrites of one key and fresh keys
        on_a.put_object(Bucket="raw", Key=key, Body=body)
        got = on_b.get_object(Bucket="raw", Key=key)["Body"].read()
        if got != body:
            stale.append((i, key))
    assert stale == []


def test_concurrent_writers_of_one_key_keep_exactly_the_acknowledged_versions(
    cluster: Cluster, two_servers: Callable[..., tuple[Server, Server]]
) -> None:
    a, b = two_servers()
    cluster.client(a).create_bucket(Bucket="busy")
    cluster.client(a).put_bucket_versioning(
        Bucket="busy", VersioningConfiguration={"Status": "Enabled"}
    )
    acked: dict[str, list[tuple[str, bytes]]] = {}

    def writer(name: str, server: Server) -> None:
        s3 = cluster.client(server)
        mine = acked.setdefault(name, [])
        for i in range(40):
            body = f"{name}-{i}".encode()
            vid = s3.put_object(Bucket="busy", Key="k", Body=body)["VersionId"]
            mine.append((vid, body))

    threads = [
        threading.Thread(target=writer, args=(f"{node}{n}", server))
        for node, server in (("a", a), ("b", b))
        for n in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s3 = cluster.client(b)
    listed = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket="busy"):
        listed += page.get("Versions", [])
    want = {vid for mine in acked.values() for vid, _ in mine}
    assert {v["VersionId"] for v in listed} == want and len(listed) == len(want) == 160
    # Newest first: each writer's versions appear in the order it made them.
    position = {v["VersionId"]: i for i, v in enumerate(listed)}
    for mine in acked.values():
        order = [position[vid] for vid, _ in mine]
        assert order == sorted(order, reverse=True)
    latest = listed[0]["VersionId"]
    assert [v for v in listed if v["IsLatest"]] == [listed[0]]
    body = s3.get_object(Bucket="busy", Key="k")["Body"].read()
    assert body == dict(vb for mine in acked.values() for vb in mine)[latest]
    for vid, data in acked["a0"][:5] + acked["b1"][-5:]:
        assert (
            cluster.client(a).get_object(Bucket="busy", Key="k", VersionId=vid)["Body"].read()
            == data
        )


def test_multipart_parts_uploaded_through_different_nodes_complete(
    cluster: Cluster, two_servers: Callable[..., tuple[Server, Server]]
) -> None:
    a, b = two_servers()
    on_a, on_b = cluster.client(a), cluster.client(b)
    on_a.create_bucket(Bucket="mpu")
    upload = on_a.create_multipart_upload(Bucket="mpu", Key="big")["UploadId"]
    parts = [os.urandom(5 << 20), os.urandom(5 << 20), os.urandom(1234)]
    etags = []
    for number, (data, s3) in enumerate(zip(parts, (on_a, on_b, on_a), strict=True), start=1):
        etags.append(
            s3.upload_part(Bucket="mpu", Key="big", UploadId=upload, PartNumber=number, Body=data)[
                "ETag"
            ]
        )
    listed = on_b.list_parts(Bucket="mpu", Key="big", UploadId=upload)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2, 3]
    on_b.complete_multipart_upload(
        Bucket="mpu",
        Key="big",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )
    assert on_a.get_object(Bucket="mpu", Key="big")["Body"].read() == b"".join(parts)


def test_an_edit_through_mount_b_after_a_put_on_a_loses_nothing(
    cluster: Cluster, two_servers: Callable[..., tuple[Server, Server]], fuse_ok: None
) -> None:
    a, _b = two_servers()
    on_a = cluster.client(a)
    on_a.create_bucket(Bucket="edits")
    on_a.put_object(Bucket="edits", Key="notes.txt", Body=b"line1\n")
    where = cluster.root / "mnt-b"
    where.mkdir()
    mount = Mount(cluster.nodes["b"], "edits", where, cluster.root / "mount-b.log", "")
    mount.start()
    try:
        path = where / "notes.txt"
        assert path.read_bytes() == b"line1\n"
        # Node A acknowledges a new version; node B's mount edits after it.
        on_a.put_object(Bucket="edits", Key="notes.txt", Body=b"line1\nline2\n")
        deadline = time.monotonic() + 10
        while path.read_bytes() != b"line1\nline2\n":  # close-to-open, across nodes
            assert time.monotonic() < deadline, "node B never saw node A's PUT"
            time.sleep(0.05)
        with open(path, "ab") as f:
            f.write(b"line3\n")
        got = on_a.get_object(Bucket="edits", Key="notes.txt")["Body"].read()
        assert got == b"line1\nline2\nline3\n"

        # An edit open across a PUT on the other node is refused, never silently dropped.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.write(fd, b"mine\n")
        on_a.put_object(Bucket="edits", Key="notes.txt", Body=b"theirs\n")
        with pytest.raises(OSError):
            os.close(fd)
        assert on_a.get_object(Bucket="edits", Key="notes.txt")["Body"].read() == b"theirs\n"
    finally:
        mount.stop()
    refused = "changed since this edit began"
    assert [p for p in mount.problems() if refused not in p] == []


def test_a_missing_key_on_the_other_node_is_a_clean_404(
    cluster: Cluster, two_servers: Callable[..., tuple[Server, Server]]
) -> None:
    a, b = two_servers()
    cluster.client(a).create_bucket(Bucket="gone")
    cluster.client(a).put_object(Bucket="gone", Key="x", Body=b"1")
    cluster.client(a).delete_object(Bucket="gone", Key="x")
    with pytest.raises(ClientError) as missing:
        cluster.client(b).get_object(Bucket="gone", Key="x")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
