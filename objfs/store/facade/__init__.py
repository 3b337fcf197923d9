"""The ``Store``'s public API of its collaborators, as thin delegates.

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

from objfs.store.facade.admin import AdminFacade
from objfs.store.facade.bucket_logging import BucketLoggingFacade
from objfs.store.facade.buckets import BucketsFacade
from objfs.store.facade.change_feed import ChangeFeedFacade
from objfs.store.facade.lifecycle import LifecycleFacade
from objfs.store.facade.listing import ListingFacade
from objfs.store.facade.maintenance import MaintenanceFacade
from objfs.store.facade.mount_ops import MountOpsFacade
from objfs.store.facade.multipart import MultipartFacade
from objfs.store.facade.object_lock import ObjectLockFacade
from objfs.store.facade.objects import ObjectsFacade
from objfs.store.facade.tagging import TaggingFacade

# Every delegate class the ``Store`` derives from (one per collaborator group).
FACADES: tuple[type, ...] = (
    AdminFacade,
    BucketLoggingFacade,
    BucketsFacade,
    ChangeFeedFacade,
    LifecycleFacade,
    ListingFacade,
    MaintenanceFacade,
    MountOpsFacade,
    MultipartFacade,
    ObjectLockFacade,
    ObjectsFacade,
    TaggingFacade,
)

__all__ = [
    "FACADES",
    "AdminFacade",
    "BucketLoggingFacade",
    "BucketsFacade",
    "ChangeFeedFacade",
    "LifecycleFacade",
    "ListingFacade",
    "MaintenanceFacade",
    "MountOpsFacade",
    "MultipartFacade",
    "ObjectLockFacade",
    "ObjectsFacade",
    "TaggingFacade",
]
