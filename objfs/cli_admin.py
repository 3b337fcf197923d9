"""CLI store administration: ``init``, ``bucket ...``, ``fsck``, ``gc``, ``mount``, ``umount``.

Owns the commands that manage the store rather than move object data.
Invariants: ``init`` never touches an existing store, and checks a
``--master-key-file`` before it creates anything (a bad key leaves no
half-made store behind); ``mount``/``umount``
import the FUSE layer only when run, so every other command works on a
machine without pyfuse3; ``fsck`` exits 1 whenever problems remain.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from objfs.cli_app import CliApp
from objfs.cli_args import CliError
from objfs.cli_output import bucket_record, dump_json, format_bucket, human_size
from objfs.errors import BucketNotEmpty, InvalidArgument

# -- init ---------------------------------------------------------------------


def cmd_init(app: CliApp, args: argparse.Namespace) -> int:
    from objfs.crypto.keyring import Keyring
    from objfs.store import Store

    path = app.store_path
    if (path / "meta.db").exists():
        raise CliError(f"an objfs store already exists at {path}; refusing to initialise it again")
    if path.exists() and not path.is_dir():
        raise CliError(f"{path} exists and is not a directory")
    key_file = app.master_key_file
    if key_file is not None:
        if not key_file.exists():
            raise CliError(
                f"no master key file {key_file}: create one first "
                f"(head -c 32 /dev/urandom > {key_file}; chmod 600 {key_file})"
            )
        try:  # check the key before Store.init makes any directory
            Keyring.load(path / "keys", key_file)
        except InvalidArgument:
            raise CliError(
                f"master key file {key_file} must hold 32 raw bytes or 64 hex characters "
                f"(make one with: head -c 32 /dev/urandom > {key_file}; chmod 600 {key_file})"
            ) from None
    store = Store.init(path, chunk_size=args.chunk_size, master_key_file=key_file)
    try:
        chunk = store.chunk_size
    finally:
        store.close()
    where = f"the master key stays in {key_file}" if key_file else "master key in keys/"
    app.say(f"initialised objfs store at {path} (chunk size {human_size(chunk)}, {where})")
    return 0


# -- buckets ------------------------------------------------------------------


def cmd_bucket_create(app: CliApp, args: argparse.Namespace) -> int:
    info = app.store.create_bucket(
        app.ctx, args.name, region=args.region, versioning=args.versioning
    )
    app.say(f"make_bucket: {info.name} (region {info.region}, versioning {info.versioning})")
    return 0


def cmd_bucket_ls(app: CliApp, args: argparse.Namespace) -> int:
    buckets = app.store.list_buckets(app.ctx)
    if app.json:
        dump_json([bucket_record(b) for b in buckets])
    else:
        for b in buckets:
            print(format_bucket(b))
    return 0


def cmd_bucket_rm(app: CliApp, args: argparse.Namespace) -> int:
    try:
        app.store.delete_bucket(app.ctx, args.name)
    except BucketNotEmpty as err:
        raise CliError(
            f"{err} (empty it with `objfs rm --recursive --all-versions s3://{args.name}`)"
        ) from None
    app.say(f"remove_bucket: {args.name}")
    return 0


def cmd_bucket_versioning(app: CliApp, args: argparse.Namespace) -> int:
    if args.state is not None:
        app.store.set_bucket_versioning(app.ctx, args.name, args.state)
    info = app.store.head_bucket(app.ctx, args.name)
    if app.json:
        dump_json({"name": info.name, "versioning": str(info.versioning)})
    elif args.state is None or not app.quiet:
        print(f"{info.name}: {info.versioning}")
    return 0


def cmd_bucket_encryption(app: CliApp, args: argparse.Namespace) -> int:
    mode = args.mode
    if mode is None and args.kms_key_id is not None:
        mode = "aws:kms"  # as --sse-kms-key-id on put: the key id implies SSE-KMS
    if mode is not None:
        app.store.set_bucket_encryption(app.ctx, args.name, mode, args.kms_key_id)
    info = app.store.head_bucket(app.ctx, args.name)
    if app.json:
        dump_json({"name": info.name, "encryption": info.encryption, "kms_key_id": info.kms_key_id})
    elif mode is None or not app.quiet:
        key = ""
        if info.encryption == "aws:kms":
            key = f" ({info.kms_key_id or 'the store default key alias/aws/s3'})"
        print(f"{info.name}: {info.encryption}{key}")
    return 0


# -- maintenance --------------------------------------------------------------


class _CountProgress:
    """A progress callback for fsck: ``progress(done, total)`` -> a line on a TTY."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.drawn = False

    def __call__(self, done: int, total: int | None = None, *_: Any) -> None:
        if not self.enabled:
            return
        shown = f"{done}/{total}" if total else str(done)
        sys.stderr.write(f"\r{self.label}: {shown}\x1b[K")
        sys.stderr.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _damaged_name(item: object) -> str:
    if isinstance(item, tuple) and len(item) == 3:
        bucket, key, version_id = item
        return f"s3://{bucket}/{key} version {version_id}"
    return str(item)


def cmd_fsck(app: CliApp, args: argparse.Namespace) -> int:
    progress = _CountProgress("fsck: chunks checked", not app.quiet and sys.stderr.isatty())
    try:
        report = app.store.fsck(repair=args.repair, progress=progress)
    finally:
        progress.finish()
    problems = list(report.problems)
    repaired = list(report.repaired)
    damaged = [_damaged_name(d) for d in report.damaged_objects]
    if app.json:
        record: dict[str, Any] = {
            "ok": report.ok,
            "findings": [f.as_dict() for f in report.findings],
            "problems": problems,
            "repaired": repaired,
            "damaged_objects": damaged,
        }
        for name in ("chunks_checked", "versions_checked", "orphan_chunks", "chunks_removed"):
            record[name] = getattr(report, name)
        dump_json(record)
        return 0 if report.ok else 1
    for finding in report.findings:  # one line each: "problem|repaired: [kind] message"
        if finding.repaired:
            app.say(f"repaired: [{finding.kind}] {finding.message}")
        else:
            print(f"problem: [{finding.kind}] {finding.message}")
    for name in damaged:
        print(f"damaged: {name}")
    if report.chunks_removed:
        app.say(f"repaired: removed {report.chunks_removed} unreferenced chunk(s)")
    orphans = getattr(report, "orphan_chunks", 0)
    if orphans:  # what a crash leaves behind: harmless, gc removes them
        app.say(f"fsck: {orphans} unreferenced chunk(s); `objfs gc` removes them")
    if report.ok:
        app.say("fsck: no problems found" if not repaired else "fsck: all problems repaired")
    else:
        hint = "" if args.repair else " (`objfs fsck --repair` fixes what metadata can fix)"
        print(f"fsck: {len(problems)} problem(s) remain{hint}", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_gc(app: CliApp, args: argparse.Namespace) -> int:
    report = app.store.gc(grace_seconds=args.grace)
    temp = getattr(report, "temp_files_removed", 0)
    if app.json:
        dump_json(
            {
                "chunks_removed": report.chunks_removed,
                "bytes_freed": report.bytes_freed,
                "temp_files_removed": temp,
            }
        )
        return 0
    line = (
        f"gc: removed {report.chunks_removed} unreferenced chunk(s), "
        f"freed {human_size(report.bytes_freed)}"
    )
    if temp:
        line += f", {temp} stale temporary file(s)"
    app.say(line)
    return 0


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
    app.store.head_bucket(app.ctx, args.bucket)  # clear errors before any FUSE work
    app.close()  # the daemon opens its own handle
    try:
        from objfs.fs.daemon import mount_command
    except ImportError as err:
        raise CliError(f"mounting is not available here: {err}") from None
    options = ",".join(args.options) if args.options else ""
    return mount_command(app.store_path, args.bucket, args.mountpoint, options, args.foreground)


def cmd_umount(app: CliApp, args: argparse.Namespace) -> int:
    try:
        from objfs.fs.daemon import umount_command
    except ImportError:
        umount_command = None
    if umount_command is not None:
        return umount_command(args.mountpoint)
    # No FUSE layer importable: plain fusermount3 still unmounts.
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    if tool is None:
        raise CliError("cannot unmount: neither objfs.fs.daemon nor fusermount3 is available")
    done = subprocess.run([tool, "-u", args.mountpoint], check=False)
    return 0 if done.returncode == 0 else 1
