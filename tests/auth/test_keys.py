"""Access keys, canonical ids and credentials files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from objfs.auth import keys
from objfs.auth.keys import Credentials
from objfs.errors import InvalidArgument


def test_key_formats() -> None:
    ids = {keys.new_access_key_id() for _ in range(200)}
    assert len(ids) == 200
    for k in ids:
        assert len(k) == 20 and k.startswith("OBJF") and keys.is_access_key_id(k)
        assert set(k[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    s = keys.new_secret_access_key()
    assert len(s) == 40 and keys.is_secret_access_key(s) and s != keys.new_secret_access_key()
    c = keys.new_canonical_id()
    assert len(c) == 64 and keys.is_canonical_id(c)
    assert not keys.is_access_key_id("AKIAIOSFODNN7EXAMPLE")
    assert not keys.is_canonical_id(c.upper())


def test_secrets_compare_and_never_show() -> None:
    assert keys.secrets_equal("abc", "abc") and not keys.secrets_equal("abc", "abd")
    creds = Credentials("OBJFAAAAAAAAAAAAAAAA", "s" * 40)
    assert "s" * 40 not in repr(creds)


def test_write_profile_creates_0600_and_keeps_other_profiles(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "objfs" / "credentials"
    alice = Credentials(keys.new_access_key_id(), keys.new_secret_access_key())
    keys.write_profile(path, "alice", alice)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    bob = Credentials(keys.new_access_key_id(), keys.new_secret_access_key())
    keys.write_profile(path, "bob", bob)
    assert keys.parse_credentials_file(path) == {"alice": alice, "bob": bob}
    alice2 = Credentials(keys.new_access_key_id(), keys.new_secret_access_key())
    keys.write_profile(path, "alice", alice2)
    assert keys.load_profile(path, "alice") == alice2
    assert keys.load_profile(path, "bob") == bob
    assert [p.name for p in path.parent.iterdir()] == ["credentials"]


def test_existing_aws_file_is_read_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(
        "[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = a%b/c+d\n\n"
        "[other]\nregion = eu-west-1\n"
    )
    os.chmod(path, 0o644)
    assert keys.parse_credentials_file(path) == {"default": Credentials("AKIDEXAMPLE", "a%b/c+d")}
    keys.write_profile(path, "objfs", Credentials("OBJFAAAAAAAAAAAAAAAA", "x" * 40))
    text = path.read_text()
    assert "a%b/c+d" in text and "region = eu-west-1" in text and "[objfs]" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_and_broken_files(tmp_path: Path) -> None:
    assert keys.parse_credentials_file(tmp_path / "none") == {}
    with pytest.raises(InvalidArgument, match='no profile "alice"'):
        keys.load_profile(tmp_path / "none", "alice")
    bad = tmp_path / "bad"
    bad.write_text("aws_access_key_id = x\n")
    with pytest.raises(InvalidArgument, match="is not valid"):
        keys.parse_credentials_file(bad)
    with pytest.raises(InvalidArgument, match="bad profile name"):
        keys.write_profile(tmp_path / "c", "a]b", Credentials("k", "s"))
