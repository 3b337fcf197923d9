"""What the store's remaining mixins share, declared once and typed.

``Store`` (core.py) is still built from mixins (objects, the mount's
operations, listing, multipart, maintenance, access logs, tagging,
lifecycle, Object Lock). Each subclasses ``StoreCore`` instead of naming
``Store``: the dependencies a mixin may use are the ones declared here, and
nothing here imports a mixin or ``core`` (no import circle, type-only ones
included), as ``objfs/fs/mountcore.py`` does for the mount's handler groups.

* the collaborators ``Store.__init__`` sets: the database, the chunk store
  and its chunk size, the free-space guard, the writer lease, the
  authorization data, the seam, the bucket configurations, the version
  committer, the manifest cache, the KMS and the MFA code checker, and
  ``_bucket`` (``configs.info``, bound: a bucket's record or NoSuchBucket);
  what a mixin alone needs of a type its own module defines is declared on
  that mixin (``access_log``: accesslog.py's ``AccessLog``);
* the methods ``Store`` defines (encryption domains, ``head_bucket``,
  ``clock``) and the ones a mixin calls in another (``_resolve``,
  ``_delete``, ``_drop_upload``, ``_request_tags``, the Object Lock
  checks), declared for the type checker only: at run time this class holds
  nothing, so ``Store``'s method resolution is the mixins' own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from objfs.chunks.store import ChunkStore
    from objfs.crypto.keyring import Domain
    from objfs.meta.db import Cursor, Database
    from objfs.store.authorizer import AccessControl
    from objfs.store.commit import VersionCommitter
    from objfs.store.configs import BucketConfigs
    from objfs.store.extents import ExtentsCache
    from objfs.store.kms import KMS
    from objfs.store.leases import Leases
    from objfs.store.mfa import MFACodes
    from objfs.store.seam import Seam
    from objfs.store.space import Space
    from objfs.store.types import (
        BucketInfo,
        DeleteResult,
        ObjectLockState,
        RequestContext,
        SSERequest,
    )


class StoreCore:
    """The shared dependencies of the store's mixins and the methods they call
    across mixins (see above)."""

    db: Database
    chunks: ChunkStore
    chunk_size: int
    space: Space  # the free-space floor and reserve (space.py)
    leases: Leases  # this process's writer lease (leases.py)
    access: AccessControl  # the authorization data (authorizer.py)
    seam: Seam  # every request's decision and log record (seam.py)
    configs: BucketConfigs  # a bucket's record and configuration map (configs.py)
    committer: VersionCommitter  # the one commit path (commit.py)
    extents: ExtentsCache  # decoded manifests by seq (extents.py)
    kms: KMS
    mfa_codes: MFACodes
    _bucket: Callable[[Any, str], BucketInfo]  # configs.info: NoSuchBucket without it

    if TYPE_CHECKING:
        # -- defined by Store (core.py) ------------------------------------------
        @property
        def clock(self) -> Callable[[], float]: ...
        def _domain(
            self,
            domain_id: bytes,
            customer_key: bytes | None = None,
            ctx: RequestContext | None = None,
            bucket: str | None = None,
            key: str | None = None,
        ) -> Domain: ...
        def _write_domain(
            self,
            bucket: BucketInfo,
            sse: SSERequest | None,
            ctx: RequestContext | None = None,
            key: str | None = None,
        ) -> tuple[Domain, str, str | None]: ...
        def _store_domain_id(self, name: str) -> bytes: ...
        def head_bucket(self, ctx: RequestContext, name: str) -> BucketInfo: ...

        # -- called across mixins ------------------------------------------------
        def _resolve(  # ObjectsMixin
            self, cur: Cursor, bucket: str, key: str, version_id: str | None
        ) -> tuple[tuple, bool]: ...
        def _delete(  # ObjectsMixin
            self,
            cur: Cursor,
            bucket: str,
            raw: bytes,
            key: str,
            version_id: str | None,
            *,
            bypass_governance: bool = False,
        ) -> DeleteResult: ...
        def _drop_upload(self, cur: Any, upload_id: str) -> None: ...  # MultipartMixin
        def _request_tags(  # TaggingMixin
            self,
            ctx: RequestContext,
            bucket: str,
            key: str,
            tags: Mapping[str, str] | None,
        ) -> dict[str, str] | None: ...
        def _check_lock_request(  # ObjectLockMixin
            self, ctx: RequestContext, bucket: str, key: str, lock: ObjectLockState | None
        ) -> None: ...
        def _check_not_locked(  # ObjectLockMixin
            self, row: Sequence[Any], *, bypass_governance: bool = False
        ) -> None: ...
        def _may_bypass(  # ObjectLockMixin
            self,
            ctx: RequestContext,
            cur: Any,
            bucket: str,
            key: str,
            version_id: str | None,
        ) -> bool: ...
