"""``Clock``: where the store's "now" comes from (TOTP codes, Object Lock).

One object, shared by the collaborators that read the time (``MFACodes``,
``LockRules``); tests replace its ``source`` (``store.clock = ...``) to
step through time. Invariant: callers call the clock, never ``time.time``,
for anything a test may need to move.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    """Callable: seconds since the epoch, from ``source``."""

    __slots__ = ("source",)

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self.source = source

    def __call__(self) -> float:
        return self.source()
