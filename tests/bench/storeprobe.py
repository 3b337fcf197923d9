"""Store-side cost of the mount's small-file commit and key delete, without FUSE.

Calls ``Store.commit_small`` (the mount's nowait path: event-loop style) for
N small objects spread over a few prefixes, then ``Store.delete_object`` of
each, as the mount's create and ``rm -rf`` do, and reports per call:

- SQL statements run (the connection's trace callback),
- WAL frames written (the WAL file's growth; the background checkpointer is
  held off while measuring so the WAL only grows),
- CPU µs of the calling thread,
- wall µs.

Run it on two trees back to back to compare (``--tree``), e.g.::

    .venv/bin/python tests/bench/storeprobe.py
    .venv/bin/python tests/bench/storeprobe.py --tree /work/main --files 5000

A measurement tool, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

_LITERAL = re.compile(r"[xX]'[0-9a-fA-F]*'|'[^']*'|\b\d+\b")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=5000)
    p.add_argument("--prefixes", type=int, default=10)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--versioned", action="store_true")
    p.add_argument("--tree", help="import objfs from this source tree instead")
    p.add_argument("--sql", action="store_true", help="print the statements of one commit/delete")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument(
        "--checkpoints",
        action="store_true",
        help="keep the background WAL checkpoints (as a mount runs; WAL pages then not counted)",
    )
    args = p.parse_args()
    if args.tree:
        sys.path.insert(0, args.tree)
    from objfs.meta import db as dbmod
    from objfs.store import OWNER, Store, SystemMeta, WouldBlock

    print(f"objfs from {Path(dbmod.__file__).parents[2]}")
    if not args.checkpoints:
        dbmod.CHECKPOINT_EVERY = 1 << 40  # the WAL only grows: its growth is what was written
    # Statements are counted in a run of their own: the trace callback costs
    # (SQLite expands each statement's parameters, a 4 KiB frame into 8 KiB
    # of hex), so the timed runs go without it.
    run(args, Store, OWNER, SystemMeta, WouldBlock, traced=True)
    for _ in range(args.repeat):
        run(args, Store, OWNER, SystemMeta, WouldBlock, traced=False)


def run(args, Store, OWNER, SystemMeta, WouldBlock, *, traced: bool) -> None:  # noqa: N803, ANN001
    nowait = OWNER.with_options(durable=False, nowait=True)
    fast = OWNER.with_options(durable=False)
    with tempfile.TemporaryDirectory(prefix="storeprobe-") as tmp:
        store = Store.init(Path(tmp) / "s")
        try:
            store.create_bucket(OWNER, "bench", versioning=args.versioned)
            conn = store.db.conn()
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            wal = Path(tmp) / "s" / "meta.db-wal"
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            statements: Counter[str] = Counter()
            count = [0]
            spent: Counter[str] = Counter()  # ns from a statement's start to the next one's
            last: list = [None, 0]

            def trace(sql: str) -> None:
                count[0] += 1
                if args.sql:
                    now = time.perf_counter_ns()
                    if last[0] is not None:
                        spent[last[0]] += now - last[1]
                    label = _LITERAL.sub("?", sql)[:150]
                    statements[label] += 1
                    last[0], last[1] = label, now

            if traced:
                conn.set_trace_callback(trace)
            per = max(1, args.files // args.prefixes)
            keys = [f"small/d{i // per:03d}/f{i:05d}" for i in range(args.files)]
            blob = os.urandom(args.files * args.size)
            meta = SystemMeta(mode=0o100644, uid=0, gid=0)

            def measure(label: str, call) -> None:  # noqa: ANN001
                statements.clear()
                spent.clear()
                last[0] = None
                count[0] = 0
                before = wal.stat().st_size if wal.exists() else 0
                cpu0, wall0 = time.thread_time_ns(), time.perf_counter_ns()
                for i, key in enumerate(keys):
                    call(i, key)
                cpu = time.thread_time_ns() - cpu0
                wall = time.perf_counter_ns() - wall0
                after = wal.stat().st_size
                frames = (after - before) / (page + 24) if not args.checkpoints else float("nan")
                n = len(keys)
                if traced:
                    print(
                        f"{label:8s} n={n} stmts/call={count[0] / n:5.1f} "
                        f"WAL pages/call={frames / n:5.2f} (traced run: times not kept)"
                    )
                else:
                    print(
                        f"{label:8s} n={n} WAL pages/call={frames / n:5.2f} "
                        f"cpu µs/call={cpu / n / 1e3:6.0f} wall µs/call={wall / n / 1e3:6.0f}"
                    )
                if args.sql and traced:
                    for sql, c in statements.most_common():
                        if c >= n // 2:
                            us = spent[sql] / n / 1e3
                            print(f"    {c / n:4.1f} {us:6.0f} µs  {sql}")

            def commit(i: int, key: str) -> None:
                data = blob[i * args.size : (i + 1) * args.size]
                try:
                    v = store.commit_small(nowait, "bench", key, data, sys_meta=meta)
                except WouldBlock:  # as the mount: again where waiting is fine
                    v = store.commit_small(fast, "bench", key, data, sys_meta=meta)
                assert v is not None

            def delete(i: int, key: str) -> None:
                try:
                    store.delete_object(nowait, "bench", key)
                except WouldBlock:
                    store.delete_object(fast, "bench", key)

            measure("commit", commit)
            measure("delete", delete)
            conn.set_trace_callback(None)
            db_pages = conn.execute("PRAGMA page_count").fetchone()[0]
            print(f"         meta.db {db_pages} pages of {page} B after; fast ctx {fast.durable}")
        finally:
            store.close()


if __name__ == "__main__":
    main()
