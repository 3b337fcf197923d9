"""The state one CLI invocation carries: where the store is, how to print.

Owns opening the store for a command. Invariants: the store is opened at
most once per invocation, lazily (``--help`` and usage errors never touch
it), and closed by ``close()``; a missing store becomes one clear
``CliError`` naming the path and the way out.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from objfs.cli_args import CliError
from objfs.errors import StoreNotFound
from objfs.store import Store
from objfs.store.types import OWNER, RequestContext


@dataclass(slots=True)
class CliApp:
    store_path: Path
    json: bool = False
    quiet: bool = False
    ctx: RequestContext = OWNER
    _store: Store | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = self._open()
        return self._store

    def _open(self) -> Store:
        path = self.store_path
        missing = CliError(f"no objfs store at {path}: run `objfs init` or pass --store")
        if not path.is_dir():
            raise missing
        try:
            return Store.open(path)
        except StoreNotFound:
            raise missing from None

    def close(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            store.close()

    def say(self, line: str) -> None:
        """A progress/confirmation line for people (suppressed by ``-q``)."""
        if not self.quiet:
            print(line, flush=True)

    def warn(self, line: str) -> None:
        print(f"objfs: {line}", file=sys.stderr, flush=True)
