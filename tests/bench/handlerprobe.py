"""CPU per FUSE handler for the small-file workload, without the kernel (a
profiling aid, not a benchmark).

Usage::

    .venv/bin/python tests/bench/handlerprobe.py [--files N] [--cprofile]

Drives ``ObjfsOperations`` handlers in-process, on a fresh store (SSE-S3
bucket, the daemon's GC threshold), in the order the kernel sends them for
``workloads.small`` (measured with ``smallprobe.py``): per file ``lookup``
(a new name), ``create``, ``getxattr security.capability``, ``write`` 4 KiB,
``flush``, ``release``, ``getattr`` of the directory; then per file
``getattr`` of the directory, ``lookup``, ``unlink``, the kernel's ctime
``setattr`` of the unlinked inode, ``forget``. Prints the CPU time (this
thread's, so a busy machine inflates it less than wall time) per call of each
handler, and of the store calls ``commit_small`` and ``delete_object`` inside
``flush`` and ``unlink``: what the FUSE side costs beyond the store. The
kernel, pyfuse3 and trio's share per request is not in it (``smallprobe.py``
measures the whole daemon).

Compare trees back to back with ``PYTHONPATH=/tmp/base``. ``--cprofile``
adds a cProfile of the run, top functions by own time.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gc
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
import types
from typing import Any

import pyfuse3
import trio

from objfs.fs.daemon import GC_THRESHOLD, load_encryption
from objfs.fs.operations import ObjfsOperations
from objfs.fs.options import MountOptions
from objfs.store import OWNER, Store

BUCKET = "bench"
clock = time.thread_time_ns


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="handlerprobe.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=3000)
    p.add_argument("--cprofile", action="store_true", help="print a cProfile of the run")
    return p.parse_args(argv)


class Probe:
    def __init__(self, store: Any) -> None:
        options = MountOptions(store=str(store.path))
        self.ops = ObjfsOperations(store, BUCKET, options, encryption=load_encryption(options))
        self.stats: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
        for name in ("commit_small", "delete_object"):
            setattr(store, name, self._timed(f"store.{name}", getattr(store, name)))

    def _timed(self, label: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                slot = self.stats[label]
                slot[0] += 1
                slot[1] += clock() - t0

        return timed

    async def call(self, name: str, *args: Any) -> Any:
        t0 = clock()
        try:
            return await getattr(self.ops, name)(*args)
        except pyfuse3.FUSEError as err:
            return err
        finally:
            slot = self.stats[name]
            slot[0] += 1
            slot[1] += clock() - t0

    async def run(self, files: int) -> None:
        ctx = pyfuse3.RequestContext()
        call = self.call
        top = await call("mkdir", pyfuse3.ROOT_INODE, b"small", 0o755, ctx)
        sub = await call("mkdir", top.st_ino, b"d000", 0o755, ctx)
        directory = sub.st_ino
        data = os.urandom(4096)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        for i in range(files):
            name = b"f%05d" % i
            await call("lookup", directory, name, ctx)
            info, attr = await call("create", directory, name, 0o100644, flags, ctx)
            await call("getxattr", attr.st_ino, b"security.capability", ctx)
            await call("write", info.fh, 0, data)
            await call("flush", info.fh)
            await call("release", info.fh)
            await call("getattr", directory, ctx)
        ctime = types.SimpleNamespace(
            update_size=False, update_mode=False, update_uid=False, update_gid=False,
            update_atime=False, update_mtime=True, update_ctime=True,
        )  # fmt: skip
        for i in range(files):
            name = b"f%05d" % i
            await call("getattr", directory, ctx)
            attr = await call("lookup", directory, name, ctx)
            await call("unlink", directory, name, ctx)
            await call("setattr", attr.st_ino, attr, ctime, None, ctx)
            await call("forget", [(attr.st_ino, 1)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    work = tempfile.mkdtemp(prefix="objfs-handlerprobe-")
    try:
        store = Store.init(os.path.join(work, "store"))
        store.create_bucket(OWNER, BUCKET)
        store.set_bucket_encryption(OWNER, BUCKET, "AES256")
        store.close()
        store = Store.open(os.path.join(work, "store"))
        try:
            probe = Probe(store)
            profile = cProfile.Profile() if args.cprofile else None
            if profile is not None:
                profile.enable()
            trio.run(probe.run, args.files)
            if profile is not None:
                profile.disable()
                pstats.Stats(profile).sort_stats("tottime").print_stats(40)
        finally:
            store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per_call = {k: round(t / n / 1e3, 1) for k, (n, t) in probe.stats.items() if k != "mkdir"}
    handlers = sum(t for k, (_, t) in probe.stats.items() if "." not in k and k != "mkdir")
    for name, us in sorted(per_call.items(), key=lambda kv: -kv[1]):
        print(f"{name:20s} {us:8.1f} us/call")
    summary = {"files": args.files, "handlers_us_per_file": round(handlers / args.files / 1e3, 1)}
    print(json.dumps({**summary, "us_per_call": per_call}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
