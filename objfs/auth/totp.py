"""TOTP codes for MFA delete (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps).

Owns secret generation (base32, 160 bits as RFC 4226 recommends), the
``otpauth://`` provisioning URI, and verification. Built on
``cryptography``'s HOTP primitive; codes are compared in constant time.

Invariant the caller keeps: a code is good once. ``verify`` returns the time
step it matched; the caller stores it as the device's last used step and
passes it back, and ``verify`` refuses that step and every earlier one, so a
code cannot be replayed within its ±1 step window.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.hotp import HOTP
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from objfs.errors import InvalidArgument, InvalidRequest

DIGITS = 6
STEP_SECONDS = 30
SECRET_BYTES = 20
WINDOW = 1


def generate_secret() -> str:
    """A fresh random secret, base32 without padding (what authenticator apps take)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def decode_secret(secret: str) -> bytes:
    """Base32 text (any case, spaces and padding optional) -> key bytes."""
    text = "".join(secret.split()).upper().rstrip("=")
    try:
        key = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise InvalidArgument("MFA secret is not base32") from None
    if len(key) < 16:
        raise InvalidArgument("MFA secret is shorter than 128 bits")
    return key


def provisioning_uri(secret: str, account: str, issuer: str = "objfs") -> str:
    """The ``otpauth://totp/...`` URI an authenticator app (or QR code) takes."""
    totp = TOTP(decode_secret(secret), DIGITS, SHA1(), STEP_SECONDS)
    return totp.get_provisioning_uri(account, issuer)


def step_at(unix_time: float) -> int:
    """The RFC 6238 time step (counter) at ``unix_time``."""
    return int(unix_time // STEP_SECONDS)


def _hotp(secret: str | bytes, digits: int) -> HOTP:
    key = secret if isinstance(secret, bytes) else decode_secret(secret)
    return HOTP(key, digits, SHA1(), enforce_key_length=False)


def code_for_step(secret: str | bytes, step: int, *, digits: int = DIGITS) -> str:
    return _hotp(secret, digits).generate(step).decode("ascii")


def code_at(secret: str | bytes, unix_time: float, *, digits: int = DIGITS) -> str:
    """The code valid at ``unix_time``."""
    return code_for_step(secret, step_at(unix_time), digits=digits)


def verify(
    secret: str | bytes,
    code: str,
    *,
    now: float,
    last_step: int | None = None,
    window: int = WINDOW,
    digits: int = DIGITS,
) -> int | None:
    """The step ``code`` is valid for (within ±``window`` steps of ``now``), or None.

    Steps at or before ``last_step`` (the last code accepted) are refused.
    """
    code = code.strip()
    if len(code) != digits or not code.isascii() or not code.isdigit():
        return None
    hotp = _hotp(secret, digits)
    current = step_at(now)
    matched = None
    for step in range(current - window, current + window + 1):
        if step < 0 or (last_step is not None and step <= last_step):
            continue
        want = hotp.generate(step)
        if hmac.compare_digest(want, code.encode("ascii")) and matched is None:
            matched = step
    return matched


def parse_mfa(value: str) -> tuple[str, str]:
    """``x-amz-mfa`` / ``--mfa``: ``"SERIAL CODE"`` -> (serial, code)."""
    parts = value.split()
    if len(parts) != 2 or not parts[1].isdigit():
        raise InvalidRequest('MFA must be "SERIAL CODE", e.g. --mfa "objfs-mfa 123456"')
    return parts[0], parts[1]


__all__ = [
    "DIGITS",
    "STEP_SECONDS",
    "code_at",
    "code_for_step",
    "decode_secret",
    "generate_secret",
    "parse_mfa",
    "provisioning_uri",
    "step_at",
    "verify",
]
