"""Client-side encryption envelope and frames (objfs/crypto/cse.py)."""

from __future__ import annotations

import os

import pytest

from objfs.cli.crypto import CSEDownload
from objfs.crypto.cse import (
    META_KEY,
    OVERHEAD,
    CSEObject,
    decrypt_stream,
    encrypt_stream,
    load_key_file,
    plain_size,
    stored_size,
)
from objfs.errors import AccessDenied, IntegrityError, InvalidArgument, InvalidRequest
from objfs.fs.encryption import MountEncryption, read_version, shown_size
from objfs.store import OWNER, Store

CS = 64 * 1024


def test_round_trip_and_sizes():
    key = os.urandom(32)
    obj, env = CSEObject.new(key, CS)
    data = os.urandom(3 * obj.block_size + 1234)
    frames = list(encrypt_stream(obj, [data[:1000], data[1000:]]))
    assert all(len(f) == CS for f in frames[:-1])
    stored = b"".join(frames)
    assert len(stored) == obj.stored_size(len(data))
    assert obj.plain_size(len(stored)) == len(data)
    again = CSEObject.open(key, env)
    assert (
        b"".join(decrypt_stream(again, [stored[i : i + 5000] for i in range(0, len(stored), 5000)]))
        == data
    )
    assert data[:4096] not in stored


def test_exact_block_multiple_and_empty():
    obj, _ = CSEObject.new(os.urandom(32), CS)
    for n in (0, obj.block_size, 2 * obj.block_size):
        stored = b"".join(encrypt_stream(obj, [bytes(n)]))
        assert len(stored) == obj.stored_size(n)
        assert obj.plain_size(len(stored)) == n


def test_wrong_and_missing_key():
    obj, env = CSEObject.new(os.urandom(32), CS)
    with pytest.raises(AccessDenied):
        CSEObject.open(os.urandom(32), env)
    with pytest.raises(InvalidRequest):
        CSEObject.open(None, env)
    with pytest.raises(InvalidArgument):
        CSEObject.open(b"short", env)
    with pytest.raises(IntegrityError):
        CSEObject.open(os.urandom(32), "not an envelope")


def test_frames_are_bound_to_their_position_and_object():
    key = os.urandom(32)
    a, _ = CSEObject.new(key, CS)
    b, _ = CSEObject.new(key, CS)
    f0 = a.encrypt_block(0, b"x" * 100)
    assert a.decrypt_block(0, f0) == b"x" * 100
    with pytest.raises(IntegrityError):
        a.decrypt_block(1, f0)  # moved
    with pytest.raises(IntegrityError):
        b.decrypt_block(0, f0)  # from another object
    flipped = bytearray(f0)
    flipped[OVERHEAD + 3] ^= 1
    with pytest.raises(IntegrityError):
        a.decrypt_block(0, bytes(flipped))
    with pytest.raises(IntegrityError):
        a.plain_size(CS + 5)  # truncated last frame


def test_key_file_formats(tmp_path):
    raw = os.urandom(32)
    (tmp_path / "raw").write_bytes(raw)
    (tmp_path / "hex").write_text(raw.hex() + "\n")
    (tmp_path / "bad").write_text("nope")
    assert load_key_file(tmp_path / "raw") == raw
    assert load_key_file(tmp_path / "hex") == raw
    with pytest.raises(InvalidArgument, match="32 raw bytes"):
        load_key_file(tmp_path / "bad")
    with pytest.raises(InvalidArgument, match="cannot read"):
        load_key_file(tmp_path / "missing")


# -- the size rule on real objects: the CLI and the mount agree ------------------------


def _put_cse(store, key_bytes, key, data):
    """A CSE object as the CLI stores it: frames of ciphertext plus the envelope."""
    obj, envelope = CSEObject.new(key_bytes, store.chunk_size)
    stored = b"".join(encrypt_stream(obj, [data]))
    store.put_object(OWNER, "bkt", key, stored, user_meta={META_KEY: envelope})
    return obj, envelope, stored


def test_plain_size_is_one_rule_for_cli_and_mount(tmp_path):
    key = os.urandom(32)
    with Store.init(tmp_path / "s", chunk_size=CS) as store:
        store.create_bucket(OWNER, "bkt")
        bs = CS - OVERHEAD
        for n in (0, 1, bs - 1, bs, bs + 1, 2 * bs + 1234):
            data = os.urandom(n)
            obj, _, stored = _put_cse(store, key, f"k{n}", data)
            info = store.head_object(OWNER, "bkt", f"k{n}")
            assert info.size == len(stored) == stored_size(n, CS) == obj.stored_size(n)
            assert plain_size(info.size, CS) == obj.plain_size(info.size) == n
            assert shown_size(info, CS) == n
            enc = MountEncryption(cse_key=key)
            assert read_version(store, OWNER, enc, info, 0, 1 << 30) == data
            with CSEDownload(store, OWNER, info, obj, None, None) as download:
                assert b"".join(download) == data


def test_truncated_last_block_is_damage_for_cli_and_mount(tmp_path):
    """A CSE object whose last frame lost all but 10 bytes (a torn copy, a
    damaged import). The CLI always refused it; the mount used to show it
    one block shorter and read that much without an error, silently dropping
    the tail. Both now find the damage: the read is IntegrityError (EIO)."""
    key = os.urandom(32)
    with Store.init(tmp_path / "s", chunk_size=CS) as store:
        store.create_bucket(OWNER, "bkt")
        data = os.urandom(2 * (CS - OVERHEAD) + 5000)
        obj, envelope, stored = _put_cse(store, key, "whole", data)
        cut = stored[: 2 * CS + 10]
        store.put_object(OWNER, "bkt", "torn", cut, user_meta={META_KEY: envelope})
        info = store.head_object(OWNER, "bkt", "torn")
        with pytest.raises(IntegrityError, match="truncated"):
            plain_size(info.size, CS)
        with pytest.raises(IntegrityError):
            CSEDownload(store, OWNER, info, obj, None, None)
        # The mount still lists it (ls -l works) but never serves a short file.
        assert shown_size(info, CS) != 2 * (CS - OVERHEAD)
        with pytest.raises(IntegrityError):
            read_version(store, OWNER, MountEncryption(cse_key=key), info, 0, 1 << 30)
