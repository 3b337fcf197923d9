"""Object Ownership: a bucket's ``OwnershipControls`` (S3's Put/Get/DeleteBucketOwnershipControls).

The setting lives in the bucket's ``config`` map as ``ownership`` (one of
``objfs.auth.ownership.MODES``; absent: no controls, objects belong to
their writer). Its effects are applied where they happen: who owns a new
version (``AccessControl.record_creator``), which ACLs a request may set
(``Policies`` PutAcl, CreateBucket), and that ACLs grant nothing when
they are disabled (``AccessControl._decide``).

Invariant: a bucket set to ``BucketOwnerEnforced`` has an ACL granting
nothing beyond its owner's FULL_CONTROL (``InvalidBucketAclWithObjectOwnership``
otherwise), so turning ACLs off never hides a grant that still looks in force.
"""

from __future__ import annotations

from objfs.auth import ownership
from objfs.errors import InvalidBucketAclWithObjectOwnership, OwnershipControlsNotFoundError
from objfs.meta.db import Database
from objfs.store.access import Need, requires
from objfs.store.authorizer import AccessControl
from objfs.store.configs import BucketConfigs
from objfs.store.seam import Seam
from objfs.store.types import RequestContext


class Ownership:
    """A bucket's Object Ownership setting (``store.ownership``)."""

    def __init__(
        self, *, db: Database, access: AccessControl, configs: BucketConfigs, seam: Seam
    ) -> None:
        self.db = db
        self.access = access
        self.configs = configs
        self.seam = seam

    @requires(Need("s3:PutBucketOwnershipControls", key=None))
    def put_bucket_ownership_controls(self, ctx: RequestContext, bucket: str, mode: str) -> None:
        """Set the bucket's Object Ownership (``BucketOwnerEnforced``,
        ``BucketOwnerPreferred`` or ``ObjectWriter``)."""
        ownership.check_mode(mode)
        with self.db.write(durable=True) as cur:
            info = self.configs.info(cur, bucket)
            config = self.configs.get(cur, bucket)
            if mode == ownership.ENFORCED:
                acl = self.access.bucket_acl(cur, bucket, info.owner, config)
                if not ownership.owner_only(acl, acl.owner_id):
                    raise InvalidBucketAclWithObjectOwnership(
                        "Bucket cannot have ACLs set with ObjectOwnership's "
                        "BucketOwnerEnforced setting"
                    )
            self.configs.set(cur, bucket, ownership=mode)
        self.access.forget(bucket)

    @requires(Need("s3:GetBucketOwnershipControls", key=None))
    def get_bucket_ownership_controls(self, ctx: RequestContext, bucket: str) -> str:
        """The bucket's Object Ownership setting; ``OwnershipControlsNotFoundError`` if none."""
        with self.db.read() as cur:
            mode = self.configs.get(cur, bucket).get("ownership")
        if mode is None:
            raise OwnershipControlsNotFoundError(f"bucket {bucket!r} has no ownership controls")
        return str(mode)

    @requires(Need("s3:PutBucketOwnershipControls", key=None))
    def delete_bucket_ownership_controls(self, ctx: RequestContext, bucket: str) -> None:
        """Remove the setting (objects then belong to their writers); none is no error."""
        with self.db.write(durable=True) as cur:
            self.configs.set(cur, bucket, ownership=None)
        self.access.forget(bucket)
