"""CLI ``objfs store copy``: make another directory (and chunk location) the same store.

Owns the command's surface; the copy itself is objfs/store/copy.py.
Invariants: on a terminal, stderr shows one redrawn line (phase, chunks and
bytes done of the total, rate) unless ``-q``; otherwise nothing until the
end, then one summary line on stdout (``--json``: the report as a record);
exit 0 only when the target's fsck is clean, else 1 with each problem on a
line of its own and the target left marked unfinished (a re-run continues).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import IO

from objfs.chunks.urls import DEFAULT_URL
from objfs.cli.app import CliApp
from objfs.cli.args import CliError
from objfs.cli.builder import Builder
from objfs.cli.maintenance import _chunks_url
from objfs.cli.output import dump_json, human_size
from objfs.store.copy import CopyProgress, CopyReport, copy_store

_REDRAW_SECONDS = 0.2


class _Bar(CopyProgress):
    """The copy's line on a terminal: ``copy: 12/40 chunks, 3.0 MiB / 10.0 MiB (30%) 5.1 MB/s``."""

    def __init__(self, stream: IO[str], enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.name = ""
        self.chunks = self.total_chunks = 0
        self.nbytes = self.total_bytes = 0
        self.started = time.monotonic()
        self.last = 0.0
        self.drawn = False

    def phase(self, name: str) -> None:
        if self.name == "chunks":
            self._draw(force=True)  # the chunks' final count before the next phase
        self.name = name
        if name != "chunks":  # the chunks' line waits for their totals (``start``)
            self._draw(force=True)

    def start(self, chunks: int, nbytes: int) -> None:
        self.total_chunks, self.total_bytes = chunks, nbytes
        self.started = time.monotonic()
        self._draw(force=True)

    def advance(self, chunks: int, nbytes: int) -> None:
        self.chunks += chunks
        self.nbytes += nbytes
        self._draw()

    def checked(self, done: int, total: int) -> None:
        self.chunks, self.total_chunks = done, total
        self._draw()

    def _draw(self, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < _REDRAW_SECONDS:
            return
        self.last = now
        if self.name == "fsck":
            text = f"fsck of the copy: {self.chunks}/{self.total_chunks} chunks checked"
        elif self.name == "metadata":
            text = "copy: writing the metadata in one transaction"
        else:
            rate = self.nbytes / max(now - self.started, 1e-6) / 1e6
            text = f"copy: {self.chunks}/{self.total_chunks} chunks, {human_size(self.nbytes)}"
            if self.total_bytes:
                percent = 100 * self.nbytes / self.total_bytes
                text += f" / {human_size(self.total_bytes)} ({percent:.0f}%)"
            text += f"  {rate:.1f} MB/s"
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _summary(source: str, report: CopyReport) -> str:
    chunks = f"{report.chunks} chunk(s)"
    if report.chunks_present:
        chunks += f" ({report.chunks_present} already there)"
    verdict = "fsck clean" if report.fsck_ok else f"fsck: {len(report.fsck_problems)} problem(s)"
    where = "" if report.chunks_url == DEFAULT_URL else f", chunks at {report.chunks_url}"
    return (
        f"copied store {source} to {report.target}{where}: {report.objects} object(s), "
        f"{report.versions} version(s), {report.uploads} upload(s) in progress, {chunks}, "
        f"{human_size(report.bytes_copied)} moved in {report.seconds:.1f} s; {verdict}"
    )


def cmd_store_copy(app: CliApp, args: argparse.Namespace) -> int:
    store = app.store  # the source; opened (and its key checked) before anything is made
    if not app.ctx.identity.is_owner:
        raise CliError(
            "store copy copies the whole store with its master key: run it as the store "
            "owner (no --profile, $OBJFS_PROFILE or $AWS_ACCESS_KEY_ID; give an S3 chunk "
            "location's key in $OBJFS_CHUNKS_ACCESS_KEY_ID and $OBJFS_CHUNKS_SECRET_ACCESS_KEY)"
        )
    bar = _Bar(sys.stderr, not app.quiet and not app.json and sys.stderr.isatty())
    try:
        report = copy_store(
            store,
            args.to,
            chunks_url=args.to_chunks,
            meta_url=args.to_meta,
            master_key_file=app.master_key_file,
            progress=bar,
        )
    finally:
        bar.finish()
    if app.json:
        dump_json({"source": str(store.path), **report.as_dict()})
    else:
        for problem in report.fsck_problems:
            print(f"problem: {problem}")
        app.say(_summary(str(store.path), report))
    if not report.fsck_ok:
        print(
            f"objfs: fsck of the copy in {report.target} found problems; it stays marked "
            "unfinished: fix the source (`objfs fsck`) and run the copy again",
            file=sys.stderr,
        )
        return 1
    return 0


def register(build: Builder) -> None:
    parser = build.add(
        "store",
        cmd_store_copy,
        "move a store: copy it whole to another directory, metadata and chunk location",
        "objfs --store /var/lib/objfs store copy --to /srv/objfs2 \\\n"
        "    --to-chunks 's3://objfs-data/store1?endpoint=http://10.0.0.5:8333'",
    )
    group = build.group(parser, "store_action")
    p = group.add(
        "copy",
        cmd_store_copy,
        "copy this store to DIR (resumable; the copy is checked by fsck)",
        "objfs --store /var/lib/objfs store copy --to /srv/objfs2\n"
        "objfs store copy --to /srv/objfs2 "
        "--to-chunks 's3://objfs-data/store1?endpoint=http://10.0.0.5:8333'",
    )
    p.add_argument(
        "--to", required=True, metavar="DIR", help="the new store's directory (absent or empty)"
    )
    p.add_argument(
        "--to-chunks",
        type=_chunks_url,
        default=DEFAULT_URL,
        metavar="URL",
        help="where the copy's chunks live (default file:, DIR/chunks); as `objfs init --chunks`",
    )
    p.add_argument(
        "--to-meta",
        default=None,
        metavar="URL",
        help="where the copy's metadata lives (default: an SQLite database in DIR)",
    )
