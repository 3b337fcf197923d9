"""Client-side encryption envelope and frames (objfs/crypto/cse.py)."""

from __future__ import annotations

import os

import pytest

from objfs.crypto.cse import (
    OVERHEAD,
    CSEObject,
    decrypt_stream,
    encrypt_stream,
    load_key_file,
)
from objfs.errors import AccessDenied, IntegrityError, InvalidArgument, InvalidRequest

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
