"""The change feed's and ``sync``'s delegates (changes.py's ``ChangeFeed``);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from objfs.store.changes import ChangeFeed
from objfs.store.types import Change, RequestContext


class ChangeFeedFacade:
    """The delegates; the ``Store`` builds ``change_feed`` in ``__init__``."""

    change_feed: ChangeFeed

    def sync(self, ctx: RequestContext) -> None:
        return self.change_feed.sync(ctx)

    def change_seq(self, ctx: RequestContext) -> int:
        return self.change_feed.change_seq(ctx)

    def changes_since(
        self, ctx: RequestContext, seq: int, limit: int = 10000
    ) -> tuple[int, list[Change]]:
        return self.change_feed.changes_since(ctx, seq, limit)
