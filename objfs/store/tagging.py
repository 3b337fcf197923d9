"""Tags: a version's tag set and a bucket's, with S3's rules.

``Tagging`` is the ``Store``'s collaborator for the tagging requests
(``store.tagging``; see core.py for the invariants every call keeps);
``check_tags``, ``tag_pairs`` and ``request_tags`` are the rules other
groups apply to the tags a write asks for.

An object version carries up to 10 tags (``versions.tags``), a bucket up to
50 (its ``config`` map under ``tags``). A tag key is 1 to 128 Unicode
characters, a value 0 to 256, both of letters, digits, spaces and
``_ . : / = + - @``; a key may not start with ``aws:`` (S3's reserved
prefix). ``check_tags`` is the one validation every way in uses (PutObject's
``x-amz-tagging``, PutObjectTagging, multipart, copy, the CLI, the mount's
xattrs).

Changing a version's tags rewrites its row in place: S3 makes no new
version, the ETag and the Last-Modified time stay. The change is appended
to the change sequence (so a mount sees it) like any metadata change.

Invariants: a stored tag set always passes ``check_tags``; an empty set is
stored as none (NULL / no ``tags`` entry).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping

from objfs.errors import BadRequest, InvalidTag, NoSuchTagSet
from objfs.meta.db import Database
from objfs.store import records as rec
from objfs.store.access import Need, requires, tag_condition_keys
from objfs.store.commit import VersionCommitter
from objfs.store.configs import BucketConfigs
from objfs.store.seam import Seam
from objfs.store.types import ObjectVersion, RequestContext
from objfs.store.versions import Versions

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
_PUNCTUATION = frozenset("_.:/=+-@")


def _allowed(text: str) -> bool:
    """S3's tag alphabet: Unicode letters, digits and spaces, and ``_ . : / = + - @``."""
    for ch in text:
        if ch in _PUNCTUATION:
            continue
        if unicodedata.category(ch)[0] not in "LNZ":
            return False
    return True


def tag_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A tag set from (key, value) pairs as a request lists them: a key given
    twice is ``InvalidTag``, as S3 answers it."""
    tags: dict[str, str] = {}
    for key, value in pairs:
        if key in tags:
            raise InvalidTag("Cannot provide multiple Tags with the same key", tag_key=key)
        tags[key] = value
    return tags


def check_tags(tags: Mapping[str, str], *, bucket: bool = False) -> dict[str, str]:
    """Validate a tag set (S3's limits, alphabet and reserved prefix); a plain dict of it.

    Too many tags: ``InvalidTag`` for an object (as S3 answers PutObjectTagging),
    ``BadRequest`` for a bucket; every other fault ``InvalidTag``."""
    limit = MAX_BUCKET_TAGS if bucket else MAX_OBJECT_TAGS
    if len(tags) > limit:
        what = "Bucket" if bucket else "Object"
        error = BadRequest if bucket else InvalidTag
        raise error(f"{what} tags cannot be greater than {limit}", too_many=True)
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidTag("tag keys and values are strings")
        if not key:
            raise InvalidTag("The TagKey you have provided is invalid", tag_key=key)
        if len(key) > MAX_KEY_CHARS:
            raise InvalidTag(
                f"The TagKey you have provided is too long, max {MAX_KEY_CHARS}", tag_key=key
            )
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidTag(
                f"The TagValue you have provided is too long, max {MAX_VALUE_CHARS}", tag_key=key
            )
        if not _allowed(key):
            raise InvalidTag("The TagKey you have provided is invalid", tag_key=key)
        if not _allowed(value):
            raise InvalidTag("The TagValue you have provided is invalid", tag_key=key)
        if key.lower().startswith("aws:"):
            raise InvalidTag("Your TagKey cannot be prefixed with aws:", tag_key=key)
    return dict(tags)


def _tag_action(verb: str) -> Need:
    return Need(
        lambda a: (
            f"s3:{verb}ObjectVersionTagging" if a.get("version_id") else f"s3:{verb}ObjectTagging"
        )
    )


def request_tags(
    seam: Seam,
    ctx: RequestContext,
    bucket: str,
    key: str,
    tags: Mapping[str, str] | None,
) -> dict[str, str] | None:
    """The tags a write asks for, checked; as S3, giving them takes
    ``s3:PutObjectTagging`` besides the write's own action."""
    if not tags:
        return None
    checked = check_tags(tags)
    seam.check(ctx, "s3:PutObjectTagging", bucket, key, None, tag_condition_keys(checked))
    return checked


class Tagging:
    """The tagging requests (a version's tags, a bucket's); the ``Store``
    delegates them (``objfs/store/facade/tagging.py``).

    Built with the database, the ``Versions`` (the version a request names),
    the committer (a version's tags are amended in place, its row rewritten
    and the change appended to the change sequence), the bucket
    configurations (a bucket's tags live in its config map) and the seam (the
    decorators). Holds no state of its own."""

    def __init__(
        self,
        *,
        db: Database,
        versions: Versions,
        committer: VersionCommitter,
        configs: BucketConfigs,
        seam: Seam,
    ) -> None:
        self.db = db
        self.versions = versions
        self.committer = committer
        self.configs = configs
        self.seam = seam

    # -- object tags ---------------------------------------------------------------

    @requires(_tag_action("Get"))
    def get_object_tagging(
        self, ctx: RequestContext, bucket: str, key: str, *, version_id: str | None = None
    ) -> ObjectVersion:
        """The version (the latest without ``version_id``); ``.tags`` is its tag set.

        A delete marker has none: NoSuchKey when it is the latest, MethodNotAllowed
        when named by version id, as S3."""
        with self.db.read() as cur:
            row, latest = self.versions.resolve(cur, bucket, key, version_id)
        return rec.version_from_row(row, is_latest=latest)

    @requires(_tag_action("Put"))
    def put_object_tagging(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        tags: Mapping[str, str],
        *,
        version_id: str | None = None,
    ) -> ObjectVersion:
        """Replace the version's tag set in place (no new version); the version as changed."""
        return self._set_version_tags(ctx, bucket, key, check_tags(tags), version_id)

    @requires(_tag_action("Delete"))
    def delete_object_tagging(
        self, ctx: RequestContext, bucket: str, key: str, *, version_id: str | None = None
    ) -> ObjectVersion:
        """Remove the version's tags (in place, as ``put_object_tagging``)."""
        return self._set_version_tags(ctx, bucket, key, {}, version_id)

    def _set_version_tags(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        tags: dict[str, str],
        version_id: str | None,
    ) -> ObjectVersion:
        with self.db.write(durable=ctx.durable) as cur:
            row, latest = self.versions.resolve(cur, bucket, key, version_id)
            row = self.committer.amend(cur, row, tags=rec.pack_tags(tags))
        return rec.version_from_row(row, is_latest=latest)

    # -- bucket tags ---------------------------------------------------------------

    @requires(Need("s3:PutBucketTagging", key=None))
    def put_bucket_tagging(self, ctx: RequestContext, bucket: str, tags: Mapping[str, str]) -> None:
        checked = check_tags(tags, bucket=True)
        with self.db.write(durable=True) as cur:
            self.configs.set(cur, bucket, tags=checked or None)

    @requires(Need("s3:GetBucketTagging", key=None))
    def get_bucket_tagging(self, ctx: RequestContext, bucket: str) -> dict[str, str]:
        """The bucket's tags; ``NoSuchTagSet`` when it has none."""
        with self.db.read() as cur:
            tags = self.configs.get(cur, bucket).get("tags")
        if not tags:
            raise NoSuchTagSet(f"bucket {bucket!r} has no tags", bucket=bucket)
        return dict(tags)

    # S3 authorizes DeleteBucketTagging as s3:PutBucketTagging.
    @requires(Need("s3:PutBucketTagging", key=None))
    def delete_bucket_tagging(self, ctx: RequestContext, bucket: str) -> None:
        with self.db.write(durable=True) as cur:
            self.configs.set(cur, bucket, tags=None)
