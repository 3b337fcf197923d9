"""The store maintenance requests' delegates (maintenance.py's ``Maintenance``);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from collections.abc import Callable

from objfs.store.leases import LeaseInfo
from objfs.store.maintenance import FsckReport, GcReport, Maintenance
from objfs.store.types import RequestContext


class MaintenanceFacade:
    """The delegates; the ``Store`` builds ``maintenance`` in ``__init__``."""

    maintenance: Maintenance

    def fsck(
        self,
        ctx: RequestContext,
        *,
        repair: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> FsckReport:
        return self.maintenance.fsck(ctx, repair=repair, progress=progress)

    def writer_leases(self, ctx: RequestContext) -> list[LeaseInfo]:
        return self.maintenance.writer_leases(ctx)

    def gc(self, ctx: RequestContext, *, grace_seconds: float = 3600) -> GcReport:
        return self.maintenance.gc(ctx, grace_seconds=grace_seconds)
