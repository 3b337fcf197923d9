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
from objfs.store.types import MFADeviceInfo, NewMFADevice, RequestContext


class AdminFacade:
    """Delegates to ``mfa``; the ``Store`` sets the collaborators in ``__init__``."""

    mfa: MFA

    # -- MFA devices (store/mfa.py) ------------------------------------------------------

    def mfa_enable(self, ctx: RequestContext) -> NewMFADevice:
        return self.mfa.mfa_enable(ctx)

    def mfa_list(self, ctx: RequestContext) -> list[MFADeviceInfo]:
        return self.mfa.mfa_list(ctx)

    def mfa_disable(self, ctx: RequestContext) -> str:
        return self.mfa.mfa_disable(ctx)
