"""Extended attributes of mount entries: S3 facts and S3 user metadata.

Owns the xattr namespace of the mount:

* ``user.s3.etag``, ``user.s3.version_id``, ``user.s3.content_type``,
  ``user.s3.sse`` are read-only facts of the current (or, under
  ``.versions/``, that) version; setting or removing them is EPERM.
  ``user.s3.sse`` is the object's encryption (``none``, ``AES256``,
  ``aws:kms``, ``SSE-C``, or ``CSE`` for client-side encrypted objects);
  ``user.s3.sse_kms_key_id`` (the KMS key id) exists for ``aws:kms`` objects;
* ``user.s3.tag.KEY`` is the object tag ``KEY`` (value: the tag's value),
  read on files and ``.versions/`` entries, set and removed on files: that
  changes the current version's tag set in place (no new version, as S3's
  PutObjectTagging). A tag S3 refuses (too long, a character outside its
  alphabet, an ``aws:`` key) is EINVAL; an 11th tag is ENOSPC (no room for
  the attribute, as user metadata over 2 KB);
* ``user.s3.lock_mode`` and ``user.s3.lock_until`` (ISO 8601, UTC) for a
  version under Object Lock retention, ``user.s3.legal_hold`` (``ON``) for
  one under a legal hold;
* any other ``user.NAME`` is the object's S3 user metadata ``NAME``
  (``x-amz-meta-NAME``); setting/removing amends the current version in
  place (no new version; EPERM while the version is under Object Lock,
  whose S3 metadata stays as written). The client-side encryption envelope
  (``objfs-cse``) is not shown, and setting or removing it is EPERM;
* other namespaces (security., system., trusted.) are not supported: reads
  and writes answer ENOTSUP without a store query (the kernel asks for
  ``security.capability`` on writes; ``ls -l`` for SELinux labels and ACLs);
* directories carry no extended attributes;
* nor do symlinks, FIFOs, sockets and devices: Linux answers ENODATA to any
  read of a ``user.`` name on them before asking the file system (and EPERM
  to a write), so listing the facts there named xattrs nobody can read, and
  ``rsync -X`` left every such entry out of a copy. Invariant: every name
  ``listxattr`` gives can be read with ``getxattr`` on the same inode.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import pyfuse3

from objfs.crypto.cse import META_KEY
from objfs.errors import InvalidTag
from objfs.fs.encryption import mode_of
from objfs.fs.inodes import Kind, Node
from objfs.fs.metacache import MetaCache
from objfs.fs.mountcore import MountCore
from objfs.fs.names import KeyMap
from objfs.fs.runner import StoreRunner, caller, fuse_error, fuse_handler
from objfs.store.sysmeta import file_type
from objfs.store.types import ObjectVersion

if TYPE_CHECKING:
    from objfs.store import Store

FACTS = (
    "etag",
    "version_id",
    "content_type",
    "sse",
    "sse_kms_key_id",
    "lock_mode",
    "lock_until",
    "legal_hold",
)
FACT_PREFIX = b"user.s3."
TAG_PREFIX = b"user.s3.tag."
USER_PREFIX = b"user."
ENVELOPE = USER_PREFIX + META_KEY.encode()


def _facts(version: ObjectVersion) -> dict[bytes, bytes]:
    facts = {
        FACT_PREFIX + b"etag": version.etag.encode(),
        FACT_PREFIX + b"version_id": version.version_id.encode(),
        FACT_PREFIX + b"content_type": version.content_type.encode(),
        FACT_PREFIX + b"sse": mode_of(version).encode(),
    }
    if version.kms_key_id is not None:
        facts[FACT_PREFIX + b"sse_kms_key_id"] = version.kms_key_id.encode()
    lock = version.lock
    if lock.mode is not None and lock.until_ns is not None:
        facts[FACT_PREFIX + b"lock_mode"] = lock.mode.encode()
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(lock.until_ns / 1e9))
        facts[FACT_PREFIX + b"lock_until"] = until.encode()
    if lock.legal_hold:
        facts[FACT_PREFIX + b"legal_hold"] = b"ON"
    return facts


class XattrTable:
    """The extended attributes of the mount's files (``ops.xattrs``): the
    rules of the module docstring, for the handlers of ``XattrOps``.

    Its dependencies are its constructor's arguments: the store and the
    runner of its calls, the mounted bucket and key map, the metadata cache
    (an amendment is this mount's own change), and two steps of the file
    handlers: ``file_version`` (a FILE node's latest version, cached) and
    ``commit_node`` (commit an open file's pending data first).
    """

    def __init__(
        self,
        store: Store,
        run: StoreRunner,
        bucket: str,
        keys: KeyMap,
        cache: MetaCache,
        *,
        file_version: Callable[[Node], Awaitable[ObjectVersion | None]],
        commit_node: Callable[[Node, bool], Awaitable[None]],
    ) -> None:
        self.store = store
        self.run = run
        self.bucket = bucket
        self.keys = keys
        self.cache = cache
        self.file_version = file_version
        self.commit_node = commit_node

    async def _version(self, node: Node) -> ObjectVersion | None:
        if node.kind is Kind.VFILE:
            return node.version  # type: ignore[return-value]
        if node.kind is not Kind.FILE:
            return None
        if node.state is not None:
            return node.state.base
        return await self.file_version(node)

    async def get(self, node: Node, name: bytes) -> bytes:
        """The value of the ``user.`` attribute ``name`` of ``node``."""
        version = await self._version(node)
        if version is None:
            raise fuse_error(pyfuse3.ENOATTR)
        if name.startswith(TAG_PREFIX):
            value = _tags(version).get(name)
        elif name.startswith(FACT_PREFIX):
            value = _facts(version).get(name)
        else:
            value = _user(version).get(name[len(USER_PREFIX) :])
        if value is None:
            raise fuse_error(pyfuse3.ENOATTR)
        return value

    async def names(self, node: Node) -> list[bytes]:
        """Every attribute name of ``node`` (each readable with ``get``)."""
        version = await self._version(node)
        if version is None or file_type(version.sys_meta) != "file":
            return []
        return (
            list(_facts(version)) + list(_tags(version)) + [USER_PREFIX + k for k in _user(version)]
        )

    async def change(self, node: Node, name: bytes, value: bytes | None) -> None:
        """Set (``value`` None: remove) attribute ``name`` of ``node``, a node of
        a writable mount."""
        if not name.startswith(USER_PREFIX) or node.kind is not Kind.FILE:
            raise fuse_error(errno.ENOTSUP)
        if name.startswith(TAG_PREFIX):
            await self._amend(node, name[len(TAG_PREFIX) :], value, tags=True)
            return
        if name.startswith(FACT_PREFIX) or name == ENVELOPE:
            raise fuse_error(errno.EPERM)
        await self._amend(node, name[len(USER_PREFIX) :], value, tags=False)

    async def _amend(self, node: Node, name: bytes, value: bytes | None, *, tags: bool) -> None:
        """Set (or, ``value`` None, remove) one user metadata entry, or with
        ``tags`` one tag, of the file's current version, in place."""
        try:
            entry = name.decode("utf-8")
            text = value.decode("utf-8") if value is not None else None
        except UnicodeDecodeError:
            raise fuse_error(errno.EINVAL) from None
        if node.state is not None and node.state.dirty:
            await self.commit_node(node, False)  # not durable
        version = await self._version(node)
        if version is None or node.path is None:
            raise fuse_error(errno.ENOENT)
        entries = dict(version.tags if tags else version.user_meta)
        if text is None:
            if entry not in entries:
                raise fuse_error(pyfuse3.ENOATTR)
            del entries[entry]
        else:
            entries[entry] = text
        call = self.store.put_object_tagging if tags else self.store.update_user_meta
        key = self.keys.key(node.path)
        try:
            with self.cache.own_change(key):
                updated = await self.run(call, caller(), self.bucket, key, entries)
        except InvalidTag as err:
            # One tag too many: no room for the attribute (as user metadata over 2 KB).
            raise fuse_error(
                errno.ENOSPC if err.details.get("too_many") else errno.EINVAL
            ) from None
        node.version = updated
        if node.state is not None:
            node.state.base = updated


class XattrOps(MountCore):
    """Handler group of ``ObjfsOperations`` (its dependencies: ``MountCore``):
    the FUSE handlers of extended attributes; the rules are ``XattrTable``'s."""

    xattrs: XattrTable  # set by ``ObjfsOperations.__init__``

    @fuse_handler
    async def getxattr(self, inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> bytes:
        if not name.startswith(USER_PREFIX):
            # ENOTSUP, not ENODATA: ls -l remembers per device that SELinux
            # labels and ACLs are unsupported and stops asking for every
            # file (two requests per entry otherwise).
            raise fuse_error(errno.ENOTSUP)
        return await self.xattrs.get(self.node_of(inode), name)

    @fuse_handler
    async def listxattr(self, inode: int, ctx: pyfuse3.RequestContext) -> list[bytes]:
        return await self.xattrs.names(self.node_of(inode))

    @fuse_handler
    async def setxattr(
        self, inode: int, name: bytes, value: bytes, ctx: pyfuse3.RequestContext
    ) -> None:
        node = self.node_of(inode)
        self.check_writable(node)
        await self.xattrs.change(node, name, value)

    @fuse_handler
    async def removexattr(self, inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        node = self.node_of(inode)
        self.check_writable(node)
        await self.xattrs.change(node, name, None)


def _user(version: ObjectVersion) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in version.user_meta.items() if k != META_KEY}


def _tags(version: ObjectVersion) -> dict[bytes, bytes]:
    return {TAG_PREFIX + k.encode(): v.encode() for k, v in version.tags.items()}
