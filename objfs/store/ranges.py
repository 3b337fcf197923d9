"""Byte ranges: S3's rule for which bytes a range names, in one place.

Adapters parse the text (the HTTP ``Range`` and ``x-amz-copy-source-range``
headers, the CLI's ``--range``) into a ``RangeSpec``; the store resolves it
against the size of the version it reads (``get_object``, ``upload_part_copy``)
and a client-side encrypted download resolves it against the plaintext size.

Invariant: every range served is inclusive ``(first, last)`` with
``0 <= first <= last < size``; anything else is ``InvalidRange`` (416).
"""

from __future__ import annotations

from objfs.errors import InvalidRange

# A byte range as HTTP names it: (A, B) inclusive, (A, None) from A to the
# end, (None, N) the last N bytes.
RangeSpec = tuple[int | None, int | None]


def resolve_range(spec: RangeSpec, size: int) -> tuple[int, int]:
    """The inclusive byte range ``spec`` names in a version of ``size`` bytes.

    S3's rules (GET's ``Range``): an open range runs to the last byte, a last
    byte past the end is clamped to it, a suffix range takes the last N bytes
    (all of a shorter object); a suffix of 0 bytes, a start past the end and
    any range of an empty object are ``InvalidRange``.
    """
    first, last = spec
    if first is None:  # suffix: the last N bytes
        if last is None:
            raise InvalidRange("a byte range needs a first byte or a length")
        if last == 0:
            raise InvalidRange("a suffix range of 0 bytes is not satisfiable")
        first, last = max(0, size - last), size - 1
    elif last is None:
        last = max(first, size - 1)
    if first < 0 or first >= size or last < first:
        raise InvalidRange(f"range {first}-{last} is not satisfiable for an object of {size} bytes")
    return first, min(last, size - 1)


def copy_source_range(spec: tuple[int, int], size: int) -> tuple[int, int]:
    """UploadPartCopy's ``x-amz-copy-source-range``: inclusive ``(first, last)``
    that must lie inside the source (no clamping, unlike GET): else ``InvalidRange``."""
    first, last = spec
    if first < 0 or last < first or last >= size:
        raise InvalidRange(f"copy source range {first}-{last} is outside the {size}-byte source")
    return first, last


__all__ = ["RangeSpec", "copy_source_range", "resolve_range"]
