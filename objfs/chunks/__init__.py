"""Chunk storage: framing and integrity (``store``) over pluggable backends (``backend``).

Frame formats: ``frame_v2`` (written since store format 2: 64 KiB segments,
each authenticated on its own and bound to the chunk id, its index and
whether it is the last; keyed BLAKE3 ids) and ``frame_v1`` (read only: one
AEAD over the whole chunk, HMAC-SHA256 ids). The design choices and their
measurements are in ``objfs.chunks.store``'s docstring.
"""

from objfs.chunks.backend import ChunkBackend, LocalBackend
from objfs.chunks.store import ChunkStore

__all__ = ["ChunkBackend", "ChunkStore", "LocalBackend"]
