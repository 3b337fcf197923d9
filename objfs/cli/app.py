"""The state one CLI invocation carries: where the store is, how to print.

Owns opening the store for a command, with the master key the user named
(``--master-key-file`` / ``$OBJFS_MASTER_KEY_FILE``; else the store's
``keys/master.key`` or the systemd credential), and the identity the command
acts as (``--profile``/``--credentials-file``, ``$OBJFS_PROFILE``, or
``$AWS_ACCESS_KEY_ID``+``$AWS_SECRET_ACCESS_KEY``; without any, the owner:
whoever can open the store directory holds owner power). Invariants: the store is
opened at most once per invocation, lazily (``--help`` and usage errors
never touch it), and closed by ``close()``; a missing store or a master key
that does not open it becomes one clear ``CliError`` naming the path and the
way out.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

from objfs.auth.credentials import find_credentials
from objfs.cli.args import CliError
from objfs.crypto.keyring import Keyring
from objfs.errors import AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, StoreNotFound
from objfs.store import Store
from objfs.store.types import OWNER, RequestContext


@dataclass(slots=True)
class CliApp:
    store_path: Path
    json: bool = False
    quiet: bool = False
    master_key_file: Path | None = None
    profile: str | None = None
    credentials_file: Path | None = None
    # ``--mfa "SERIAL CODE"``: carried on every request of this invocation; the
    # store checks and spends it where a request needs one (cli/mfa.py).
    mfa: str | None = None
    _store: Store | None = field(default=None, repr=False)
    _ctx: RequestContext | None = field(default=None, repr=False)

    @property
    def ctx(self) -> RequestContext:
        """Who this invocation acts as: the profile's or environment's user, else the owner."""
        if self._ctx is None:
            creds = find_credentials(self.profile, self.credentials_file)
            if creds is None:
                self._ctx = OWNER
            else:
                try:
                    identity = self.store.authenticate(creds.access_key_id, creds.secret_access_key)
                except (InvalidAccessKeyId, SignatureDoesNotMatch) as err:
                    raise CliError(
                        f"cannot act as access key {creds.access_key_id}: {err}"
                    ) from None
                self._ctx = RequestContext(identity, "cli", access_key=creds.access_key_id)
            if self.mfa:
                self._ctx = dataclasses.replace(self._ctx, mfa=" ".join(self.mfa.split()))
        return self._ctx

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
            return Store.open(path, master_key_file=self.master_key_file)
        except StoreNotFound:
            raise missing from None
        except AccessDenied as err:
            if "does not match" not in str(err):
                raise  # no key file, unreadable: the keyring's message says what to do
            used = Keyring.key_path(path / "keys", self.master_key_file)
            raise CliError(
                f"cannot open the store at {path}: the master key in {used} is not this "
                "store's key (pass the right one with --master-key-file)"
            ) from None

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
