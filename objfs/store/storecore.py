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

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from objfs.chunks.store import ChunkStore
    from objfs.meta.db import Database
    from objfs.store.authorizer import AccessControl
    from objfs.store.commit import VersionCommitter
    from objfs.store.configs import BucketConfigs
    from objfs.store.domains import Domains
    from objfs.store.extents import ExtentsCache
    from objfs.store.kms import KMS
    from objfs.store.leases import Leases
    from objfs.store.mfa import MFACodes
    from objfs.store.objectlock import LockRules
    from objfs.store.seam import Seam
    from objfs.store.space import Space
    from objfs.store.types import (
        BucketInfo,
    )
    from objfs.store.versions import Versions


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

    domains: Domains  # encryption domains (domains.py)
    versions: Versions  # the version a request names; S3's DELETE (versions.py)
    lock_rules: LockRules  # Object Lock's checks (objectlock.py)
