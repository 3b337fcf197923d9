"""Where a benchmark workload runs: local disk, the passthrough mount, objfs.

Each ``Target`` owns one fresh directory under the run's work dir and gives
the workloads one ``root`` to operate in, plus the few hooks a fair
comparison needs: ``cold()`` (unmount, drop the page cache, mount again),
``populate()`` (create many empty entries the fast way, outside the timed
part: directly on disk, in the passthrough's source, or through the objfs
store API), ``space_bytes()`` (what the backing storage occupies) and the
peak RSS of the FUSE daemon.

Invariants: a started FUSE target is mounted at ``root`` and its daemon is
alive; ``stop()`` always leaves the mount point unmounted (``fusermount3 -u``,
then ``-uz``, then SIGKILL of the daemon), also after a failure, so a
crashed benchmark never leaves a dead mount behind.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from objfs.store import OWNER

log = logging.getLogger("objfs.bench.targets")

HERE = Path(__file__).resolve().parent
BUCKET = "bench"
MOUNT_TIMEOUT = 30.0


class BenchError(Exception):
    """A target could not be set up or mounted; the message is one line."""


def drop_caches() -> bool:
    """Flush dirty data and drop the page, dentry and inode caches."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        return False
    return True


def tree_bytes(path: Path) -> int:
    """Disk space (allocated blocks) under ``path``, like ``du -s``."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + dirnames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return total


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def peak_rss_kib(pid: int) -> int | None:
    """Largest VmHWM (peak resident set, KiB) of ``pid`` and its descendants."""
    best = None
    for p in _descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        value = int(line.split()[1])
                        best = value if best is None else max(best, value)
        except OSError:
            continue
    return best


def unmount(mountpoint: Path) -> None:
    """Unmount, lazily if a plain unmount is refused; never raises."""
    if not os.path.ismount(mountpoint):
        return
    for args in (["fusermount3", "-u"], ["fusermount3", "-uz"]):
        done = subprocess.run([*args, str(mountpoint)], capture_output=True, text=True)
        if done.returncode == 0:
            return
        log.warning("%s %s: %s", " ".join(args), mountpoint, done.stderr.strip())


class Target:
    """Local disk: the workload runs in a plain directory."""

    kind = "disk"

    def __init__(self, workdir: Path, *, sse: str = "-") -> None:
        self.sse = sse
        self.base = workdir / (self.kind if sse == "-" else f"{self.kind}-{sse}")
        self.root = self.base / "data"
        self.peak_rss: int | None = None
        self.notes: list[str] = []

    @property
    def label(self) -> str:
        return self.kind

    def create(self, *, versioning: bool = False) -> None:
        """Make a fresh, empty target (versioning matters to objfs only)."""
        shutil.rmtree(self.base, ignore_errors=True)
        self.root.mkdir(parents=True)
        self.reset_rss()

    def start(self) -> None:
        """Make ``root`` usable (mount it, for FUSE targets)."""

    def reset_rss(self) -> None:
        self.peak_rss = None

    def current_rss(self) -> int | None:
        """Peak daemon RSS in KiB so far (None: no daemon)."""
        return self.peak_rss

    def stop(self) -> None:
        """Undo ``start``; safe to call twice."""

    def cold(self) -> None:
        """Forget every cache: the next access reads from storage."""
        self.stop()
        if not drop_caches():
            self.notes.append("page cache not dropped (needs root)")
        self.start()

    def populate(self, relpath: str, count: int) -> None:
        """Create ``count`` empty entries in ``root/relpath`` (while stopped)."""
        _create_empty(self.root / relpath, count)

    def space_bytes(self) -> int:
        os.sync()
        return tree_bytes(self.root)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def _create_empty(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        os.close(os.open(directory / f"f{i:07d}", os.O_CREAT | os.O_WRONLY, 0o644))


class FuseTarget(Target):
    """A FUSE daemon run in the foreground as a child process."""

    def __init__(self, workdir: Path, *, sse: str = "-") -> None:
        super().__init__(workdir, sse=sse)
        self.root = self.base / "mnt"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.base / "daemon.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        if self.proc is not None:
            return
        cmd = self.command()
        log.debug("mounting: %s", " ".join(cmd))
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not os.path.ismount(self.root):
            if self.proc.poll() is not None:
                self.proc = None
                raise BenchError(f"{self.label} mount exited: {self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"{self.label} not mounted after {MOUNT_TIMEOUT:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is None:
            unmount(self.root)
            return
        rss = peak_rss_kib(self.proc.pid)
        if rss is not None:
            self.peak_rss = max(self.peak_rss or 0, rss)
        try:
            unmount(self.root)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                log.warning("%s daemon still running after unmount; killing it", self.label)
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
        finally:
            self.proc = None
            unmount(self.root)

    def current_rss(self) -> int | None:
        """Peak RSS so far: of the running daemon and of earlier ones."""
        now = peak_rss_kib(self.proc.pid) if self.proc is not None else None
        values = [v for v in (now, self.peak_rss) if v is not None]
        return max(values) if values else None

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "no output"


class PassthroughTarget(FuseTarget):
    """``passthrough.py`` mirroring a plain source directory."""

    kind = "passthrough"

    def __init__(self, workdir: Path, *, sse: str = "-") -> None:
        super().__init__(workdir, sse=sse)
        self.source = self.base / "src"

    def create(self, *, versioning: bool = False) -> None:
        super().create()
        self.source.mkdir()

    def command(self) -> list[str]:
        return [sys.executable, str(HERE / "passthrough.py"), str(self.source), str(self.root)]

    def populate(self, relpath: str, count: int) -> None:
        _create_empty(self.source / relpath, count)

    def space_bytes(self) -> int:
        os.sync()
        return tree_bytes(self.source)


POPULATE_WORKERS = 2


def _put_empty(store_dir: Path, relpath: str, start: int, stop: int) -> None:
    """Keys ``relpath/f{i:07d}`` for i in [start, stop), empty, through the store API."""
    from objfs.store import Store

    # Not durable per key: one flush at the end, like a batch import.
    ctx = OWNER.with_options(durable=False)
    store = Store.open(store_dir)
    try:
        for i in range(start, stop):
            store.put_object(ctx, BUCKET, f"{relpath}/f{i:07d}", b"")
    finally:
        store.close()


class ObjfsTarget(FuseTarget):
    """An objfs store with one bucket, mounted with ``objfs mount -f``.

    The store and bucket are set up through the store API (the contract in
    ``objfs/store/CONTRACT.md``), the mount through the CLI, as users do.
    ``sse`` is the bucket's default encryption: ``AES256`` or ``none``;
    ``CSE`` is client-side encryption by the mount (``cse_key_file=``) over
    a bucket without server-side encryption.
    """

    kind = "objfs"

    def __init__(self, workdir: Path, *, sse: str = "AES256", options: str = "") -> None:
        super().__init__(workdir, sse=sse)
        self.store_dir = self.base / "store"
        self.options = options

    @property
    def cse(self) -> bool:
        return self.sse == "CSE"

    @property
    def label(self) -> str:
        return f"objfs sse={self.sse}"

    def _objfs_bin(self) -> str:
        candidate = Path(sys.executable).parent / "objfs"
        found = str(candidate) if candidate.exists() else shutil.which("objfs")
        if not found:
            raise BenchError("the objfs command is not installed (pip install -e .)")
        return found

    def create(self, *, versioning: bool = False) -> None:
        super().create()
        try:
            from objfs.store import OWNER, Store
        except ImportError as exc:
            raise BenchError(f"objfs store not importable yet: {exc}") from None
        from objfs.errors import ObjfsError

        try:
            store = Store.init(self.store_dir)
            try:
                store.create_bucket(OWNER, BUCKET, versioning=versioning)
                store.set_bucket_encryption(OWNER, BUCKET, "none" if self.cse else self.sse)
            finally:
                store.close()
        except (ObjfsError, NotImplementedError, AttributeError) as exc:
            raise BenchError(f"store setup failed: {type(exc).__name__}: {exc}") from None

    def command(self) -> list[str]:
        opts = f"store={self.store_dir}"
        if self.cse:
            key = self.base / "cse.key"
            if not key.exists():
                key.write_bytes(os.urandom(32))
                key.chmod(0o600)
            opts += f",cse_key_file={key}"
        if self.options:
            opts += "," + self.options
        return [self._objfs_bin(), "mount", BUCKET, str(self.root), "-f", "-o", opts]

    def populate(self, relpath: str, count: int) -> None:
        # Through the store API (not the mount), from POPULATE_WORKERS
        # processes: their Python work overlaps, their commits take turns.
        workers = max(1, min(POPULATE_WORKERS, count // 1000))
        spans = [(count * k // workers, count * (k + 1) // workers) for k in range(workers)]
        if workers == 1:
            _put_empty(self.store_dir, relpath, *spans[0])
            return
        fork = multiprocessing.get_context("fork")  # the harness runs no threads here
        with ProcessPoolExecutor(workers, mp_context=fork) as pool:
            for done in [pool.submit(_put_empty, self.store_dir, relpath, *s) for s in spans]:
                done.result()

    def versions(self, key: str) -> int:
        """How many versions (delete markers included) ``key`` has."""
        from objfs.store import Store

        store = Store.open(self.store_dir)
        try:
            return len(store.key_versions(OWNER, BUCKET, key))
        finally:
            store.close()

    def space_bytes(self) -> int:
        os.sync()
        return tree_bytes(self.store_dir)
