"""CLI mounting: ``objfs mount`` and ``objfs umount``.

Invariants: both import the FUSE layer only when run, so every other
command works on a machine without pyfuse3; ``mount`` checks the bucket
before any FUSE work so a typo gets a clear error, not a dead mount.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from objfs.cli.app import CliApp
from objfs.cli.args import CliError
from objfs.cli.builder import Builder

# -- mount --------------------------------------------------------------------


def _store_option(options: list[str] | None) -> str | None:
    """The value of a ``-o store=DIR`` option (the last one wins), if any."""
    found = None
    for group in options or []:
        for item in group.split(","):
            name, eq, value = item.strip().partition("=")
            if name == "store" and eq and value:
                found = value
    return found


def cmd_mount(app: CliApp, args: argparse.Namespace) -> int:
    # `-o store=DIR` (the fstab/systemd spelling) names the store as --store does.
    store_option = _store_option(args.options)
    if app.master_key_file is not None:
        # The daemon opens the store itself and reads only keys/master.key or
        # the systemd credential; it would refuse a key it cannot find.
        raise CliError(
            "a mount cannot take --master-key-file / $OBJFS_MASTER_KEY_FILE: give the key "
            "as the systemd credential objfs-master-key ($CREDENTIALS_DIRECTORY), or keep it "
            "in the store's keys/master.key"
        )
    if store_option:
        app.store_path = Path(store_option).expanduser().absolute()
    # clear errors before any FUSE work; a check, not a request of the access log
    app.store.head_bucket(app.ctx.with_options(log=False), args.bucket)
    app.close()  # the daemon opens its own handle
    try:
        from objfs.fs.daemon import mount_command
    except ImportError as err:
        raise CliError(f"mounting is not available here: {err}") from None
    options = ",".join(args.options) if args.options else ""
    return mount_command(
        str(app.store_path), args.bucket, args.mountpoint, options, args.foreground
    )


def cmd_umount(app: CliApp, args: argparse.Namespace) -> int:
    try:
        from objfs.fs.daemon import umount_command
    except ImportError:
        pass
    else:
        return umount_command(args.mountpoint)
    # No FUSE layer importable: plain fusermount3 still unmounts.
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    if tool is None:
        raise CliError("cannot unmount: neither objfs.fs.daemon nor fusermount3 is available")
    done = subprocess.run([tool, "-u", args.mountpoint], check=False)
    return 0 if done.returncode == 0 else 1


# -- command line ---------------------------------------------------------------


def register(build: Builder) -> None:
    p = build.add(
        "mount",
        cmd_mount,
        "mount a bucket as a directory (daemon; -f stays in the foreground)",
        "objfs mount photos /mnt/photos -o allow_other,uid=1000\n"
        "ls /mnt/photos/.versions/2026/holiday.jpg/",
    )
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("mountpoint", metavar="MOUNTPOINT")
    p.add_argument(
        "-o", dest="options", action="append", metavar="OPTS", help="mount options, comma-separated"
    )
    p.add_argument("-f", "--foreground", action="store_true", help="do not daemonize")
    p = build.add("umount", cmd_umount, "unmount a mounted bucket", "objfs umount /mnt/photos")
    p.add_argument("mountpoint", metavar="MOUNTPOINT")
