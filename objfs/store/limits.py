"""S3's size and count limits, as exported constants: the store enforces
them, and the HTTP API and the CLI use these names instead of literals.

Each is S3's documented value; the store raises the error named beside it.
"""

from __future__ import annotations

MAX_PUT_SIZE = 5 << 30
"""One PutObject (or CopyObject) body: at most 5 GiB (``EntityTooLarge``); beyond, multipart."""

MIN_PART_SIZE = 5 << 20
"""Every part of a completed upload but the last: at least 5 MiB (``EntityTooSmall``)."""

MAX_PART_SIZE = 5 << 30
"""One part (UploadPart, UploadPartCopy's source range): at most 5 GiB."""

MAX_PARTS = 10_000
"""Part numbers run 1..10,000 (``InvalidArgument``)."""

MAX_KEY_BYTES = 1024
"""An object key: 1..1024 bytes of UTF-8 (``KeyTooLong``)."""

MAX_USER_META_BYTES = 2048
"""User metadata: names and values, UTF-8, summed (``MetadataTooLarge``)."""

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MAX_PUT_SIZE",
    "MAX_USER_META_BYTES",
    "MIN_PART_SIZE",
]
