"""Encryption on the mount: what each store call carries, and what each object is.

Owns the mount's encryption policy (``-o sse=``, ``sse_kms_key_id=``,
``sse_c_key_file=``, ``cse_key_file=``; the options are checked and the key
files read by ``lifecycle.load_encryption`` before mounting):

* **Reads** pass the mount's SSE-C key (when it has one) to every store call
  that reads data or heads an object; other objects ignore it.
* **New data gets the mount's mode.** A file created through the mount, or
  rewritten from scratch (``O_TRUNC``, truncate to 0, or any write to an
  empty object), is written with ``sse=``/``sse_kms_key_id=``/the SSE-C key,
  or with the bucket's default when the mount names none; with
  ``cse_key_file=`` it is also client-side encrypted (``cseio``) with a fresh
  envelope. **An in-place edit keeps the file's own encryption** (a write
  without ``O_TRUNC``, an append, truncate to a non-zero size): a 4 KiB edit
  never re-encrypts a whole object nor changes its mode behind the user's
  back. So a plaintext object seen on a CSE mount is read as-is and stays
  plaintext until it is rewritten from scratch.
* **Which mode an object has** (``mode_of``): ``CSE`` when its user metadata
  holds the client-side envelope (``objfs-cse``), else the store's label
  (``none``, ``AES256``, ``aws:kms``, ``SSE-C``). A CSE object is shown with
  its plaintext size, computed from the stored size without the key
  (``objfs.crypto.cse.plain_size``, the CLI's rule too). A truncated one
  (its last frame too short to hold a byte) is shown with its stored size,
  so ``ls -l`` still lists it and a read reaches the damaged frame: EIO,
  never a silently shorter file.
* **Key refusals are decided here and nowhere else.** An object this mount
  cannot decrypt (SSE-C or CSE without the key, or with another key) is
  refused with ``AccessDenied`` (EACCES) and one INFO log line naming the
  object and why. S3 answers a *missing* key with ``InvalidRequest`` (400,
  which maps to EINVAL); on a mount "you do not hold the key" is a
  permission problem, so the check runs before the store is asked
  (``refusal``) and a store ``InvalidRequest`` for a key is converted here
  (``keyed``). Opening with ``O_TRUNC`` for writing needs no key: nothing
  old is read, as an S3 PUT may overwrite any object.
* **Metadata never needs a key**: ``head_meta`` serves lookups and
  attributes of SSE-C objects the mount cannot decrypt (S3 HEAD checks the
  key; a listing does not), so ``ls -l`` always works.
* The envelope is internal: ``xattrs`` hides ``user.objfs-cse`` and refuses
  to set or remove it; commits of a non-CSE writer drop it.

Invariant: keys live only in ``MountEncryption`` (never logged, never in a
repr) and in the store calls that need them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from objfs.crypto.cse import META_KEY, CSEObject, plain_size
from objfs.errors import AccessDenied, IntegrityError, InvalidRequest, ObjfsError
from objfs.store.types import ObjectVersion, RequestContext, SSERequest

if TYPE_CHECKING:
    from objfs.store import Store


log = logging.getLogger("objfs.fs")


@dataclass(slots=True, frozen=True)
class MountEncryption:
    """The mount's encryption: store-side mode and the keys it holds."""

    sse: str | None = None  # "none" | "AES256" | "aws:kms" | None: the bucket default
    kms_key_id: str | None = None
    customer_key: bytes | None = field(default=None, repr=False)
    cse_key: bytes | None = field(default=None, repr=False)

    @property
    def write_request(self) -> SSERequest | None:
        """Store-side encryption of new data (None: the bucket default)."""
        if self.customer_key is not None:
            return SSERequest(mode="SSE-C", customer_key=self.customer_key)
        if self.sse is None:
            return None
        return SSERequest(mode=self.sse, kms_key_id=self.kms_key_id)

    @property
    def read_request(self) -> SSERequest | None:
        """What reads and heads carry: the SSE-C key, if any."""
        if self.customer_key is None:
            return None
        return SSERequest(customer_key=self.customer_key)

    def read_for(self, version: ObjectVersion) -> SSERequest | None:
        """What a read of ``version`` carries: the SSE-C key for SSE-C data only
        (the store refuses a customer key for other data, as S3 does)."""
        return self.read_request if version.sse == "SSE-C" else None

    def keep_request(self, base: ObjectVersion) -> SSERequest | None:
        """For an in-place edit of ``base``: keep its encryption (SSE-C needs the key)."""
        if base.sse == "SSE-C":
            return self.read_request
        return None

    def describe(self) -> str:
        """For the mount log: the mode, never a key."""
        parts = []
        if self.customer_key is not None:
            parts.append("SSE-C")
        elif self.sse is not None:
            kms = f" ({self.kms_key_id})" if self.kms_key_id else ""
            parts.append(f"sse={self.sse}{kms}")
        if self.cse_key is not None:
            parts.append("client-side (CSE)")
        return ", ".join(parts) or "bucket default"


def mode_of(version: ObjectVersion) -> str:
    """``none``, ``AES256``, ``aws:kms``, ``SSE-C`` or ``CSE``."""
    return "CSE" if META_KEY in version.user_meta else version.sse


def is_cse(version: ObjectVersion | None) -> bool:
    return version is not None and META_KEY in version.user_meta


def shown_size(version: ObjectVersion, chunk_size: int) -> int:
    """The size the mount shows: plaintext size for CSE objects (the stored
    size for a truncated one, whose last frame a read then finds damaged)."""
    if is_cse(version):
        try:
            return plain_size(version.size, chunk_size)
        except IntegrityError:
            return version.size
    return version.size


def without_envelope(user_meta: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in user_meta.items() if k != META_KEY}


def _name(version: ObjectVersion) -> str:
    return f"s3://{version.bucket}/{version.key}"


def refused(version: ObjectVersion, why: str) -> AccessDenied:
    """The one refusal: logged (INFO, names the object) and EACCES on the mount."""
    message = f"{_name(version)} {why}: permission denied"
    log.info("%s", message)
    return AccessDenied(message)


def refusal(enc: MountEncryption, version: ObjectVersion) -> AccessDenied | None:
    """Why this mount cannot read ``version`` without asking the store, or None."""
    if version.is_delete_marker:
        return None
    if version.sse == "SSE-C" and enc.customer_key is None:
        return refused(version, "is SSE-C encrypted and this mount has no sse_c_key_file=")
    if is_cse(version) and enc.cse_key is None:
        return refused(version, "is client-side encrypted and this mount has no cse_key_file=")
    return None


def open_envelope(enc: MountEncryption, version: ObjectVersion) -> CSEObject | None:
    """The open CSE envelope of ``version`` (None for a non-CSE object)."""
    envelope = version.user_meta.get(META_KEY)
    if envelope is None:
        return None
    problem = refusal(enc, version)
    if problem is not None:
        raise problem
    try:
        return CSEObject.open(enc.cse_key, envelope)
    except AccessDenied:
        raise refused(
            version, "was client-side encrypted with another key than this mount's"
        ) from None


@contextlib.contextmanager
def keyed(version: ObjectVersion) -> Iterator[None]:
    """Around a store call that reads ``version``'s data with the mount's key.

    A wrong SSE-C key is ``AccessDenied`` from the store; a missing one is
    ``InvalidRequest``: both become the logged EACCES refusal.
    """
    try:
        yield
    except AccessDenied as err:
        if version.sse != "SSE-C":
            raise
        raise refused(version, f"cannot be decrypted with this mount's SSE-C key ({err})") from None
    except InvalidRequest as err:
        if version.sse != "SSE-C":
            raise
        raise refused(version, f"needs its SSE-C key ({err})") from None


def verify_readable(
    store: Store, ctx: RequestContext, enc: MountEncryption, version: ObjectVersion
) -> CSEObject | None:
    """Refuse (AccessDenied) unless this mount holds the keys ``version`` needs.

    Runs in a worker thread: an SSE-C object costs one store call (the store
    checks the key against its verifier); returns the open CSE envelope.
    """
    problem = refusal(enc, version)
    if problem is not None:
        raise problem
    if version.sse == "SSE-C" and not version.is_delete_marker:
        with keyed(version):
            store.head_object(
                ctx,
                version.bucket,
                version.key,
                version_id=version.version_id,
                sse=enc.read_request,
            )
    return open_envelope(enc, version)


def head_meta(
    store: Store,
    ctx: RequestContext,
    enc: MountEncryption,
    bucket: str,
    key: str,
    *,
    version_id: str | None = None,
) -> ObjectVersion:
    """``head_object`` for metadata: an SSE-C object answers even without its key.

    The store's HEAD checks the SSE-C key (as S3); the mount needs
    attributes of every object it lists, so a refused SSE-C head falls back
    to the listing (which carries the same record and checks no key).
    """
    try:
        return store.head_object(ctx, bucket, key, version_id=version_id, sse=enc.read_request)
    except (InvalidRequest, AccessDenied) as err:
        if err.details.get("ssec_not_applicable"):  # not SSE-C: our key does not apply
            return store.head_object(ctx, bucket, key, version_id=version_id)
        original: ObjfsError = err
    if version_id is None:
        page = store.list_objects(ctx, bucket, prefix=key, max_keys=1)
        found = [v for v in page.contents if v.key == key]
    else:
        found = [v for v in store.key_versions(ctx, bucket, key) if v.version_id == version_id]
    if found and found[0].sse == "SSE-C":
        return found[0]
    raise original


def read_version(
    store: Store,
    ctx: RequestContext,
    enc: MountEncryption,
    version: ObjectVersion,
    offset: int,
    size: int,
    cse: CSEObject | None = None,
) -> bytes:
    """Plaintext bytes [offset, offset+size) of one version (``.versions/`` files)."""
    if cse is None:
        cse = open_envelope(enc, version)
    if cse is None:
        with keyed(version):
            return store.read_range(
                ctx,
                version.bucket,
                version.key,
                offset,
                size,
                version_id=version.version_id,
                sse=enc.read_for(version),
            )
    end = min(offset + size, shown_size(version, store.chunk_size))
    pieces = []
    pos = offset
    while pos < end:
        index, inner = divmod(pos, cse.block_size)
        block = read_cse_block(store, ctx, enc, version, cse, index)
        take = min(len(block) - inner, end - pos)
        if take <= 0:
            break
        pieces.append(block[inner : inner + take])
        pos += take
    return b"".join(pieces)


def read_cse_block(
    store: Store,
    ctx: RequestContext,
    enc: MountEncryption,
    version: ObjectVersion,
    cse: CSEObject,
    index: int,
) -> bytes:
    """Plaintext of CSE block ``index`` of ``version``: one frame read and decrypted."""
    start = index * cse.chunk_size
    length = min(cse.chunk_size, version.size - start)
    if length <= 0:
        return b""
    with keyed(version):
        frame = store.read_range(
            ctx,
            version.bucket,
            version.key,
            start,
            length,
            version_id=version.version_id,
            sse=enc.read_for(version),
        )
    if len(frame) != length:
        raise IntegrityError(f"{_name(version)}: client-side encrypted block {index} is short")
    try:
        return cse.decrypt_block(index, frame)
    except IntegrityError as err:
        raise IntegrityError(f"{_name(version)}: {err}") from None


__all__ = [
    "MountEncryption",
    "head_meta",
    "is_cse",
    "keyed",
    "mode_of",
    "open_envelope",
    "read_cse_block",
    "read_version",
    "refusal",
    "shown_size",
    "verify_readable",
    "without_envelope",
]
