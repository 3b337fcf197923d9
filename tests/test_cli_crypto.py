"""End-to-end tests of encryption in the ``objfs`` command (subprocesses, a real store).

What a user would notice: for every mode (none, SSE-S3, SSE-KMS, SSE-C and
client-side) a 1 MiB random marker put from a file comes back byte for byte
and, except with ``none`` (the control), appears nowhere under the store
directory, nor do the keys the user holds; a missing or wrong key is one
clear line and exit 1, never data; client-side ranges across frame
boundaries are exact; KMS keys can be disabled, enabled, rotated, deleted
and audited; bucket defaults round-trip; a store can live apart from its
master key.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import OBJFS, Cli, Result, assert_user_error, run_objfs

from objfs.crypto.cse import OVERHEAD
from objfs.store import OWNER, Store

CHUNK = 64 << 10
BLOCK = CHUNK - OVERHEAD  # plaintext bytes per client-side frame
MARKER_SIZE = 1 << 20


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A fresh store (64 KiB chunks) with an unversioned ``enc`` and a versioned ``vers``."""
    path = tmp_path / "store"
    with Store.init(path, chunk_size=CHUNK) as store:
        store.create_bucket(OWNER, "enc")
        store.create_bucket(OWNER, "vers", versioning=True)
    return Cli(path)


def key_file(path: Path, *, hex_form: bool = False) -> Path:
    """A fresh 256-bit key file, mode 0600 (raw bytes, or 64 hex characters)."""
    key = os.urandom(32)
    path.write_bytes(key.hex().encode() + b"\n" if hex_form else key)
    path.chmod(0o600)
    return path


def all_files(root: Path) -> Iterator[Path]:
    for dirpath, _, names in os.walk(root):
        for name in names:
            yield Path(dirpath) / name


def files_holding(root: Path, needles: list[bytes]) -> list[str]:
    """Every file under ``root`` (meta.db, its WAL, chunks, keys) holding any needle."""
    hits = []
    for path in all_files(root):
        data = path.read_bytes()
        if any(needle in data for needle in needles):
            hits.append(str(path.relative_to(root)))
    return hits


def samples(data: bytes) -> list[bytes]:
    """32-byte windows every 16 KiB: each chunk of the marker is sampled several times."""
    return [data[i : i + 32] for i in range(0, len(data) - 32, 16 << 10)]


# -- help ------------------------------------------------------------------------

NEW_COMMANDS = [
    ["bucket", "encryption"],
    ["kms"],
    ["kms", "create-key"],
    ["kms", "alias"],
    ["kms", "ls"],
    ["kms", "describe"],
    ["kms", "disable"],
    ["kms", "enable"],
    ["kms", "rotate"],
    ["kms", "schedule-deletion"],
    ["kms", "cancel-deletion"],
    ["kms", "audit"],
]


@pytest.mark.parametrize("words", NEW_COMMANDS, ids=" ".join)
def test_help_shows_an_example(words: list[str]) -> None:
    result = run_objfs(*words, "--help")
    assert result.returncode == 0, result.stderr
    assert "objfs " in result.out.split("example", 1)[1]


# -- every mode: round trip, and no plaintext on disk -----------------------------


MODES = ["none", "AES256", "aws:kms", "SSE-C", "CSE"]


@pytest.mark.parametrize("mode", MODES)
def test_marker_round_trips_and_never_reaches_the_disk_in_clear(
    cli: Cli, tmp_path: Path, mode: str
) -> None:
    marker = os.urandom(MARKER_SIZE)
    src = tmp_path / "marker.bin"
    src.write_bytes(marker)
    needles = samples(marker)
    read_flags: list[str] = []  # what get/head need
    stored_as = mode  # the store's sse label
    if mode in ("none", "AES256"):
        put_flags = ["--sse", mode]
    elif mode == "aws:kms":
        key_id = cli.ok("kms", "create-key").out.strip()
        put_flags = ["--sse-kms-key-id", key_id]
    elif mode == "SSE-C":
        read_flags = ["--sse-c-key-file", str(key_file(tmp_path / "ssec.key"))]
        put_flags = read_flags
        needles.append((tmp_path / "ssec.key").read_bytes())  # the key is never stored
    else:  # client-side alone, over a plaintext server side: only CSE protects it
        read_flags = ["--cse-key-file", str(key_file(tmp_path / "cse.key"))]
        put_flags = [*read_flags, "--sse", "none"]
        stored_as = "none"
        needles.append((tmp_path / "cse.key").read_bytes())

    cli.ok("put", str(src), "s3://enc/marker", *put_flags)
    got = cli.ok("get", "s3://enc/marker", "-", *read_flags).stdout
    assert got == marker
    info = cli.ok("--json", "head", "s3://enc/marker", *read_flags).json()
    assert info["sse"] == stored_as
    assert info["cse"] is (mode == "CSE")
    if mode == "aws:kms":
        assert info["kms_key_id"] == key_id

    hits = files_holding(cli.store, needles)
    if mode == "none":
        assert any(h.startswith("chunks/") for h in hits), "control: plaintext chunks expected"
    else:
        assert hits == [], f"plaintext or a user key found under the store: {hits}"


# -- SSE-C ---------------------------------------------------------------------------


def test_sse_c_needs_the_right_key_everywhere(cli: Cli, tmp_path: Path) -> None:
    right = key_file(tmp_path / "right.key", hex_form=True)  # 64 hex characters work too
    wrong = key_file(tmp_path / "wrong.key")
    data = os.urandom(200_000)
    cli.ok("put", "-", "s3://enc/secret", "--sse-c-key-file", str(right), input=data)

    for command in (["get", "s3://enc/secret", "-"], ["head", "s3://enc/secret"]):
        assert_user_error(cli(*command), "SSE-C", "--sse-c-key-file")
        assert_user_error(cli(*command, "--sse-c-key-file", str(wrong)), "access denied")
    assert not (tmp_path / "secret").exists()
    assert_user_error(
        cli("get", "s3://enc/secret", str(tmp_path / "out"), "--sse-c-key-file", str(wrong)),
        "access denied",
    )
    assert not (tmp_path / "out").exists(), "a refused get must not create its file"

    ok = cli.ok("get", "s3://enc/secret", "-", "--sse-c-key-file", str(right))
    assert ok.stdout == data
    assert (
        cli.ok("--json", "head", "s3://enc/secret", "--sse-c-key-file", str(right)).json()["sse"]
        == "SSE-C"
    )

    # copies: the source key is --copy-source-sse-c-key-file
    assert_user_error(cli("cp", "s3://enc/secret", "s3://enc/copy"), "--copy-source-sse-c-key-file")
    assert_user_error(
        cli("cp", "s3://enc/secret", "s3://enc/copy", "--copy-source-sse-c-key-file", str(wrong)),
        "access denied",
    )
    cli.ok("cp", "s3://enc/secret", "s3://enc/copy", "--copy-source-sse-c-key-file", str(right))
    assert cli.ok("get", "s3://enc/copy", "-").stdout == data  # the bucket default: SSE-S3
    cli.ok("cp", "s3://enc/secret", str(tmp_path / "local"), "--sse-c-key-file", str(right))
    assert (tmp_path / "local").read_bytes() == data


# -- client-side encryption ---------------------------------------------------------


def test_cse_refuses_without_or_with_another_key(cli: Cli, tmp_path: Path) -> None:
    key = key_file(tmp_path / "client.key")
    other = key_file(tmp_path / "other.key")
    data = os.urandom(3 * BLOCK + 5)
    cli.ok("put", "-", "s3://enc/c", "--cse-key-file", str(key), input=data)
    for command in (["get", "s3://enc/c", "-"], ["head", "s3://enc/c"]):
        assert_user_error(cli(*command), "client-side encrypted", "--cse-key-file")
        assert_user_error(cli(*command, "--cse-key-file", str(other)), "access denied")
    info = cli.ok("--json", "head", "s3://enc/c", "--cse-key-file", str(key)).json()
    assert info["plain_size"] == len(data)
    assert info["size"] == len(data) + 4 * OVERHEAD
    assert "objfs-cse" not in info["user_meta"]
    text = cli.ok("head", "s3://enc/c", "--cse-key-file", str(key)).out
    assert f"plain_size:    {len(data)}" in text
    listed = cli.ok("--json", "ls", "s3://enc/").json()
    assert listed[0]["cse"] is True and listed[0]["sse"] == "AES256"


def test_cse_ranges_across_frame_boundaries(cli: Cli, tmp_path: Path) -> None:
    key = str(key_file(tmp_path / "client.key"))
    data = os.urandom(4 * BLOCK + 1000)
    (tmp_path / "plain").write_bytes(data)
    cli.ok("put", str(tmp_path / "plain"), "s3://enc/r", "--cse-key-file", key)
    size = len(data)
    cases = {
        "0-0": data[0:1],
        f"{BLOCK - 1}-{BLOCK}": data[
            BLOCK - 1 : BLOCK + 1
        ],  # the last byte of frame 0 + first of 1
        f"{BLOCK - 10}-{3 * BLOCK + 10}": data[BLOCK - 10 : 3 * BLOCK + 11],
        f"{2 * BLOCK}-{3 * BLOCK - 1}": data[2 * BLOCK : 3 * BLOCK],  # exactly one frame
        f"{4 * BLOCK + 999}-": data[-1:],
        f"{3 * BLOCK + 7}-": data[3 * BLOCK + 7 :],
        "-1500": data[-1500:],
        f"100-{size + 5000}": data[100:],
    }
    for spec, want in cases.items():
        got = cli.ok("get", "s3://enc/r", "-", "--range", spec, "--cse-key-file", key).stdout
        assert got == want, spec
    assert_user_error(
        cli("get", "s3://enc/r", "-", "--range", f"{size}-", "--cse-key-file", key),
        "not satisfiable",
    )
    out = tmp_path / "whole"
    cli.ok("get", "s3://enc/r", str(out), "--cse-key-file", key)
    assert out.read_bytes() == data


def test_cse_objects_copy_as_they_are(cli: Cli, tmp_path: Path) -> None:
    key = str(key_file(tmp_path / "client.key"))
    data = os.urandom(2 * BLOCK + 77)
    cli.ok("put", "-", "s3://enc/src", "--cse-key-file", key, "--meta", "a=1", input=data)
    cli.ok("cp", "s3://enc/src", "s3://vers/same")  # no key needed: ciphertext + envelope
    cli.ok("cp", "s3://enc/src", "s3://vers/newmeta", "--meta", "b=2")  # REPLACE keeps it
    cli.ok("cp", "s3://enc/src", "s3://vers/kms", "--sse", "aws:kms")  # re-encrypted server side
    for name in ("same", "newmeta", "kms"):
        got = cli.ok("get", f"s3://vers/{name}", "-", "--cse-key-file", key).stdout
        assert got == data, name
    meta = cli.ok("--json", "head", "s3://vers/newmeta", "--cse-key-file", key).json()
    assert meta["user_meta"] == {"b": "2"}
    cli.ok("cp", "s3://vers/kms", str(tmp_path / "down"), "--cse-key-file", key)
    assert (tmp_path / "down").read_bytes() == data
    assert_user_error(cli("cp", "s3://enc/src", "s3://vers/x", "--cse-key-file", key), "as it is")
    # empty objects and stdin
    cli.ok("put", "-", "s3://enc/empty", "--cse-key-file", key)
    assert cli.ok("get", "s3://enc/empty", "-", "--cse-key-file", key).stdout == b""


def test_large_uploads_keep_their_encryption_in_parts(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process with the 5 GiB threshold lowered: the multipart path with 11 MiB.
    from objfs import cli as objfs_cli
    from objfs.cli import transfer as cli_transfer

    monkeypatch.setattr(cli_transfer, "MULTIPART_THRESHOLD", 1 << 20)
    monkeypatch.setattr(cli_transfer, "PART_SIZE", 5 << 20)
    data = os.urandom(11 << 20)
    src = tmp_path / "big"
    src.write_bytes(data)
    ssec, cse = str(key_file(tmp_path / "c.key")), str(key_file(tmp_path / "k.key"))
    base = ["--store", str(cli.store), "-q", "put", str(src)]
    assert objfs_cli.main([*base, "s3://enc/ssec", "--sse-c-key-file", ssec]) == 0
    assert objfs_cli.main([*base, "s3://enc/cse", "--cse-key-file", cse]) == 0
    ssec_info = cli.ok("--json", "head", "s3://enc/ssec", "--sse-c-key-file", ssec).json()
    assert ssec_info["etag"].endswith("-3") and ssec_info["sse"] == "SSE-C"
    assert cli.ok("get", "s3://enc/ssec", "-", "--sse-c-key-file", ssec).stdout == data
    assert (
        cli.ok("--json", "head", "s3://enc/cse", "--cse-key-file", cse)
        .json()["etag"]
        .endswith("-3")
    )
    assert cli.ok("get", "s3://enc/cse", "-", "--cse-key-file", cse).stdout == data
    # Part 1 holds stored bytes [0, 5 MiB): frames 0-79; plaintext around frame 80 spans parts.
    edge = ((5 << 20) // CHUNK) * BLOCK
    spec = f"{edge - 9}-{edge + 9}"
    part = cli.ok("get", "s3://enc/cse", "-", "--cse-key-file", cse, "--range", spec).stdout
    assert part == data[edge - 9 : edge + 10]


# -- KMS -------------------------------------------------------------------------------


def test_kms_key_lifecycle_and_audit(cli: Cli) -> None:
    key_id = cli.ok("kms", "create-key", "--description", "photos").out.strip()
    assert "photos" in cli.ok("kms", "ls").out
    cli.ok("kms", "alias", "photos", key_id)
    described = cli.ok("--json", "kms", "describe", "alias/photos").json()
    assert described["key_id"] == key_id and described["aliases"] == ["alias/photos"]
    assert described["state"] == "Enabled" and described["material_versions"] == 1

    v1 = b"first version\n" * 1000
    cli.ok("put", "-", "s3://vers/doc", "--sse-kms-key-id", "alias/photos", input=v1)
    vid1 = cli.ok("--json", "head", "s3://vers/doc").json()["version_id"]

    cli.ok("kms", "disable", "alias/photos")
    assert_user_error(cli("get", "s3://vers/doc", "-"), "disabled", f"objfs kms enable {key_id}")
    assert_user_error(
        cli("put", "-", "s3://vers/doc", "--sse-kms-key-id", key_id, input=b"x"), "disabled"
    )
    cli.ok("kms", "enable", key_id)
    assert cli.ok("get", "s3://vers/doc", "-").stdout == v1

    assert "material version 2" in cli.ok("kms", "rotate", "alias/photos").out
    v2 = b"second version\n" * 1000
    cli.ok("put", "-", "s3://vers/doc", "--sse", "aws:kms", "--sse-kms-key-id", key_id, input=v2)
    assert cli.ok("get", "s3://vers/doc", "-").stdout == v2
    assert cli.ok("get", "s3://vers/doc", "-", "--version-id", vid1).stdout == v1
    assert cli.ok("--json", "kms", "describe", key_id).json()["material_versions"] == 2
    versions = cli.ok("--json", "versions", "s3://vers/doc").json()
    assert {v["sse"] for v in versions} == {"aws:kms"}
    assert {v["kms_key_id"] for v in versions} == {key_id}

    audit = cli.ok("--json", "kms", "audit", "--key", "alias/photos").json()
    ops = [(e["operation"], e["key"], e["error"]) for e in audit]
    assert ("GenerateDataKey", "doc", None) in ops
    assert ("Decrypt", "doc", None) in ops
    assert ("Decrypt", "doc", "KMS.DisabledException") in ops
    assert {"CreateKey", "DisableKey", "EnableKey", "RotateKey"} <= {op for op, _, _ in ops}
    assert all(e["principal"] == "owner" and e["interface"] == "cli" for e in audit)
    assert len(cli.ok("--json", "kms", "audit", "--limit", "2").json()) == 2
    table = cli.ok("kms", "audit").out.splitlines()
    assert table[0].split()[:4] == ["TIME", "PRINCIPAL", "INTERFACE", "OPERATION"]
    assert any("s3://vers/doc" in row and "KMS.DisabledException" in row for row in table)

    assert_user_error(cli("kms", "schedule-deletion", key_id, "--days", "3"), "7 to 30")
    assert "PendingDeletion" in cli.ok("kms", "schedule-deletion", key_id, "--days", "7").out
    assert_user_error(cli("get", "s3://vers/doc", "-"), "pending deletion")
    assert "Disabled" in cli.ok("kms", "cancel-deletion", key_id).out
    cli.ok("kms", "enable", key_id)
    assert cli.ok("get", "s3://vers/doc", "-").stdout == v2

    cli.ok("kms", "alias", "--delete", "photos")
    assert_user_error(cli("kms", "describe", "alias/photos"), "alias/photos")
    assert_user_error(cli("kms", "describe", "alias/nosuch"), "no KMS alias")


# -- bucket defaults -------------------------------------------------------------------


def test_bucket_encryption_round_trip(cli: Cli) -> None:
    assert cli.ok("bucket", "encryption", "enc").out.strip() == "enc: AES256"
    cli.ok("bucket", "encryption", "enc", "none")
    cli.ok("put", "-", "s3://enc/plain", input=b"p")
    assert cli.ok("--json", "head", "s3://enc/plain").json()["sse"] == "none"

    key_id = cli.ok("kms", "create-key").out.strip()
    cli.ok("kms", "alias", "bucketkey", key_id)
    shown = cli.ok("--json", "bucket", "encryption", "enc", "--kms-key-id", "alias/bucketkey")
    assert shown.json() == {"name": "enc", "encryption": "aws:kms", "kms_key_id": "alias/bucketkey"}
    assert "aws:kms (alias/bucketkey)" in cli.ok("bucket", "encryption", "enc").out
    cli.ok("put", "-", "s3://enc/k", input=b"k")
    head = cli.ok("--json", "head", "s3://enc/k").json()
    assert head["sse"] == "aws:kms" and head["kms_key_id"] == key_id

    buckets = {b["name"]: b for b in cli.ok("--json", "bucket", "ls").json()}
    assert buckets["enc"]["encryption"] == "aws:kms"
    assert buckets["enc"]["kms_key_id"] == "alias/bucketkey"
    assert buckets["vers"]["encryption"] == "AES256" and buckets["vers"]["kms_key_id"] is None
    rows = {r.split()[-1]: r.split() for r in cli.ok("bucket", "ls").out.splitlines()}
    assert "aws:kms" in rows["enc"] and "AES256" in rows["vers"]

    cli.ok("bucket", "encryption", "enc", "aes256")  # any letter case
    assert cli.ok("bucket", "encryption", "enc").out.strip() == "enc: AES256"
    assert_user_error(cli("bucket", "encryption", "enc", "AES256", "--kms-key-id", key_id), "KMS")
    assert_user_error(cli("bucket", "encryption", "enc", "--kms-key-id", "alias/nope"), "nope")
    assert_user_error(cli("bucket", "encryption", "nosuch", "none"), "nosuch")
    assert cli("bucket", "encryption", "enc", "rot13").returncode == 2


# -- master key file -------------------------------------------------------------------


def test_store_with_its_master_key_kept_apart(tmp_path: Path) -> None:
    store = tmp_path / "store"
    master = key_file(tmp_path / "master.key")
    cli = Cli(store)

    assert_user_error(cli("init", "--master-key-file", str(tmp_path / "missing.key")), "head -c 32")
    (tmp_path / "short.key").write_bytes(b"too short")
    assert_user_error(cli("init", "--master-key-file", str(tmp_path / "short.key")), "32 raw")
    assert not store.exists(), "a refused init must leave nothing behind"

    cli.ok("init", "--chunk-size", "64K", "--master-key-file", str(master))
    assert list((store / "keys").iterdir()) == [], "the key must not be copied into the store"
    cli.ok("--master-key-file", str(master), "bucket", "create", "safe")
    cli.ok("put", "-", "s3://safe/a", "--master-key-file", str(master), input=b"secret data")

    env = {**os.environ, "OBJFS_MASTER_KEY_FILE": str(master), "LC_ALL": "C.UTF-8"}
    env.pop("OBJFS_STORE", None)
    proc = subprocess.run(
        [str(OBJFS), "--store", str(store), "get", "s3://safe/a", "-"],
        capture_output=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout == b"secret data", proc.stderr

    assert_user_error(cli("ls", "s3://safe"), "no master key", "--master-key-file")
    other = key_file(tmp_path / "other.key")
    assert_user_error(
        cli("--master-key-file", str(other), "ls", "s3://safe"), "not this store's key"
    )
    assert_user_error(
        cli("mount", "safe", str(tmp_path), "--master-key-file", str(master)),
        "credential",
    )


# -- flags that do not fit -------------------------------------------------------------


def test_encryption_flags_that_do_not_fit_are_refused(cli: Cli, tmp_path: Path) -> None:
    key = str(key_file(tmp_path / "k.key"))
    (tmp_path / "f").write_bytes(b"data")
    f = str(tmp_path / "f")
    refused: list[tuple[list[str], str]] = [
        (["put", f, "s3://enc/f", "--sse", "AES256", "--sse-c-key-file", key], "SSE-C"),
        (["put", f, "s3://enc/f", "--sse", "AES256", "--sse-kms-key-id", "k"], "aws:kms"),
        (["put", f, "s3://enc/f", "--sse-c-key-file", key, "--cse-key-file", key], "exclude"),
        (["cp", f, "s3://enc/f", "--copy-source-sse-c-key-file", key], "copy source"),
        (["put", f, "s3://enc/f", "--meta", "objfs-cse=forged"], "reserved"),
        (["put", f, "s3://enc/f", "--cse-key-file", f], "32 raw bytes"),
        (["put", f, "s3://enc/f", "--sse-c-key-file", str(tmp_path / "nope")], "cannot read"),
        (["put", f, "s3://enc/f", "--sse-kms-key-id", "alias/none-such"], "none-such"),
        (["cp", "s3://enc/x", str(tmp_path / "x"), "--sse", "AES256"], "not to reading"),
    ]
    for args, needle in refused:
        assert_user_error(cli(*args), needle)
    result: Result = cli("put", f, "s3://enc/f", "--sse", "rot13")
    assert result.returncode == 2 and "rot13" in result.stderr
    assert cli("--json", "ls", "s3://enc").json() == [], "nothing was written"
