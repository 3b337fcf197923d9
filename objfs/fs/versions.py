"""The ``.versions/`` tree: every version of every key, read-only.

``/.versions`` (hidden from the root listing unless ``-o show_versions``,
always reachable by name) mirrors the mount tree including deleted keys.
``/.versions/PATH/`` is a directory that lists

* one read-only file per version of the key ``PATH`` (oldest first by name,
  see ``names.version_file_name``; a delete marker has the suffix
  ``.deleted`` and size 0), and
* the sub-tree below ``PATH/`` (so a key shadowed by a file of the same name
  in the main tree is still readable here).

Reading a version file reads that version; ``cp`` restores it. ``unlink`` of
a version file deletes that version permanently (S3 DELETE with a version
id), refused with EPERM while the bucket has MFA delete on (the log names
the CLI command that can pass a code) and while the version's Object Lock
holds (the log names the lock, at INFO); ``rmdir`` succeeds only once nothing
is left. Everything else is EROFS.
Nothing here is cached: listings and lookups always ask the store.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyfuse3 import FUSEError

from objfs.errors import MFARequired, ObjectLocked
from objfs.fs import names
from objfs.fs.inodes import InodeTable, Kind, Node
from objfs.fs.metacache import Entry, MetaCache
from objfs.fs.names import KeyMap
from objfs.fs.runner import StoreRunner, caller, fuse_error, log
from objfs.store.types import ObjectVersion

if TYPE_CHECKING:
    from objfs.store import Store


class VersionTree:
    """The ``.versions/`` entries of one mount, for ``ObjfsOperations``'s
    lookup, readdir, unlink and rmdir handlers (``ops.versions``).

    Its dependencies are its constructor's arguments: the store and the
    runner of its calls, the mounted bucket and key map, the inode table
    its nodes live in, the metadata cache (a deleted version changes its
    key), and ``child_path``, the mount's rule for a name the kernel sent.
    """

    def __init__(
        self,
        store: Store,
        run: StoreRunner,
        bucket: str,
        keys: KeyMap,
        table: InodeTable,
        cache: MetaCache,
        child_path: Callable[[Node, bytes], str],
    ) -> None:
        self.store = store
        self.run = run
        self.bucket = bucket
        self.keys = keys
        self.table = table
        self.cache = cache
        self.child_path = child_path

    async def key_versions(self, path: str) -> list[ObjectVersion]:
        if not path:
            return []
        return await self.run(self.store.key_versions, caller(), self.bucket, self.keys.key(path))

    async def _any_version_under(self, path: str) -> bool:
        page = await self.run(
            self.store.list_object_versions,
            caller(),
            self.bucket,
            prefix=self.keys.dir_prefix(path),
            max_keys=1,
        )
        return bool(page.versions or page.common_prefixes)

    async def lookup(self, parent: Node, raw: bytes) -> Node:
        path = self.child_path(parent, raw) if parent.kind is Kind.VDIR else self._vroot_child(raw)
        if parent.kind is Kind.VDIR:
            assert parent.path is not None
            version_id = names.parse_version_file_name(raw.decode("utf-8", "replace"))
            if version_id is not None:
                for version in await self.key_versions(parent.path):
                    if version.version_id == version_id and _name_of(version) == raw.decode():
                        node = self.table.node(Kind.VFILE, parent.path, version_id)
                        node.version = version
                        return node
        if await self.key_versions(path) or await self._any_version_under(path):
            return self.table.node(Kind.VDIR, path)
        raise fuse_error(errno.ENOENT)

    def _vroot_child(self, raw: bytes) -> str:
        return self.child_path(self.table.root, raw)

    async def list_dir(self, node: Node) -> list[Entry]:
        """Snapshot of a ``.versions`` directory: version files, then sub-directories."""
        assert node.path is not None
        path = node.path
        entries: list[Entry] = []
        if node.kind is Kind.VDIR:
            for version in await self.key_versions(path):
                entries.append((_name_of(version), Kind.VFILE, path, version))
        entries.sort(key=lambda e: e[0])
        prefix = self.keys.dir_prefix(path)

        def listing() -> list[str]:
            children: dict[str, None] = {}
            key_marker = None
            version_marker = None
            while True:
                page = self.store.list_object_versions(
                    caller(),
                    self.bucket,
                    prefix=prefix,
                    delimiter="/",
                    max_keys=1000,
                    key_marker=key_marker,
                    version_id_marker=version_marker,
                )
                for item in [v.key for v in page.versions] + list(page.common_prefixes):
                    name = self.keys.child_name(prefix, item)
                    if name is not None:
                        children[name] = None
                if not page.is_truncated:
                    return list(children)
                key_marker = page.next_key_marker
                version_marker = page.next_version_id_marker

        taken = {e[0] for e in entries}
        for name in sorted(await self.run(listing), key=lambda n: n.encode()):
            if name not in taken:
                entries.append((name, Kind.VDIR, names.join(path, name), None))
        return entries

    async def unlink(self, parent: Node, raw: bytes) -> None:
        """Delete one version for good."""
        node = await self.lookup(parent, raw)
        if node.kind is not Kind.VFILE:
            raise fuse_error(errno.EISDIR)
        assert node.path is not None and node.version_id is not None
        key = self.keys.key(node.path)
        try:
            await self.run(
                self.store.delete_object, caller(), self.bucket, key, version_id=node.version_id
            )
        except MFARequired as err:  # no code can come through unlink(2): EPERM, say how
            log.info(
                '%s; use: objfs rm s3://%s/%s --version-id %s --mfa "SERIAL CODE"',
                err,
                self.bucket,
                key,
                node.version_id,
            )
            raise fuse_error(errno.EPERM) from None
        except ObjectLocked as err:  # Object Lock: nobody may, whatever the caller
            log.info("unlink refused: %s", err)
            raise fuse_error(errno.EPERM) from None
        self.cache.touched(node.path)
        self.table.orphan(node)

    async def rmdir(self, parent: Node, raw: bytes) -> None:
        if parent.kind is Kind.VROOT and raw == b"":
            raise fuse_error(errno.EINVAL)
        try:
            node = await self.lookup(parent, raw)
        except FUSEError as err:
            if err.errno != errno.ENOENT:
                raise
            return  # nothing left: the mirror directory is gone already
        if node.kind is not Kind.VDIR:
            raise fuse_error(errno.ENOTDIR)
        raise fuse_error(errno.ENOTEMPTY)


def _name_of(version: ObjectVersion) -> str:
    return names.version_file_name(
        version.last_modified_ns, version.version_id, version.is_delete_marker
    )
