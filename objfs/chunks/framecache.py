"""A bounded local cache of sealed chunk frames read from a remote backend.

Frames are ciphertext under keyed ids (the chunk layer authenticates every
segment it decodes), so keeping them on local disk leaks nothing the remote
store does not already hold.

Invariants:
- a frame named ``abcdef...`` of ``N`` bytes lives at ``DIR/ab/abcdef....N``:
  its size is in the file name, so a file whose size differs (a crash mid-write,
  a truncated disk) is dropped on sight and never served;
- a file appears under its final name only whole (written to ``.tmp-*`` in the
  same directory, then renamed), and never grows afterwards;
- the files' total size stays at most ``max_bytes``: an insert first evicts the
  least recently used files; a frame larger than the whole cache is not kept;
- recency is the file's mtime, refreshed on every hit, so the LRU order
  survives a restart (the index is rebuilt from a scan at start-up);
- thread-safe: one lock guards the in-memory index; file reads happen outside it
  (an evicted file read concurrently is simply a miss).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

from objfs.chunks.backend import scandir_or_empty

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"([0-9a-f]{8,128})\.([0-9]+)")
_TMP = ".tmp-"


class FrameCache:
    """Whole frames by chunk name, bounded by ``max_bytes``, LRU."""

    def __init__(self, root: Path | str, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max(0, int(max_bytes))
        self._lock = threading.Lock()
        self._index: OrderedDict[str, int] = OrderedDict()  # name -> size, oldest first
        self._used = 0
        self.hits = 0
        self.misses = 0
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._load()

    def __repr__(self) -> str:
        return f"FrameCache({os.fspath(self.root)!r}, {self._used}/{self.max_bytes} bytes)"

    @property
    def used_bytes(self) -> int:
        return self._used

    def _path(self, name: str, size: int) -> str:
        return f"{self.root}/{name[0:2]}/{name}.{size}"

    def _load(self) -> None:
        found: list[tuple[float, str, int]] = []
        for top in scandir_or_empty(os.fspath(self.root)):
            if not top.is_dir(follow_symlinks=False):
                continue
            for entry in scandir_or_empty(top.path):
                m = _FILE_RE.fullmatch(entry.name)
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if m is None or st.st_size != int(m.group(2)) or m.group(1)[0:2] != top.name:
                    _unlink(entry.path)  # a leftover temporary or a damaged file
                    continue
                found.append((st.st_mtime, m.group(1), st.st_size))
        found.sort()
        with self._lock:
            for _, name, size in found:
                self._index[name] = size
                self._used += size
            self._evict_locked(0)

    def get(self, name: str) -> bytes | None:
        """The cached frame, or None (a miss, or a damaged file, now dropped)."""
        with self._lock:
            size = self._index.get(name)
            if size is None:
                self.misses += 1
                return None
            self._index.move_to_end(name)
        path = self._path(name, size)
        try:
            with open(path, "rb", buffering=0) as f:
                data = f.read()
            os.utime(path)  # recency for the next start-up's order
        except OSError:
            data = None
        if data is None or len(data) != size:
            log.warning("dropping damaged cached chunk frame %s", path)
            self.discard(name)
            with self._lock:
                self.misses += 1
            return None
        with self._lock:
            self.hits += 1
        return data

    def put(self, name: str, data: bytes | bytearray | memoryview) -> None:
        """Keep ``data`` as the frame ``name`` (best effort: a local disk error
        only means it is not cached)."""
        size = len(data)
        if size > self.max_bytes:
            return
        with self._lock:
            if name in self._index:
                return
        d = f"{self.root}/{name[0:2]}"
        tmp = f"{d}/{_TMP}{name}.{os.getpid()}.{threading.get_ident()}"
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
            with open(tmp, "wb", buffering=0) as f:
                f.write(data)
            os.replace(tmp, self._path(name, size))
        except OSError as exc:
            log.warning("cannot cache chunk frame %s: %s", name, exc)
            _unlink(tmp)
            return
        with self._lock:
            if name in self._index:
                return
            self._evict_locked(size)
            self._index[name] = size
            self._used += size

    def discard(self, name: str) -> None:
        with self._lock:
            size = self._index.pop(name, None)
            if size is None:
                return
            self._used -= size
        _unlink(self._path(name, size))

    def _evict_locked(self, room: int) -> None:
        while self._index and self._used + room > self.max_bytes:
            old, size = self._index.popitem(last=False)
            self._used -= size
            _unlink(self._path(old, size))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
