"""The local KMS's rules and key material, without storage.

Owns:
- the shape of key references: a key id (a UUID), an ARN
  (``arn:objfs:kms:REGION:ACCOUNT:key/ID`` or ``...:alias/NAME``; ``arn:aws:kms``
  is accepted too, so S3 clients can send what they know) or ``alias/NAME``;
- alias naming rules (``alias/`` + letters, digits, ``/ _ -``; the
  ``alias/aws/`` prefix is reserved for the store's default key);
- the key states and which operations each state allows;
- the deletion waiting period (7 to 30 days, as AWS KMS);
- key *material*: 32 secret bytes per material version. A material is sealed
  by the store's master key through the keyring's own envelope (the record an
  SSE-S3 domain uses, under a random id of its own, kept only in
  ``kms_materials``); the material is HKDF(envelope key, "objfs kms material"),
  so it is never a key any other part of the store uses, and it never touches
  disk in the clear.

Invariants: nothing here does I/O; every function either returns a valid value
or raises an ``ObjfsError`` with a one-line message.
"""

from __future__ import annotations

import re
import uuid

from objfs.crypto.keyring import Keyring, hkdf
from objfs.errors import InvalidArgument, KMSNotFound

STATE_ENABLED = "Enabled"
STATE_DISABLED = "Disabled"
STATE_PENDING = "PendingDeletion"
STATE_DELETED = "Deleted"  # tombstone: material destroyed; never listed

MIN_DELETION_DAYS = 7
MAX_DELETION_DAYS = 30
DAY_NS = 86_400 * 1_000_000_000

DEFAULT_ALIAS = "alias/aws/s3"
RESERVED_ALIAS_PREFIX = "alias/aws/"
ARN_PREFIXES = ("arn:objfs:kms:", "arn:aws:kms:")

_ALIAS_NAME = re.compile(r"[A-Za-z0-9/_-]{1,250}")
_MATERIAL_INFO = b"objfs kms material"


def new_key_id() -> str:
    return str(uuid.uuid4())


def key_arn(key_id: str, owner: str, region: str = "local") -> str:
    return f"arn:objfs:kms:{region}:{owner}:key/{key_id}"


def is_key_id(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def parse_key_ref(ref: str) -> tuple[str, str]:
    """("id", KEY_ID) or ("alias", "alias/NAME") for a key id, ARN or alias."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgument("a KMS key reference must be a key id, an ARN or alias/NAME")
    text = ref.strip()
    if text.startswith("arn:"):
        parts = text.split(":", 5)
        if len(parts) != 6 or not text.startswith(ARN_PREFIXES):
            raise KMSNotFound(
                f"{ref!r} is not a KMS key ARN (arn:objfs:kms:REGION:ACCOUNT:key/ID "
                "or ...:alias/NAME)"
            )
        text = parts[5]
        if text.startswith("key/"):
            text = text[len("key/") :]
            if not is_key_id(text):
                raise KMSNotFound(f"no KMS key {ref!r}: the ARN does not end in a key id")
            return "id", text.lower()
        if not text.startswith("alias/"):
            raise KMSNotFound(f"{ref!r} names neither key/ID nor alias/NAME")
    if text.startswith("alias/"):
        return "alias", check_alias(text, allow_reserved=True)
    if is_key_id(text):
        return "id", text.lower()
    raise KMSNotFound(
        f"no KMS key {ref!r}: give a key id, a key ARN or alias/NAME (see `objfs kms ls`)"
    )


def check_alias(alias: str, *, allow_reserved: bool = False) -> str:
    """``alias/NAME`` for ``NAME`` or ``alias/NAME``; InvalidArgument naming the rule broken."""
    if not isinstance(alias, str):
        raise InvalidArgument("an alias must be a string like alias/NAME")
    name = alias[len("alias/") :] if alias.startswith("alias/") else alias
    if not _ALIAS_NAME.fullmatch(name):
        raise InvalidArgument(
            f"bad KMS alias {alias!r}: use alias/NAME with NAME of 1-250 letters, digits, '/', '_' or '-'"
        )
    full = "alias/" + name
    if full.startswith(RESERVED_ALIAS_PREFIX) and not allow_reserved:
        raise InvalidArgument(
            f"KMS alias {full!r} is reserved: names under {RESERVED_ALIAS_PREFIX} belong to the store"
        )
    return full


def check_deletion_days(days: object) -> int:
    if isinstance(days, bool) or not isinstance(days, int):
        raise InvalidArgument(
            f"the deletion waiting period must be a whole number of days, not {days!r}"
        )
    if not MIN_DELETION_DAYS <= days <= MAX_DELETION_DAYS:
        raise InvalidArgument(
            f"the deletion waiting period must be {MIN_DELETION_DAYS} to {MAX_DELETION_DAYS} "
            f"days, not {days}"
        )
    return days


def new_material(keyring: Keyring) -> tuple[bytes, bytes, bytes]:
    """(seal id, sealed record, material): a fresh material sealed by the master key."""
    envelope, record = keyring.new_domain("AES256")
    return envelope.domain_id, record, _material(envelope.enc_key)


def open_material(keyring: Keyring, seal_id: bytes, record: bytes) -> bytes:
    """The material in a sealed record (AccessDenied: wrong master key; IntegrityError: damaged)."""
    return _material(keyring.open_domain(seal_id, record).enc_key)


def _material(envelope_key: bytes | None) -> bytes:
    assert envelope_key is not None
    return hkdf(envelope_key, _MATERIAL_INFO)
