"""A throwaway PostgreSQL cluster for the tests: ``initdb`` + ``postgres`` on loopback.

PostgreSQL is the real engine the cluster metadata (objfs/meta/) is tested
against (issue 23: real engines, no mocks). The server binaries come from
Debian's ``postgresql`` package, which ``make test`` installs.

``PostgresServer.start()`` makes a new cluster in a fresh directory under
``/tmp`` (``objfs-pg-*``), starts it on a free loopback port and returns once
it answers. ``new_schema()`` hands out a libpq URL of a fresh, empty schema
(its ``search_path`` given in the URL's ``options``): one schema per store,
so a test's store costs one ``CREATE SCHEMA``, not a database.
``new_database()`` is there for what needs a database of its own.
``stop()``, ``restart()``, ``kill()`` and ``pause()``/``resume()`` are what
"the database is down" looks like to a node.

Invariants:
- PostgreSQL refuses to run as root: as root the cluster belongs to, and
  runs as, the unprivileged user ``postgres`` (made by Debian's package) or
  else ``nobody``; its directory is theirs, not under pytest's tmp (which
  root keeps 0700);
- it listens only on 127.0.0.1 (and a unix socket in its own directory),
  every role is trusted there: the tests' URLs carry no password;
- ``durable=False`` (the tests' default) turns ``fsync`` off: a killed
  server still keeps every committed transaction (the OS keeps the page
  cache), only a power cut would not;
- the server runs in its own process group and is SIGKILLed if the process
  that started it dies; ``stop()`` removes its directory.
"""

from __future__ import annotations

import ctypes
import glob
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["PostgresError", "PostgresServer", "pg_bindir"]

USER = "objfs"  # the role the tests connect as (a superuser of the throwaway cluster)
DATABASE = "objfs"
_LOG_TAIL_LINES = 30


class PostgresError(RuntimeError):
    """PostgreSQL is missing, or did not come up (the message has its log's tail)."""


def pg_bindir() -> Path:
    """The directory of ``initdb`` and ``postgres`` (Debian keeps them out of PATH)."""
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").is_file():
            return candidate
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if versions:
        return Path(versions[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresError(
        "no PostgreSQL server binaries (initdb, postgres): install Debian's "
        "`postgresql` package, or run `make test`, which does"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    """Who runs the cluster: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresError("running as root and there is no `postgres` or `nobody` user")


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL the server if the test process dies (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class PostgresServer:
    """One running PostgreSQL cluster on loopback; see the module docstring."""

    def __init__(self, home: Path, port: int, bindir: Path, owner: pwd.struct_passwd | None):
        self.home = home
        self.data = home / "data"
        self.log = home / "postgres.log"
        self.port = port
        self.bindir = bindir
        self.owner = owner
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0
        self._names = itertools.count(1)
        self._paused = False

    # -- life cycle ----------------------------------------------------------

    @classmethod
    def start(cls, *, durable: bool = False, timeout_s: float = 60.0) -> PostgresServer:
        """initdb a new cluster and start it; raises PostgresError with its log's tail."""
        began = time.monotonic()
        bindir = pg_bindir()
        owner = _run_as()
        home = Path(tempfile.mkdtemp(prefix="objfs-pg-"))
        if owner is not None:
            os.chown(home, owner.pw_uid, owner.pw_gid)
        server = cls(home, _free_port(), bindir, owner)
        try:
            server._initdb(durable)
            server._launch()
            server._wait_ready(began + timeout_s)
            server._sql(f"CREATE DATABASE {DATABASE}", database="postgres")
        except BaseException:
            server.stop()
            raise
        server.startup_s = time.monotonic() - began
        return server

    def _child(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            argv,
            user=self.owner.pw_uid if self.owner else None,
            group=self.owner.pw_gid if self.owner else None,
            extra_groups=[] if self.owner else None,
            env=self._env(),
            cwd=self.home,
            capture_output=True,
            check=False,
            **kwargs,
        )

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LC_ALL": "C.UTF-8",
            "PGTZ": "UTC",
        }

    def _initdb(self, durable: bool) -> None:
        done = self._child(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
                *([] if durable else ["--no-sync"]),
            ]
        )
        if done.returncode != 0:
            raise PostgresError(
                f"initdb failed ({done.returncode}):\n{done.stdout.decode(errors='replace')}"
                f"{done.stderr.decode(errors='replace')}"
            )
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.home}'",
            "max_connections = 300",
            "shared_buffers = 128MB",
            "logging_collector = off",
            "log_min_messages = warning",
            "timezone = 'UTC'",
        ]
        if not durable:
            settings += ["fsync = off", "full_page_writes = off", "synchronous_commit = on"]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# objfs tests (tests/postgres.py)\n" + "\n".join(settings) + "\n")

    def _launch(self) -> None:
        with self.log.open("ab") as out:
            if self.owner is not None:
                os.chown(self.log, self.owner.pw_uid, self.owner.pw_gid)
            self.process = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.data)],
                user=self.owner.pw_uid if self.owner else None,
                group=self.owner.pw_gid if self.owner else None,
                extra_groups=[] if self.owner else None,
                env=self._env(),
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def _wait_ready(self, deadline: float) -> None:
        last = ""
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise PostgresError(
                    f"postgres exited ({self.process.returncode}):\n{self.log_tail()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                self._sql("SELECT 1", database="postgres")
                return
            except (OSError, PostgresError) as error:
                last = str(error)
                time.sleep(0.05)
        raise PostgresError(
            f"postgres did not answer on port {self.port} in time ({last}):\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown, then SIGKILL) and remove its directory."""
        self.shutdown()
        shutil.rmtree(self.home, ignore_errors=True)

    def shutdown(self, *, timeout_s: float = 30.0) -> None:
        """Stop the server as an operator would (SIGINT: fast shutdown); keep its data."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        if self._paused:
            self.resume()
        try:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=timeout_s)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the server's process group (a crash: it recovers at the next start)."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)
        self._paused = False

    def restart(self, *, down_s: float = 0.0, timeout_s: float = 60.0) -> None:
        """Shut down, stay down ``down_s`` seconds, start again on the same port."""
        self.shutdown()
        time.sleep(down_s)
        self._launch()
        self._wait_ready(time.monotonic() + timeout_s)

    def pause(self) -> None:
        """SIGSTOP the server: connections are accepted, never answered."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)
        self._paused = False

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- use -----------------------------------------------------------------

    def url(self, database: str = DATABASE, *, schema: str | None = None) -> str:
        """A libpq URL of ``database`` (as the trusted superuser ``objfs``)."""
        url = f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"
        if schema is not None:
            url += f"?options=-csearch_path%3D{schema}"
        return url

    def new_schema(self, prefix: str = "s") -> str:
        """Create a fresh, empty schema in the ``objfs`` database; its URL."""
        name = f"{prefix}_{next(self._names)}_{secrets.token_hex(3)}"
        self._sql(f"CREATE SCHEMA {name}")
        return self.url(schema=name)

    def new_database(self, prefix: str = "d") -> str:
        """Create a fresh, empty database; its URL."""
        name = f"{prefix}_{next(self._names)}_{secrets.token_hex(3)}"
        self._sql(f"CREATE DATABASE {name}", database="postgres")
        return self.url(name)

    def sql(self, statement: str, database: str = DATABASE) -> str:
        """Run one statement with psql; its unaligned output."""
        return self._sql(statement, database=database)

    def _sql(self, statement: str, *, database: str = DATABASE) -> str:
        psql = self.bindir / "psql"
        if not psql.is_file():
            psql = Path(shutil.which("psql") or "psql")
        done = subprocess.run(
            [
                str(psql),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                database,
                "-c",
                statement,
            ],
            capture_output=True,
            text=True,
            env={**self._env(), "PGCONNECT_TIMEOUT": "5"},
            check=False,
            timeout=60,
        )
        if done.returncode != 0:
            raise PostgresError(f"psql {statement!r}: {done.stderr.strip()}")
        return done.stdout

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as error:
            return f"(no log: {error})"
        return "\n".join(text.splitlines()[-lines:])

    def __repr__(self) -> str:
        state = "paused" if self._paused else "running"
        if self.process is None or self.process.returncode is not None:
            state = "stopped"
        return f"<PostgresServer 127.0.0.1:{self.port} {state}>"
