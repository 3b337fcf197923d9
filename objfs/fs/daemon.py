"""Mount lifecycle: ``objfs mount`` / ``objfs umount`` and the mount daemon.

``mount_command`` parses options, then either serves in this process
(``foreground``) or starts ``python -m objfs.fs.daemon`` in a new session
and returns only once that daemon reports over a pipe that the mount is
ready (exit 0) or why it is not (one line on stderr, exit 1; option errors
exit 2 before anything starts). With ``NOTIFY_SOCKET`` set, the process
systemd started sends ``READY=1`` once the mount is ready.

The daemon: preflight checks, ``pyfuse3.init``, then one trio run with the
FUSE workers, the change poller and a SIGTERM/SIGINT/SIGHUP watcher that
commits open files and ends the main loop; ``pyfuse3.close(unmount=True)``
and ``store.close()`` always run on the way out.
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pyfuse3
import trio

from objfs.fs.lifecycle import (
    MountError,
    fuse_options,
    load_encryption,
    preflight,
    preflight_identities,
    resolve_store,
    sd_notify,
    setup_logging,
)
from objfs.fs.operations import ObjfsOperations
from objfs.fs.options import MountOptionError, MountOptions, parse_options
from objfs.fs.pagecache import PagePusher
from objfs.fs.times import run_flusher
from objfs.store.expiry import LifecycleTimer

log = logging.getLogger("objfs.fs")

READY_TIMEOUT = 60.0


def _say(message: str) -> None:
    print(f"objfs: {message}", file=sys.stderr)


async def _watch_signals(
    ops: ObjfsOperations, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        task_status.started()
        async for signum in signals:
            log.info("%s: committing open files and unmounting", signal.Signals(signum).name)
            await ops.flush_all()
            pyfuse3.terminate()
            return


async def _serve(ops: ObjfsOperations, on_ready: Callable[[], None], mountpoint: str) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(ops.feed.run)
        await nursery.start(run_flusher, ops)
        await nursery.start(_watch_signals, ops)
        on_ready()
        await pyfuse3.main(min_tasks=2, max_tasks=64)
        failed = await ops.flush_all()
        if failed:
            log.error("%d open files could not be committed at unmount", failed)
        nursery.cancel_scope.cancel()


GC_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def run_daemon(
    store_path: str | None,
    bucket: str,
    mountpoint: str,
    options: MountOptions,
    on_ready: Callable[[], None],
) -> None:
    """Mount and serve until unmounted or signalled; MountError if it cannot start."""
    encryption = load_encryption(options)
    store = preflight(store_path, bucket, mountpoint, options, encryption)
    identities = preflight_identities(store, options)
    try:
        ops = ObjfsOperations(store, bucket, options, encryption=encryption, identities=identities)
        try:
            pyfuse3.init(ops, mountpoint, fuse_options(bucket, options))
        except RuntimeError as err:
            raise MountError(f"cannot mount {mountpoint}: {err}") from None
        log.info(
            "mounted bucket %s%s on %s (encryption of new files: %s)",
            bucket,
            f" prefix {options.prefix}" if options.prefix else "",
            mountpoint,
            encryption.describe(),
        )
        ops.pusher = PagePusher()
        # The kernel caps the read-ahead when it reads the INIT reply: raise it
        # right after that, before any other request (a file opened meanwhile
        # would keep the 128 KiB default; one opened at once after the mount
        # appeared did, reading cold at ~555 instead of ~800 MB/s).
        ops.after_init = functools.partial(_after_init, ops, mountpoint)
        if os.environ.get("OBJFS_PAGE_PUSH") == "0":  # for before/after benchmarks
            ops.pusher.disabled = True
        # A listing of 100,000 keys keeps a node and a compact entry per key:
        # with the default first threshold (700) the collector runs full
        # passes over them again and again to find no garbage (a fifth of a
        # cold ``ls -l``'s CPU). Young collections 30x rarer: same result.
        gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
        timer = None
        if options.lifecycle_interval:
            timer = LifecycleTimer(store, options.lifecycle_interval, bucket).start()
        try:
            trio.run(_serve, ops, on_ready, mountpoint)
        finally:
            if timer is not None:
                timer.stop()
            # No store may reach a closed session; one stuck on a page whose
            # READ will not be answered now is ended by aborting the connection.
            ops.pusher.close(on_stuck=lambda: abort_connection(ops.fuse_device))
            log.info(
                "page cache pushes: %d bytes stored, %d dropped",
                ops.pusher.pushed,
                ops.pusher.dropped,
            )
            pyfuse3.close(unmount=True)
            log.info("unmounted %s", mountpoint)
    finally:
        store.close()


def mount_device(mountpoint: str) -> str | None:
    """``major:minor`` of the file system mounted on ``mountpoint`` (the last
    one mounted there), from /proc/self/mountinfo; None if none is."""
    # Not os.stat(mountpoint): in the daemon that would ask itself, not
    # serving yet. Nor realpath (it stats the mountpoint too): the caller
    # passes the resolved path; mountinfo escapes spaces and the like as octal.
    target = os.path.abspath(mountpoint)
    for char in "\\ \t\n":
        target = target.replace(char, f"\\{ord(char):03o}")
    try:
        with open("/proc/self/mountinfo") as f:
            devs = [ln.split()[2] for ln in f if ln.split()[4] == target]
    except OSError:
        return None
    return devs[-1] if devs else None


def _after_init(ops: ObjfsOperations, mountpoint: str) -> None:
    """Right after the INIT reply: note the mount's device, raise its read-ahead."""
    ops.fuse_device = mount_device(mountpoint)
    if ops.fuse_device is not None:
        _raise_readahead(ops.fuse_device, ops.store.chunk_size)


def _raise_readahead(device: str, chunk_size: int) -> None:
    """Let the kernel read ahead a whole chunk: 8x fewer read requests.

    The kernel's default of 128 KiB means eight requests (and eight trips
    through the daemon) per 1 MiB chunk. Best effort: needs root (sysfs).
    """
    try:
        with open(f"/sys/class/bdi/{device}/read_ahead_kb", "w") as f:
            f.write(str(max(128, chunk_size // 1024)))
    except OSError as err:
        log.debug("could not raise read-ahead: %s", err)


FUSECTL = "/sys/fs/fuse/connections"


def abort_connection(device: str | None) -> bool:
    """Abort the FUSE connection of the mount with device ``device`` (fusectl).

    For a daemon that cannot end otherwise: a page-cache push blocked on a
    page whose READ the ended loop will never answer holds the FUSE device
    open, so closing it does not abort the connection, and the process
    cannot exit. Every request in flight then fails; the mount answers
    ENOTCONN until unmounted. Mounts fusectl if it is not (root only).
    """
    if device is None:
        return False
    path = f"{FUSECTL}/{device.split(':')[-1]}/abort"
    if not os.path.exists(path) and os.path.isdir(FUSECTL):
        subprocess.run(["mount", "-t", "fusectl", "fusectl", FUSECTL], capture_output=True)
    try:
        with open(path, "w") as f:
            f.write("1")
    except OSError as err:
        log.error("could not abort the FUSE connection (%s): %s", path, err)
        return False
    log.warning("aborted the FUSE connection of the mount (%s)", path)
    return True


def _foreground(
    store_path: str | None,
    bucket: str,
    mountpoint: str,
    options: MountOptions,
    ready_fd: int | None,
) -> int:
    setup_logging(options, to_stderr=ready_fd is None)

    def ready() -> None:
        if ready_fd is not None:
            os.write(ready_fd, b"READY\n")
            os.close(ready_fd)
        else:
            sd_notify("READY=1")

    try:
        run_daemon(store_path, bucket, mountpoint, options, ready)
    except MountError as err:
        if ready_fd is not None:
            os.write(ready_fd, f"ERROR {err.exit_status} {err}\n".encode())
        _say(str(err))
        return err.exit_status
    except Exception:
        log.exception("mount daemon failed")
        if ready_fd is not None:
            try:
                os.write(ready_fd, b"ERROR 1 mount daemon failed, see its log\n")
            except OSError:
                pass
        return 1
    return 0


def _spawn(
    store_path: str | None, bucket: str, mountpoint: str, options_text: str, options: MountOptions
) -> int:
    """Start the daemon in the background; wait for its readiness report."""
    store = resolve_store(store_path, options)
    read_fd, write_fd = os.pipe()
    env = os.environ.copy()
    notify = env.pop("NOTIFY_SOCKET", None)
    cmd = [
        sys.executable,
        "-m",
        "objfs.fs.daemon",
        "--ready-fd",
        str(write_fd),
        "--store",
        str(store),
        bucket,
        mountpoint,
        "-o",
        options_text,
    ]
    stderr = subprocess.DEVNULL
    if options.log_file:
        stderr = os.open(options.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        proc = subprocess.Popen(
            cmd,
            pass_fds=(write_fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd="/",
            start_new_session=True,
            env=env,
        )
    finally:
        os.close(write_fd)
        if isinstance(stderr, int) and stderr > 2:
            os.close(stderr)
    message = b""
    deadline = time.monotonic() + READY_TIMEOUT
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while b"\n" not in message:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                _say(f"mount of {mountpoint} did not become ready in {READY_TIMEOUT:.0f} s")
                return 1
            piece = pipe.read(4096)
            if not piece:
                break
            message += piece
    line = message.decode("utf-8", "replace").strip()
    if line == "READY":
        if notify:
            sd_notify("READY=1", notify)
        return 0
    if line.startswith("ERROR "):
        _, status, text = line.split(" ", 2)
        _say(text)
        return int(status) if status.isdigit() else 1
    code = proc.wait(timeout=10)
    _say(f"mount daemon exited before the mount was ready (status {code})")
    return 1


def mount_command(
    store_path: str | None, bucket: str, mountpoint: str, options: str, foreground: bool
) -> int:
    """``objfs mount BUCKET MNT [-o opts] [-f]``; returns the exit status."""
    try:
        parsed = parse_options(options)
    except MountOptionError as err:
        _say(str(err))
        return err.exit_status
    mountpoint = os.path.abspath(mountpoint)
    if foreground:
        return _foreground(store_path, bucket, mountpoint, parsed, None)
    return _spawn(store_path, bucket, mountpoint, options or "", parsed)


def umount_command(mountpoint: str) -> int:
    """``objfs umount MNT``: unmount (fusermount3 -u); returns the exit status."""
    mountpoint = os.path.abspath(mountpoint)
    if not os.path.ismount(mountpoint):
        _say(f"{mountpoint} is not mounted")
        return 1
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    cmd = [tool, "-u", mountpoint] if tool else ["umount", mountpoint]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        _say(f"cannot unmount {mountpoint}: {lines[-1] if lines else 'failed'}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m objfs.fs.daemon [--ready-fd N] [--store DIR] BUCKET MNT [-o opts]``."""
    parser = argparse.ArgumentParser(
        prog="objfs-mount-daemon", description="Serve an objfs bucket on a mountpoint."
    )
    parser.add_argument("bucket")
    parser.add_argument("mountpoint")
    parser.add_argument("-o", dest="options", action="append", default=[])
    parser.add_argument("--store")
    parser.add_argument("-f", "--foreground", action="store_true", help="(always foreground)")
    parser.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    text = ",".join(args.options)
    try:
        parsed = parse_options(text)
    except MountOptionError as err:
        _say(str(err))
        if args.ready_fd is not None:
            os.write(args.ready_fd, f"ERROR {err.exit_status} {err}\n".encode())
        return err.exit_status
    return _foreground(
        args.store, args.bucket, os.path.abspath(args.mountpoint), parsed, args.ready_fd
    )


if __name__ == "__main__":
    sys.exit(main())
