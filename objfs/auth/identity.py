"""Who makes a request: the store owner, a user, anonymous, or log delivery.

An ``Identity`` is built by an adapter from its credentials (the CLI from a
profile or none, the mount from ``profile=``/``user_map=``, the HTTP API from
SigV4 or nothing) and is what every policy, ACL and ownership check reads.
There is no default identity: whoever builds a request says who it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

OWNER_NAME = "owner"
ANONYMOUS_NAME = "anonymous"
LOG_DELIVERY_NAME = "log-delivery"


class PrincipalKind(StrEnum):
    OWNER = "owner"  # the store's owner: whoever holds the store directory
    USER = "user"  # a user with access keys
    ANONYMOUS = "anonymous"  # no credentials (anonymous HTTP, user_map ``*=anonymous``)
    LOG_DELIVERY = "log-delivery"  # the server-access-log writer (group LogDelivery)


@dataclass(slots=True, frozen=True)
class Identity:
    """The principal of a request. ``canonical_id`` is 64 hex (None for anonymous)."""

    kind: PrincipalKind
    name: str
    canonical_id: str | None = None
    display_name: str | None = None

    @classmethod
    def owner(cls, canonical_id: str, display_name: str | None = None) -> Identity:
        return cls(PrincipalKind.OWNER, OWNER_NAME, canonical_id, display_name)

    @classmethod
    def user(cls, name: str, canonical_id: str, display_name: str | None = None) -> Identity:
        return cls(PrincipalKind.USER, name, canonical_id, display_name)

    @classmethod
    def anonymous(cls) -> Identity:
        return cls(PrincipalKind.ANONYMOUS, ANONYMOUS_NAME)

    @classmethod
    def log_delivery(cls) -> Identity:
        return cls(PrincipalKind.LOG_DELIVERY, LOG_DELIVERY_NAME)

    @property
    def is_owner(self) -> bool:
        return self.kind is PrincipalKind.OWNER

    @property
    def authenticated(self) -> bool:
        return self.kind is not PrincipalKind.ANONYMOUS

    @property
    def principal_type(self) -> str:
        """The ``aws:PrincipalType`` value: Account (owner), User, Anonymous, Service."""
        return {
            PrincipalKind.OWNER: "Account",
            PrincipalKind.USER: "User",
            PrincipalKind.ANONYMOUS: "Anonymous",
            PrincipalKind.LOG_DELIVERY: "Service",
        }[self.kind]

    def describe(self) -> str:
        """``user alice``, ``the store owner``, ``anonymous``."""
        if self.kind is PrincipalKind.USER:
            return f"user {self.name}"
        if self.kind is PrincipalKind.OWNER:
            return "the store owner"
        return self.name
