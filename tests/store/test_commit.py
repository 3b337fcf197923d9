"""The one commit path (objfs/store/commit.py): every write makes its version
through ``VersionCommitter.commit``, and the helpers that write (the mount's
writer, access-log delivery) reach the store only through what they were given."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from objfs.store import OWNER, Store, SystemMeta
from objfs.store.commit import NewVersion

STORE_DIR = Path(__file__).resolve().parents[2] / "objfs" / "store"


def _record_commits(store: Store) -> list[tuple[str, str, NewVersion]]:
    """Wrap the store's committer: (bucket, key, record) of each commit, in order."""
    seen: list[tuple[str, str, NewVersion]] = []
    real = store.committer.commit

    def commit(cur: Any, bucket: str, raw: bytes, new: NewVersion, **kwargs: Any) -> Any:
        seen.append((bucket, raw.decode(), new))
        return real(cur, bucket, raw, new, **kwargs)

    store.committer.commit = commit  # type: ignore[method-assign]
    return seen


def test_every_write_path_commits_through_the_committer(store: Store) -> None:
    store.create_bucket(OWNER, "src", versioning=True)
    store.create_bucket(OWNER, "logs")
    store.put_bucket_logging(OWNER, "src", "logs", "logs/")
    seen = _record_commits(store)

    store.put_object(OWNER, "src", "put", b"one")
    store.copy_object(OWNER, "src", "put", "src", "copy")
    store.delete_object(OWNER, "src", "copy")
    upload = store.create_multipart_upload(OWNER, "src", "mpu")
    part = store.upload_part(OWNER, "src", "mpu", upload, 1, b"part")
    store.complete_multipart_upload(OWNER, "src", "mpu", upload, [(1, part.etag)])
    store.rename(OWNER, "src", "put", "moved")
    small = store.commit_small(OWNER, "src", "small", b"tiny", sys_meta=SystemMeta(mode=0o100644))
    assert small is not None
    writer = store.open_writer(OWNER, "src", "written", base=None)
    try:
        writer.write(0, b"by the writer")
        writer.commit(OWNER)
    finally:
        writer.close()
    store.flush_access_logs(OWNER)

    keys = [(bucket, key) for bucket, key, _ in seen]
    assert keys[:8] == [
        ("src", "put"),
        ("src", "copy"),
        ("src", "copy"),  # the delete marker
        ("src", "mpu"),
        ("src", "moved"),
        ("src", "put"),  # the rename's delete marker
        ("src", "small"),
        ("src", "written"),
    ]
    assert [new.delete_marker for _, _, new in seen[:8]] == [
        False,
        False,
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    delivered = seen[8:]  # log delivery: one object in the target bucket
    assert [bucket for bucket, _, _ in delivered] == ["logs"]
    assert delivered[0][1].startswith("logs/") and delivered[0][2].content_type == "text/plain"


def _private_uses(tree: ast.AST, inside: str | None = None) -> list[str]:
    """``x._name`` where ``x`` is not ``self``: a reach into another object's privates."""
    nodes: list[ast.AST] = [tree]
    if inside is not None:
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == inside]
        assert nodes, inside
    found = []
    for node in nodes:
        for sub in ast.walk(node):
            if (
                isinstance(sub, ast.Attribute)
                and sub.attr.startswith("_")
                and not sub.attr.startswith("__")
                and not (isinstance(sub.value, ast.Name) and sub.value.id in ("self", "cls"))
            ):
                found.append(f"line {sub.lineno}: .{sub.attr}")
    return found


def test_writer_and_log_delivery_use_no_private_of_the_store() -> None:
    for name, inside in (
        ("writer.py", None),
        ("commit.py", None),
        ("extents.py", None),
        ("accesslog.py", "AccessLog"),
    ):
        tree = ast.parse((STORE_DIR / name).read_text())
        assert _private_uses(tree, inside) == [], name
