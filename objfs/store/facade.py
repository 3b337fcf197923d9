"""The ``Store``'s public API of its administration collaborators, as thin delegates.

Adapters (the CLI, the HTTP API, the mount) and the tests call
``store.create_user(ctx, ...)``; the work is done by the collaborator the
store built in ``__init__`` (``store.users.create_user(ctx, ...)``), whose
method carries the seam's decorator (``requires``/``owner_only``): each
delegate here has the collaborator method's signature and body
``return self.<collaborator>.<same name>(...)``, nothing else
(``tests/store/test_access_seam.py`` checks the delegates and the
actions behind them).

Invariant: no logic here. A delegate is one call, so a method is checked
once, by its collaborator's decorator (the delegate is not a request).
"""

from __future__ import annotations

from objfs.store.mfa import MFA
from objfs.store.types import (
    AccessKeyInfo,
    Identity,
    MFADeviceInfo,
    NewAccessKey,
    NewMFADevice,
    RequestContext,
    UserInfo,
)
from objfs.store.users import Users


class AdminFacade:
    """The delegates; the ``Store`` builds the collaborators in ``__init__``."""

    users: Users
    mfa: MFA

    # -- MFA devices (store/mfa.py) ------------------------------------------------------

    def mfa_enable(self, ctx: RequestContext) -> NewMFADevice:
        return self.mfa.mfa_enable(ctx)

    def mfa_list(self, ctx: RequestContext) -> list[MFADeviceInfo]:
        return self.mfa.mfa_list(ctx)

    def mfa_disable(self, ctx: RequestContext) -> str:
        return self.mfa.mfa_disable(ctx)

    # -- users and access keys (store/users.py) ----------------------------------------

    def create_user(
        self, ctx: RequestContext, name: str, *, display_name: str | None = None
    ) -> UserInfo:
        return self.users.create_user(ctx, name, display_name=display_name)

    def list_users(self, ctx: RequestContext) -> list[UserInfo]:
        return self.users.list_users(ctx)

    def get_user(self, ctx: RequestContext, name: str) -> UserInfo:
        return self.users.get_user(ctx, name)

    def delete_user(self, ctx: RequestContext, name: str) -> None:
        return self.users.delete_user(ctx, name)

    def create_access_key(self, ctx: RequestContext, user: str) -> NewAccessKey:
        return self.users.create_access_key(ctx, user)

    def list_access_keys(self, ctx: RequestContext, user: str) -> list[AccessKeyInfo]:
        return self.users.list_access_keys(ctx, user)

    def set_access_key_status(
        self, ctx: RequestContext, user: str, key_id: str, *, active: bool
    ) -> AccessKeyInfo:
        return self.users.set_access_key_status(ctx, user, key_id, active=active)

    def delete_access_key(self, ctx: RequestContext, user: str, key_id: str) -> None:
        return self.users.delete_access_key(ctx, user, key_id)

    def signing_secret(self, key_id: str) -> tuple[Identity, str]:
        return self.users.signing_secret(key_id)

    def authenticate(self, key_id: str, secret: str) -> Identity:
        return self.users.authenticate(key_id, secret)

    def user_identity(self, name: str) -> Identity:
        return self.users.user_identity(name)
