"""Chunk storage: framing and integrity (``store``) over pluggable backends (``backend``)."""

from objfs.chunks.backend import ChunkBackend, LocalBackend
from objfs.chunks.store import ChunkStore

__all__ = ["ChunkBackend", "ChunkStore", "LocalBackend"]
