"""CLI store administration: ``init``, ``info``, ``fsck``, ``gc``.

Owns the commands that create, describe and check the store rather than
move object data. Invariants: ``init`` never touches an existing store, and
checks a ``--master-key-file`` and the ``--chunks`` URL's form before it
creates anything (a bad key or URL leaves no half-made store behind; a chunk
location that fails its probe is undone by ``Store.init``); ``fsck`` exits 1
whenever problems remain.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from objfs.chunks.urls import DEFAULT_URL, parse_chunks_url
from objfs.cli.app import CliApp
from objfs.cli.args import CliError, parse_grace, parse_size
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json, human_size
from objfs.errors import InvalidArgument

# -- init ---------------------------------------------------------------------


def cmd_init(app: CliApp, args: argparse.Namespace) -> int:
    from objfs.crypto.keyring import Keyring
    from objfs.store import Store

    path = app.store_path
    if (path / "meta.db").exists() or (path / "meta.url").exists():
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
    store = Store.init(
        path,
        chunk_size=args.chunk_size,
        master_key_file=key_file,
        chunks_url=args.chunks,
        meta_url=args.meta,
    )
    try:
        chunk, chunks_url = store.chunk_size, store.chunks_url
    finally:
        store.close()
    where = f"the master key stays in {key_file}" if key_file else "master key in keys/"
    chunks = "" if chunks_url == DEFAULT_URL else f", chunks at {chunks_url}"
    meta = "" if args.meta is None else f", metadata at {args.meta}"
    done = "initialised objfs store"
    if args.meta is not None and store.attached:
        done = "attached to the existing objfs store"
    app.say(f"{done} at {path} (chunk size {human_size(chunk)}{chunks}{meta}, {where})")
    return 0


def _meta_url(text: str) -> str | None:
    """``--meta``: ``sqlite:`` (None: meta.db in the store) or a postgresql:// URL."""
    from objfs.meta.pg import check_url

    if text == "sqlite:":
        return None
    try:
        return check_url(text)
    except InvalidArgument as err:
        raise argparse.ArgumentTypeError(f"{err} (or sqlite:, the default)") from None


def _chunks_url(text: str) -> str:
    """``--chunks``: a URL of a form ``parse_chunks_url`` accepts (a usage error else)."""
    try:
        return str(parse_chunks_url(text))
    except InvalidArgument as err:
        raise argparse.ArgumentTypeError(str(err)) from None


# -- info ---------------------------------------------------------------------


def cmd_info(app: CliApp, args: argparse.Namespace) -> int:
    store = app.store
    facts = {
        "store": str(store.path),
        "meta_url": store.meta_url,
        "chunk_size": store.chunk_size,
        "chunks_url": store.chunks_url,
    }
    if app.json:
        dump_json(facts)
        return 0
    print(f"store:       {facts['store']}")
    print(f"metadata:    {store.meta_url}")
    print(f"chunk size:  {human_size(store.chunk_size)}")
    print(f"chunks:      {store.chunks_url}")
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
        report = app.store.fsck(app.ctx, repair=args.repair, progress=progress)
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
        for name in (
            "chunks_checked",
            "versions_checked",
            "orphan_chunks",
            "chunks_removed",
            "orphans_held",
            "orphans_held_by",
        ):
            record[name] = getattr(report, name)
        for name in ("chunk_formats", "inline_chunks"):
            if hasattr(report, name):
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
    formats = getattr(report, "chunk_formats", None) or {}
    if len(formats) > 1 or 1 in formats:  # say so while old-format chunks remain
        mix = ", ".join(f"v{v}: {n}" for v, n in sorted(formats.items()))
        app.say(f"fsck: chunks by frame format: {mix}")
    orphans = report.orphan_chunks
    if report.orphans_held:  # a write in flight: gc must keep them
        app.say(
            f"fsck: {orphans} unreferenced chunk(s), {report.orphans_held} of them may not be "
            f"removed yet: {report.orphans_held_by}"
        )
    elif orphans:  # what a crash leaves behind: harmless, gc removes them
        app.say(f"fsck: {orphans} unreferenced chunk(s); `objfs gc` removes them")
    if report.ok:
        app.say("fsck: no problems found" if not repaired else "fsck: all problems repaired")
    else:
        hint = "" if args.repair else " (`objfs fsck --repair` fixes what metadata can fix)"
        print(f"fsck: {len(problems)} problem(s) remain{hint}", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_gc(app: CliApp, args: argparse.Namespace) -> int:
    report = app.store.gc(app.ctx, grace_seconds=args.grace)
    temp = getattr(report, "temp_files_removed", 0)
    if app.json:
        dump_json(
            {
                "chunks_removed": report.chunks_removed,
                "bytes_freed": report.bytes_freed,
                "temp_files_removed": temp,
                "changes_pruned": report.changes_pruned,
                "held": report.held,
                "held_by": report.held_by,
            }
        )
        return 0
    line = (
        f"gc: removed {report.chunks_removed} unreferenced chunk(s), "
        f"freed {human_size(report.bytes_freed)}"
    )
    if temp:
        line += f", {temp} stale temporary file(s)"
    if report.changes_pruned:
        line += f", forgot {report.changes_pruned} old change-feed entries"
    app.say(line)
    if report.held:
        app.say(f"gc: kept {report.held} unreferenced chunk(s): {report.held_by}")
    return 0


# -- command line ---------------------------------------------------------------


def register(build: Builder) -> None:
    p = build.add(
        "init",
        cmd_init,
        "create a new store (refuses an existing one)",
        "objfs --store /srv/objfs init --chunk-size 4M\n"
        "objfs init --chunks 's3://objfs-data/store1?endpoint=http://10.0.0.5:8333&region=us-east-1'\n"
        "objfs init --meta postgresql://objfs@db1:5432/objfs --chunks 's3://objfs-data/store1'",
    )
    p.add_argument(
        "--meta",
        type=_meta_url,
        default=None,
        metavar="URL",
        help="where metadata lives: sqlite: (default, STORE/meta.db) or a libpq URL "
        "postgresql://USER@HOST:PORT/DB (password from PGPASSWORD, ~/.pgpass or passfile=, "
        "never in the URL); a URL that holds a store already is attached to, never "
        "initialised again",
    )
    p.add_argument(
        "--chunk-size", type=parse_size, default=1 << 20, metavar="SIZE", help="default: 1M"
    )
    p.add_argument(
        "--chunks",
        type=_chunks_url,
        default=DEFAULT_URL,
        metavar="URL",
        help="where chunks live: file: (default, STORE/chunks), file:/PATH, or "
        "s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=R&style=path|virtual "
        "(credentials from the usual AWS sources, never in the URL)",
    )
    build.add(
        "info",
        cmd_info,
        "show the store's facts: directory, metadata URL, chunk size, where its chunks live",
        "objfs info\nobjfs info --json",
    )
    p = build.add(
        "fsck",
        cmd_fsck,
        "check the store; exit 1 if problems remain",
        "objfs fsck\nobjfs fsck --repair",
    )
    p.add_argument("--repair", action="store_true", help="fix what can be fixed")
    p = build.add(
        "gc",
        cmd_gc,
        "remove chunks no version references any more",
        "objfs gc --grace 0",
    )
    p.add_argument(
        "--grace",
        type=parse_grace,
        default=3600,
        metavar="SECONDS",
        help="keep unreferenced chunks younger than this (default: 3600)",
    )
