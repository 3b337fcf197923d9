"""End-to-end tests of the ``objfs`` command: the installed entry point, run as a
subprocess against a real store in ``tmp_path``.

What a user would notice: every subcommand's happy path, the exit status and
the single ``objfs: ...`` line of every user mistake (never a traceback),
binary-safe stdin/stdout streaming, ranges and version ids, parseable
``--json``, and a ``--help`` with an example on every subcommand.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from objfs.store import OWNER, Store, SystemMeta

OBJFS = Path(sys.executable).with_name("objfs")
CHUNK = 64 << 10  # the smallest chunk size: multi-chunk objects stay small and fast


@dataclass
class Result:
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout.decode()

    def json(self) -> object:
        return json.loads(self.stdout)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBJFS_")}
    env["LC_ALL"] = "C.UTF-8"
    return env


def run_objfs(*args: str, input: bytes = b"", cwd: Path | None = None) -> Result:
    proc = subprocess.run(
        [str(OBJFS), *args],
        input=input,
        capture_output=True,
        cwd=cwd,
        env=_env(),
        timeout=120,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr.decode())


class Cli:
    """``objfs --store PATH ...`` for one store."""

    def __init__(self, store: Path) -> None:
        self.store = store

    def __call__(self, *args: str, input: bytes = b"", cwd: Path | None = None) -> Result:
        return run_objfs("--store", str(self.store), *args, input=input, cwd=cwd)

    def ok(self, *args: str, input: bytes = b"", cwd: Path | None = None) -> Result:
        result = self(*args, input=input, cwd=cwd)
        assert result.returncode == 0, (args, result.stderr)
        return result


def assert_user_error(result: Result, *needles: str, status: int = 1) -> None:
    """Exit ``status``, exactly one ``objfs: ...`` line on stderr, no traceback."""
    assert result.returncode == status, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("objfs: "), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A fresh store with an unversioned bucket ``plain`` and a versioned ``vers``."""
    # Set up in-process (faster than three subprocesses); `objfs init` and
    # `objfs bucket create` have their own tests.
    path = tmp_path / "store"
    with Store.init(path, chunk_size=CHUNK) as store:
        store.create_bucket(OWNER, "plain")
        store.create_bucket(OWNER, "vers", versioning=True)
    return Cli(path)


@pytest.fixture
def payload() -> bytes:
    """~200 KiB of every byte value, spread over several 64 KiB chunks."""
    return bytes(range(256)) * 800 + b"\r\n\x00tail"


# -- help, version, usage ------------------------------------------------------

SUBCOMMANDS = [
    [],
    ["init"],
    ["bucket"],
    ["bucket", "create"],
    ["bucket", "ls"],
    ["bucket", "rm"],
    ["bucket", "versioning"],
    ["put"],
    ["get"],
    ["head"],
    ["ls"],
    ["versions"],
    ["rm"],
    ["cp"],
    ["fsck"],
    ["gc"],
    ["mount"],
    ["umount"],
    ["user"],
    ["user", "create"],
    ["user", "ls"],
    ["user", "rm"],
    ["user", "keys"],
    ["user", "keys", "create"],
    ["user", "keys", "disable"],
    ["user", "policy"],
    ["user", "policy", "put"],
    ["bucket", "policy"],
    ["bucket", "policy", "put"],
    ["acl"],
    ["acl", "put"],
    ["acl", "get"],
    ["policy", "simulate"],
]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=lambda w: " ".join(w) or "objfs")
def test_help_shows_an_example(words: list[str]) -> None:
    result = run_objfs(*words, "--help")
    assert result.returncode == 0, result.stderr
    assert "example" in result.out
    assert "objfs " in result.out.split("example", 1)[1]


def test_version() -> None:
    result = run_objfs("--version")
    assert result.returncode == 0
    assert result.out.startswith("objfs ")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["put", "only-one-arg"],
        ["get", "s3://b/k", "--range", "9-2"],
        ["init", "--chunk-size", "lots"],
        ["put", "f", "s3://b/k", "--meta", "novalue"],
        ["bucket", "versioning", "b", "Sometimes"],
        ["gc", "--grace", "-5"],
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = run_objfs("--store", str(tmp_path), *args)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert "usage:" in result.stderr


def test_global_options_work_after_the_subcommand(cli: Cli) -> None:
    result = run_objfs("bucket", "ls", "--json", "--store", str(cli.store))
    assert result.returncode == 0, result.stderr
    assert [b["name"] for b in result.json()] == ["plain", "vers"]


# -- store ---------------------------------------------------------------------


def test_missing_store_is_one_clear_line(tmp_path: Path) -> None:
    result = run_objfs("--store", str(tmp_path / "nowhere"), "ls")
    assert_user_error(result, "no objfs store at", "objfs init")


def test_store_from_environment(cli: Cli) -> None:
    env = {**_env(), "OBJFS_STORE": str(cli.store)}
    proc = subprocess.run([str(OBJFS), "bucket", "ls"], capture_output=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert b"plain" in proc.stdout


def test_init_creates_a_store(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "new")
    assert "64.0 KiB" in cli.ok("init", "--chunk-size", "64K").out
    assert (tmp_path / "new" / "meta.db").is_file()
    assert cli.ok("ls").out == ""


def test_init_refuses_an_existing_store(cli: Cli) -> None:
    assert_user_error(cli("init"), "already", str(cli.store))


def test_init_rejects_a_bad_chunk_size(tmp_path: Path) -> None:
    result = Cli(tmp_path / "s")("init", "--chunk-size", "3K")
    assert_user_error(result, "chunk size")


# -- buckets -------------------------------------------------------------------


def test_bucket_lifecycle(cli: Cli) -> None:
    assert "make_bucket: photos" in cli.ok("bucket", "create", "photos", "--region", "eu").out
    rows = cli.ok("bucket", "ls").out.splitlines()
    assert [r.split()[-1] for r in rows] == ["photos", "plain", "vers"]
    records = {b["name"]: b for b in cli.ok("--json", "bucket", "ls").json()}
    assert records["photos"]["region"] == "eu"
    assert records["vers"]["versioning"] == "Enabled"
    assert records["plain"]["versioning"] == "Unversioned"
    assert records["plain"]["created"].endswith("Z")

    assert cli.ok("bucket", "versioning", "photos").out.strip() == "photos: Unversioned"
    assert "Enabled" in cli.ok("bucket", "versioning", "photos", "enabled").out
    cli.ok("bucket", "versioning", "photos", "Suspended")
    assert cli.ok("bucket", "versioning", "photos").out.strip() == "photos: Suspended"

    assert "remove_bucket: photos" in cli.ok("bucket", "rm", "photos").out
    assert "photos" not in cli.ok("ls").out


def test_bucket_user_errors(cli: Cli, tmp_path: Path) -> None:
    assert_user_error(cli("bucket", "create", "Bad_Name"), "Bad_Name")
    assert_user_error(cli("bucket", "create", "ab"))
    assert_user_error(cli("bucket", "create", "plain"), "plain")
    assert_user_error(cli("bucket", "rm", "nosuch"), "nosuch")
    assert_user_error(cli("bucket", "versioning", "nosuch"), "nosuch")
    (tmp_path / "f").write_bytes(b"x")
    cli.ok("put", str(tmp_path / "f"), "s3://plain/f")
    assert_user_error(cli("bucket", "rm", "plain"), "--all-versions")


# -- put / get -----------------------------------------------------------------


def test_put_file_and_get_it_back(cli: Cli, tmp_path: Path, payload: bytes) -> None:
    src = tmp_path / "data.bin"
    src.write_bytes(payload)
    assert "upload:" in cli.ok("put", str(src), "s3://plain/dir/data.bin").out
    cli.ok("get", "s3://plain/dir/data.bin", str(tmp_path / "copy.bin"))
    assert (tmp_path / "copy.bin").read_bytes() == payload

    # default DEST: the key's basename in the current directory
    work = tmp_path / "work"
    work.mkdir()
    cli.ok("get", "s3://plain/dir/data.bin", cwd=work)
    assert (work / "data.bin").read_bytes() == payload
    # a directory DEST gets the basename too; no temporary file left behind
    sub = work / "sub"
    sub.mkdir()
    cli.ok("get", "s3://plain/dir/data.bin", str(sub))
    assert os.listdir(sub) == ["data.bin"]


def test_put_to_a_prefix_uses_the_file_name(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_text("hello\n")
    cli.ok("put", str(src), "s3://plain/docs/")
    info = cli.ok("--json", "head", "s3://plain/docs/notes.txt").json()
    assert info["size"] == 6
    assert info["content_type"] == "text/plain"


def test_stdin_put_and_stdout_get_are_binary_safe(cli: Cli, payload: bytes) -> None:
    cli.ok("put", "-", "s3://plain/blob", input=payload)
    got = cli.ok("get", "s3://plain/blob", "-")
    assert got.stdout == payload
    assert got.stderr == ""
    info = cli.ok("--json", "head", "s3://plain/blob").json()
    assert info["etag"] == hashlib.md5(payload).hexdigest()


def test_empty_object(cli: Cli) -> None:
    cli.ok("put", "-", "s3://plain/empty", input=b"")
    assert cli.ok("get", "s3://plain/empty", "-").stdout == b""


def test_range_get(cli: Cli, payload: bytes) -> None:
    cli.ok("put", "-", "s3://plain/blob", input=payload)
    n = len(payload)
    cases = {
        "0-9": payload[0:10],
        "65530-65545": payload[65530:65546],  # crosses a chunk boundary
        f"{n - 3}-": payload[-3:],
        "-5": payload[-5:],
        f"100-{n + 50}": payload[100:],
    }
    for spec, expected in cases.items():
        assert cli.ok("get", "s3://plain/blob", "-", "--range", spec).stdout == expected, spec
    assert_user_error(cli("get", "s3://plain/blob", "-", "--range", f"{n + 10}-{n + 20}"))


def test_put_metadata_and_head(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "page"
    src.write_bytes(b"<html></html>")
    cli.ok(
        "put", str(src), "s3://plain/index.html", "--content-type", "text/html",
        "--meta", "Author=ann", "--meta", "build=42",
    )  # fmt: skip
    text = cli.ok("head", "s3://plain/index.html").out
    assert "text/html" in text and "author=ann" in text and "build=42" in text
    info = cli.ok("head", "--json", "s3://plain/index.html").json()
    assert info["user_meta"] == {"author": "ann", "build": "42"}
    assert info["size"] == 13 and info["is_latest"] is True and info["version_id"] == "null"


def test_put_standard_headers_and_head(cli: Cli, tmp_path: Path) -> None:
    """The aws cli's --cache-control ... --expires flags store S3's standard headers."""
    src = tmp_path / "page.gz"
    src.write_bytes(b"gzipped")
    cli.ok(
        "put", str(src), "s3://plain/page", "--cache-control", "max-age=60",
        "--content-encoding", "gzip", "--content-disposition", "inline",
        "--content-language", "en", "--expires", "Wed, 21 Oct 2037 07:28:00 GMT",
    )  # fmt: skip
    info = cli.ok("head", "--json", "s3://plain/page").json()
    assert info["headers"] == {
        "cache-control": "max-age=60",
        "content-disposition": "inline",
        "content-encoding": "gzip",
        "content-language": "en",
        "expires": "Wed, 21 Oct 2037 07:28:00 GMT",
    }
    assert "header:        cache-control: max-age=60" in cli.ok("head", "s3://plain/page").out
    cli.ok("cp", "s3://plain/page", "s3://plain/copy", "--cache-control", "no-cache")
    copied = cli.ok("head", "--json", "s3://plain/copy").json()
    assert copied["headers"] == {"cache-control": "no-cache"}


def test_put_metadata_over_2kb_refused(cli: Cli, tmp_path: Path) -> None:
    """The store's 2 KB user-metadata rule, met by the CLI as by the HTTP API."""
    src = tmp_path / "f"
    src.write_bytes(b"x")
    result = cli("put", str(src), "s3://plain/big-meta", "--meta", "note=" + "n" * 2100)
    assert_user_error(result)
    assert "metadata" in result.stderr and "2048" in result.stderr
    assert_user_error(cli("head", "s3://plain/big-meta"))  # nothing was stored


def test_a_file_over_the_single_put_limit_goes_up_in_parts(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process with the 5 GiB threshold lowered: same code path, 11 MiB of data.
    from objfs import cli as objfs_cli
    from objfs.cli import transfer as cli_transfer

    monkeypatch.setattr(cli_transfer, "MULTIPART_THRESHOLD", 1 << 20)
    monkeypatch.setattr(cli_transfer, "PART_SIZE", 5 << 20)
    data = os.urandom(11 << 20)
    src = tmp_path / "big"
    src.write_bytes(data)
    argv = ["--store", str(cli.store), "-q", "put", str(src), "s3://plain/big"]
    assert objfs_cli.main(argv) == 0
    assert cli.ok("head", "--json", "s3://plain/big").json()["etag"].endswith("-3")
    assert cli.ok("get", "s3://plain/big", "-").stdout == data


def test_put_recursive_directory(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "css").mkdir(parents=True)
    (root / "index.html").write_text("i")
    (root / "css" / "a.css").write_text("a")
    assert_user_error(cli("put", str(root), "s3://plain/www"), "--recursive")
    cli.ok("put", "--recursive", str(root), "s3://plain/www")
    keys = [r["key"] for r in cli.ok("ls", "--recursive", "--json", "s3://plain").json()]
    assert keys == ["www/css/a.css", "www/index.html"]


def test_get_version_id(cli: Cli) -> None:
    cli.ok("put", "-", "s3://vers/doc", input=b"first")
    cli.ok("put", "-", "s3://vers/doc", input=b"second")
    versions = cli.ok("versions", "--json", "s3://vers/doc").json()
    assert [v["is_latest"] for v in versions] == [True, False]
    old = versions[1]["version_id"]
    assert cli.ok("get", "s3://vers/doc", "-").stdout == b"second"
    assert cli.ok("get", "s3://vers/doc", "-", "--version-id", old).stdout == b"first"
    assert cli.ok("head", "--json", "--version-id", old, "s3://vers/doc").json()["size"] == 5
    assert_user_error(cli("get", "s3://vers/doc", "-", "--version-id", "nope"), "nope")


def test_transfer_user_errors(cli: Cli, tmp_path: Path) -> None:
    assert_user_error(cli("get", "s3://plain/missing", "-"), "missing")
    assert_user_error(cli("head", "s3://plain/missing"), "missing")
    assert_user_error(cli("get", "s3://nosuch/k", "-"), "nosuch")
    assert_user_error(cli("put", str(tmp_path / "absent"), "s3://plain/k"), "absent")
    assert_user_error(cli("put", "-", "s3://plain/"), "full key")
    for bad in ("plain/k", "http://plain/k", "s3://", "s3:///k"):
        assert_user_error(cli("get", bad, "-"), bad)
    assert_user_error(cli("get", "s3://plain", "-"), "no key")
    assert_user_error(cli("get", "s3://plain/k", str(tmp_path / "no" / "dir" / "f")))
    assert not (tmp_path / "missing").exists()


# -- listing -------------------------------------------------------------------


def test_ls(cli: Cli) -> None:
    for key in ("a.txt", "photos/2026/x.jpg", "photos/2026/y.jpg", "photos/top.jpg"):
        cli.ok("put", "-", f"s3://plain/{key}", input=key.encode())
    lines = cli.ok("ls", "s3://plain").out.splitlines()
    assert lines[-1].split() == ["PRE", "photos/"]
    assert lines[0].split()[-2:] == ["5", "a.txt"]
    inner = cli.ok("ls", "s3://plain/photos/").out.splitlines()
    assert [line.split()[-1] for line in inner] == ["2026/", "top.jpg"]
    # a prefix that is not a whole "directory" folds like the aws cli
    assert cli.ok("ls", "s3://plain/pho").out.split() == ["PRE", "photos/"]
    recursive = cli.ok("ls", "-r", "s3://plain/photos/").out.splitlines()
    assert [line.split()[-1] for line in recursive] == [
        "photos/2026/x.jpg",
        "photos/2026/y.jpg",
        "photos/top.jpg",
    ]
    records = cli.ok("ls", "--json", "s3://plain/photos/").json()
    assert records[0] == {"prefix": "photos/2026/"}
    obj = records[1]
    assert obj["key"] == "photos/top.jpg" and obj["size"] == 14
    assert {"etag", "last_modified", "version_id", "is_latest", "delete_marker"} <= set(obj)
    # no argument: the buckets
    assert [line.split()[-1] for line in cli.ok("ls").out.splitlines()] == ["plain", "vers"]
    assert_user_error(cli("ls", "s3://nosuch"), "nosuch")


def test_versions_and_delete_markers(cli: Cli) -> None:
    cli.ok("put", "-", "s3://vers/k", input=b"1")
    cli.ok("put", "-", "s3://vers/k", input=b"22")
    rm = cli.ok("rm", "s3://vers/k").out
    assert "delete marker" in rm
    text = cli.ok("versions", "s3://vers/").out.splitlines()
    assert text[0].startswith("LAST MODIFIED")
    assert "DELETE-MARKER" in text[1] and "yes" in text[1]
    assert len(text) == 4
    records = cli.ok("versions", "--json", "s3://vers").json()
    assert [r["delete_marker"] for r in records] == [True, False, False]
    assert [r["size"] for r in records[1:]] == [2, 1]
    assert all(r["key"] == "k" for r in records)

    assert_user_error(cli("get", "s3://vers/k", "-"), "delete marker")
    assert_user_error(cli("rm", "s3://vers/k"), "already deleted")
    # removing the delete marker undeletes
    marker = records[0]["version_id"]
    cli.ok("rm", "s3://vers/k", "--version-id", marker)
    assert cli.ok("get", "s3://vers/k", "-").stdout == b"22"


def test_rm(cli: Cli) -> None:
    for key in ("t/1", "t/2", "t/sub/3", "tx", "keep"):
        cli.ok("put", "-", f"s3://plain/{key}", input=b"x")
    assert "delete: s3://plain/keep" in cli.ok("rm", "s3://plain/keep").out
    assert_user_error(cli("rm", "s3://plain/keep"), "keep")
    assert_user_error(cli("rm", "s3://plain"), "no key")
    out = cli.ok("rm", "--recursive", "s3://plain/t").out
    assert out.count("delete:") == 3
    remaining = [r["key"] for r in cli.ok("ls", "-r", "--json", "s3://plain").json()]
    assert remaining == ["tx"]


def test_rm_all_versions_then_remove_bucket(cli: Cli) -> None:
    for data in (b"a", b"b"):
        cli.ok("put", "-", "s3://vers/x", input=data)
    cli.ok("rm", "s3://vers/x")
    assert_user_error(cli("bucket", "rm", "vers"))
    cli.ok("rm", "--recursive", "--all-versions", "s3://vers")
    assert cli.ok("versions", "--json", "s3://vers").json() == []
    cli.ok("bucket", "rm", "vers")


# -- cp ------------------------------------------------------------------------


def test_cp_all_directions(cli: Cli, tmp_path: Path, payload: bytes) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(payload)
    cli.ok("cp", str(src), "s3://plain/a/")  # local -> s3
    cli.ok("cp", "s3://plain/a/in.bin", "s3://vers/b/copy.bin")  # s3 -> s3
    cli.ok("cp", "s3://vers/b/copy.bin", str(tmp_path / "out.bin"))  # s3 -> local
    assert (tmp_path / "out.bin").read_bytes() == payload
    head = cli.ok("head", "--json", "s3://vers/b/copy.bin").json()
    assert head["etag"] == hashlib.md5(payload).hexdigest()
    assert head["version_id"] != "null"

    cli.ok("put", "-", "s3://plain/a/deep/z", input=b"z")
    cli.ok("cp", "--recursive", "s3://plain/a", str(tmp_path / "tree"))
    assert (tmp_path / "tree" / "in.bin").read_bytes() == payload
    assert (tmp_path / "tree" / "deep" / "z").read_bytes() == b"z"
    cli.ok("cp", "-r", "s3://plain/a/", "s3://plain/a/backup/")
    keys = [r["key"] for r in cli.ok("ls", "-r", "--json", "s3://plain/a/backup/").json()]
    assert keys == ["a/backup/deep/z", "a/backup/in.bin"]

    assert_user_error(cli("cp", str(src), str(tmp_path / "x")), "s3://")
    assert_user_error(cli("cp", "s3://plain/nope", "s3://plain/b"), "nope")


# -- maintenance ---------------------------------------------------------------


def test_fsck_and_gc(cli: Cli, payload: bytes) -> None:
    cli.ok("put", "-", "s3://plain/blob", input=payload)
    assert cli.ok("fsck").returncode == 0
    report = cli.ok("fsck", "--json").json()
    assert report["ok"] is True and report["problems"] == []
    cli.ok("rm", "s3://plain/blob")
    gc = cli.ok("gc", "--grace", "0", "--json").json()
    assert gc["chunks_removed"] >= 1 and gc["bytes_freed"] > 0
    assert "gc: removed 0" in cli.ok("gc", "--grace", "0").out


def test_fsck_reports_damage_with_exit_1(cli: Cli, payload: bytes) -> None:
    cli.ok("put", "-", "s3://plain/blob", input=payload)
    chunk_files = [p for p in (cli.store / "chunks").rglob("*") if p.is_file()]
    assert chunk_files
    victim = chunk_files[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    result = cli("fsck")
    assert result.returncode == 1
    assert result.out.strip()
    assert "Traceback" not in result.stderr
    assert "problem" in result.stderr


def test_mount_of_a_missing_bucket_is_a_user_error(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "mnt").mkdir()
    assert_user_error(cli("mount", "nosuch", str(tmp_path / "mnt")), "nosuch")


def _fuse_problem() -> str | None:
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is missing or not accessible"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed"
    return None


@pytest.fixture
def mountpoint(tmp_path: Path) -> Iterator[Path]:
    problem = _fuse_problem()
    if problem:
        if os.environ.get("OBJFS_REQUIRE_FUSE") == "1":
            pytest.fail(f"FUSE required but unusable: {problem}")
        pytest.skip(problem)
    path = tmp_path / "mnt"
    path.mkdir()
    yield path
    if os.path.ismount(path):  # the test failed half-way: never leave a mount behind
        subprocess.run(["fusermount3", "-uz", str(path)], check=False)


@pytest.mark.fuse
def test_mount_and_umount(cli: Cli, mountpoint: Path, tmp_path: Path) -> None:
    cli.ok("put", "-", "s3://vers/from-cli.txt", input=b"cli\n")
    # -o store= (the fstab/systemd spelling) works without --store
    result = run_objfs("mount", "vers", str(mountpoint), "-o", f"store={cli.store}")
    assert result.returncode == 0, result.stderr
    assert os.path.ismount(mountpoint)
    assert (mountpoint / "from-cli.txt").read_bytes() == b"cli\n"
    (mountpoint / "from-mount.txt").write_bytes(b"mount\n")
    assert cli.ok("get", "s3://vers/from-mount.txt", "-").stdout == b"mount\n"
    cli.ok("umount", str(mountpoint))
    assert not os.path.ismount(mountpoint)
    assert cli("umount", str(mountpoint)).returncode == 1


# -- process behaviour ---------------------------------------------------------


def test_broken_pipe_on_stdout_is_quiet(cli: Cli) -> None:
    cli.ok("put", "-", "s3://plain/big", input=os.urandom(1 << 20))
    proc = subprocess.Popen(
        [str(OBJFS), "--store", str(cli.store), "get", "s3://plain/big", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert stderr == ""


def _holds_store_open(pid: int, store: Path) -> bool:
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        return any(str(store) in os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir))
    except OSError:
        return False


def test_ctrl_c_exits_130_quietly(cli: Cli) -> None:
    proc = subprocess.Popen(
        [str(OBJFS), "--store", str(cli.store), "put", "-", "s3://plain/partial"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(b"x" * 1000)
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while not _holds_store_open(proc.pid, cli.store) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert proc.stderr.read() == b""
    proc.stdin.close()
    assert_user_error(cli("head", "s3://plain/partial"), "partial")


def test_progress_only_on_a_tty(cli: Cli, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(os.urandom(9 << 20))
    plain = cli.ok("put", str(big), "s3://plain/big")
    assert plain.stderr == ""

    proc, shown = run_on_tty(cli.store, "put", str(big), "s3://plain/big2", stream="stderr")
    assert proc.returncode == 0
    assert "MB/s" in shown and "100%" in shown


def run_on_tty(
    store: Path, *args: str, stream: str = "stdout", timeout: float = 120
) -> tuple[subprocess.CompletedProcess[bytes], str]:
    """Run objfs with its stdout or stderr on a pseudo-terminal; return the
    finished process (the other stream captured) and what the terminal showed."""
    master, slave = pty.openpty()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    pipes[stream] = slave
    try:
        proc = subprocess.run(
            [str(OBJFS), "--store", str(store), *args],
            **pipes,
            env=_env(),
            timeout=timeout,
            check=False,
        )
        os.close(slave)
        slave = -1
        shown = _read_all(master)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    return proc, shown


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO once the other side is closed
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def test_special_files_listed_with_their_type_and_get_writes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    with Store.open(cli.store) as store:
        store.put_object(OWNER, "vers", "p", b"", sys_meta=SystemMeta(mode=stat.S_IFIFO | 0o644))
        store.put_object(
            OWNER, "vers", "dev", b"", sys_meta=SystemMeta(mode=stat.S_IFCHR | 0o600, rdev=0x103)
        )
        store.put_object(OWNER, "vers", "f", b"data", sys_meta=SystemMeta(mode=0o100644))
    lines = cli.ok("ls", "s3://vers").out.splitlines()
    assert [line.split()[-2:] for line in lines] == [
        ["char-device", "dev"],
        ["4", "f"],
        ["fifo", "p"],
    ]
    records = {r["key"]: r for r in cli.ok("ls", "--json", "s3://vers").json()}  # type: ignore[union-attr]
    assert records["p"]["type"] == "fifo" and records["f"]["type"] == "file"
    versions = cli.ok("versions", "s3://vers/p").out
    assert " fifo " in versions
    head = cli.ok("head", "s3://vers/dev").out
    assert "char-device" in head and "rdev=1,3" in head
    result = cli.ok("get", "s3://vers/dev", str(tmp_path / "dev"))
    assert not (tmp_path / "dev").exists()
    assert "is a char-device 1,3" in result.stderr and "nothing written" in result.stderr
    result = cli.ok("get", "s3://vers/p", "-")
    assert result.stdout == b"" and "is a fifo" in result.stderr
