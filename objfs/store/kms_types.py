"""Records the store's KMS API returns (``store.kms_*``).

Frozen slotted dataclasses: values, not handles. Times are nanoseconds since
the epoch. Only ``objfs/store/kms.py`` creates them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class KMSKeyInfo:
    """One KMS key as ``kms ls`` / ``kms describe`` show it.

    ``state``: "Enabled", "Disabled" or "PendingDeletion". ``deletion_ns`` is
    when a key pending deletion loses its material (None otherwise).
    ``material_versions``: how many materials the key has (1 + rotations);
    new data uses the newest, old data stays readable through older ones.
    """

    key_id: str
    arn: str
    aliases: tuple[str, ...]
    state: str
    created_ns: int
    deletion_ns: int | None
    material_versions: int
    description: str
    owner: str
    is_default: bool = False


@dataclass(slots=True, frozen=True)
class KMSAuditEntry:
    """One use or change of a KMS key.

    ``operation``: "GenerateDataKey" (data written under the key), "Decrypt"
    (data read), or a management call ("CreateKey", "DisableKey", ...,
    "DeleteKey" when a scheduled deletion destroys the material).
    ``error``: the error code when the use was refused (e.g.
    "KMS.DisabledException"), else None. ``bucket``/``key`` are None for
    management calls and internal uses (fsck).
    """

    seq: int
    time_ns: int
    principal: str
    interface: str
    operation: str
    key_id: str | None
    bucket: str | None
    key: str | None
    material_version: int | None
    error: str | None
