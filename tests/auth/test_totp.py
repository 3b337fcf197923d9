"""TOTP: RFC 6238 vectors, the ±1 step window, refusal of reused codes."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import pytest

from objfs.auth import totp
from objfs.errors import InvalidArgument, InvalidRequest

# RFC 6238 appendix B, SHA-1, seed "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("t", "code"), RFC_VECTORS)
def test_rfc6238_vectors(t: int, code: str) -> None:
    assert totp.code_at(RFC_SECRET, t, digits=8) == code
    # the 6-digit code is the same truncated value mod 10**6
    assert totp.code_at(RFC_SECRET, t) == code[-6:]
    assert totp.verify(RFC_SECRET, code, now=t, digits=8) == t // 30


def test_window_is_one_step_each_way() -> None:
    t = 1_800_000_000.0
    step = totp.step_at(t)
    for delta, ok in [(-2, False), (-1, True), (0, True), (1, True), (2, False)]:
        code = totp.code_for_step(RFC_SECRET, step + delta)
        got = totp.verify(RFC_SECRET, code, now=t)
        assert (got == step + delta) if ok else got is None, delta


def test_a_used_code_and_older_ones_are_refused() -> None:
    t = 1_800_000_015.0
    step = totp.step_at(t)
    code = totp.code_at(RFC_SECRET, t)
    used = totp.verify(RFC_SECRET, code, now=t)
    assert used == step
    assert totp.verify(RFC_SECRET, code, now=t, last_step=used) is None
    assert totp.verify(RFC_SECRET, code, now=t + 29, last_step=used) is None
    previous = totp.code_for_step(RFC_SECRET, step - 1)
    assert totp.verify(RFC_SECRET, previous, now=t, last_step=used) is None
    following = totp.code_at(RFC_SECRET, t + 30)
    assert totp.verify(RFC_SECRET, following, now=t + 30, last_step=used) == step + 1


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", " ", "１２３４５６", "12 456"])
def test_malformed_codes_never_verify(bad: str) -> None:
    assert totp.verify(RFC_SECRET, bad, now=59) is None


def test_wrong_code_is_refused() -> None:
    right = totp.code_at(RFC_SECRET, 59)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert totp.verify(RFC_SECRET, wrong, now=59) is None


def test_generated_secrets_and_uri() -> None:
    a, b = totp.generate_secret(), totp.generate_secret()
    assert a != b and len(a) == 32 and len(totp.decode_secret(a)) == 20
    assert totp.decode_secret(a.lower()) == totp.decode_secret(" ".join([a[:16], a[16:]]))
    uri = totp.provisioning_uri(a, "owner@store", issuer="objfs")
    u = urlparse(uri)
    assert u.scheme == "otpauth" and u.netloc == "totp"
    q = parse_qs(u.query)
    assert q["secret"] == [a] and q["issuer"] == ["objfs"]
    assert q["digits"] == ["6"] and q["period"] == ["30"] and q["algorithm"] == ["SHA1"]
    now = 1_800_000_000
    assert totp.verify(a, totp.code_at(a, now), now=now) == totp.step_at(now)


def test_bad_secrets() -> None:
    with pytest.raises(InvalidArgument, match="not base32"):
        totp.decode_secret("not base32!")
    with pytest.raises(InvalidArgument, match="shorter than 128 bits"):
        totp.decode_secret("GEZDGNBV")


def test_parse_mfa() -> None:
    assert totp.parse_mfa("objfs-mfa 123456") == ("objfs-mfa", "123456")
    assert totp.parse_mfa("  arn:aws:iam::1:mfa/root   012345 ") == (
        "arn:aws:iam::1:mfa/root",
        "012345",
    )
    for bad in ("123456", "serial abc", "a b c", ""):
        with pytest.raises(InvalidRequest, match="SERIAL CODE"):
            totp.parse_mfa(bad)
