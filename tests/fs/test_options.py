"""Mount option parsing, path rules and the store path resolver (no FUSE needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from objfs.fs import names
from objfs.fs.options import MountOptionError, parse_options
from objfs.paths import default_store_path


def test_options_honoured_and_noise_ignored() -> None:
    opts = parse_options(
        "defaults,_netdev,nofail,x-systemd.automount,noauto,user,user=bob,store=/s,prefix=/a/b/,ro,"
        "allow_other,uid=0,gid=root,umask=027,attr_timeout=2.5,entry_timeout=0,show_versions,"
        "debug,log=/tmp/x.log,fsname=mine,nosuid,nodev,noatime,comment=systemd.whatever"
    )
    assert opts.store == "/s" and opts.prefix == "a/b/" and opts.read_only
    assert opts.allow_other and opts.uid == 0 and opts.gid == 0 and opts.umask == 0o027
    assert opts.attr_timeout == 2.5 and opts.entry_timeout == 0
    assert opts.show_versions and opts.debug and opts.log_file == "/tmp/x.log"
    assert opts.fsname == "mine"
    assert opts.kernel_flags == ("nosuid", "nodev", "noatime")
    assert parse_options("ro,rw").read_only is False
    assert parse_options("").umask == 0o022


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus", "unknown mount option: bogus"),
        ("uid=nosuchuser-xyz", "uid=nosuchuser-xyz: no such user"),
        ("umask=999", "umask=999: not an octal number"),
        ("umask=1777", "must be between 000 and 777"),
        ("attr_timeout=soon", "not a number of seconds"),
        ("store", "needs a value"),
        ("ro=1", "takes no value"),
        ("prefix=a/../b", "'.' or '..'"),
    ],
)
def test_bad_options_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(MountOptionError) as err:
        parse_options(text)
    assert message in str(err.value)
    assert err.value.exit_status == 2


def test_encryption_options_parsed() -> None:
    opts = parse_options("sse=AES256,cse_key_file=/k")
    assert (opts.sse_mode, opts.cse_key_file, opts.encryption_problem()) == ("AES256", "/k", None)
    both = parse_options("sse_c_key_file=/a,cse_key_file=/b")
    assert "exclude each other" in (both.encryption_problem() or "")


def test_store_path_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OBJFS_STORE", str(tmp_path / "env"))
    assert default_store_path(str(tmp_path / "x")) == tmp_path / "x"
    assert default_store_path() == tmp_path / "env"
    monkeypatch.delenv("OBJFS_STORE")
    expected = (
        Path("/var/lib/objfs") if os.geteuid() == 0 else Path.home() / ".local" / "share" / "objfs"
    )
    assert default_store_path() == expected


def test_key_path_rules() -> None:
    keys = names.KeyMap("top/")
    assert keys.key("a/b") == "top/a/b"
    assert keys.dir_prefix("a") == "top/a/" and keys.dir_prefix("") == "top/"
    assert keys.path_of("top/a/b") == "a/b" and keys.path_of("top/a/") == "a"
    for hidden in ("other/x", "top/a//b", "top/./x", "top/a/..", "top/" + "n" * 256):
        assert keys.path_of(hidden) is None
    assert keys.child_name("top/", "top/a/") == "a"
    assert keys.child_name("top/", "top/") is None  # the marker itself


def test_version_file_names_sort_oldest_first() -> None:
    a = names.version_file_name(1_700_000_000_123_456_789, "v1", False)
    b = names.version_file_name(1_700_000_001_000_000_000, "v0", True)
    assert a == "20231114T221320.123456Z_v1"
    assert b.endswith("_v0.deleted") and sorted([b, a]) == [a, b]
    assert names.parse_version_file_name(a) == "v1"
    assert names.parse_version_file_name(b) == "v0"
    assert names.parse_version_file_name("notes.txt") is None
