"""CLI data movement: ``put``, ``get`` and ``cp`` (local<->s3 and s3->s3).

Owns streaming between local files and the store. Invariants: object data
moves in pieces of at most the store's chunk size (never a whole object in
memory); a regular file over 5 GiB is uploaded as a multipart upload that is
either completed or aborted (no stray parts), with the same encryption on
every part and parts on the chunk grid (so client-side frames stay aligned);
a download lands under a temporary name in the destination directory and is
renamed into place only when complete, so a failed or interrupted ``get``
never leaves a truncated file behind; a download first reads the object's
metadata and pins its version, so a key it lacks is refused before any file
is created and a concurrent overwrite never mixes two versions; recursive
downloads never write outside the destination directory. Encryption flags
and the client-side data path are ``objfs.cli.crypto``'s.
"""

from __future__ import annotations

import argparse
import mimetypes
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from objfs.cli.app import CliApp
from objfs.cli.args import (
    ByteRange,
    CliError,
    S3Url,
    is_s3_url,
    parse_meta,
    parse_range,
    parse_s3_url,
)
from objfs.cli.builder import Builder
from objfs.cli.crypto import (
    COPY_SOURCE_FLAG,
    NO_ENCRYPTION,
    CSEDownload,
    Encryption,
    IterReader,
    check_user_meta,
    copy_meta,
    cse_frames,
    for_copy,
    for_download,
    for_upload,
    new_cse,
    open_cse,
    sse_c_refusals,
)
from objfs.cli.crypto_args import add_read_encryption, add_write_encryption
from objfs.cli.output import CountingReader, Progress
from objfs.errors import ObjfsError
from objfs.store.limits import MAX_PARTS, MAX_PUT_SIZE, MIN_PART_SIZE
from objfs.store.ranges import RangeSpec, resolve_range
from objfs.store.sysmeta import SPECIAL_TYPES, file_type
from objfs.store.types import ObjectHeaders, ObjectVersion, PutResult

if TYPE_CHECKING:
    from objfs.store.reader import ObjectReader


def as_prefix(key: str) -> str:
    """A key taken as a directory-like prefix: "" stays "", "a" becomes "a/"."""
    return key if not key or key.endswith("/") else key + "/"


def _target_key(dst: S3Url, name: str) -> S3Url:
    """``s3://b/dir/`` + "f" -> ``s3://b/dir/f``; a full key stays as it is."""
    if not dst.key or dst.key.endswith("/"):
        return dst.child(name)
    return dst


def _user_meta(args: argparse.Namespace) -> dict[str, str] | None:
    pairs = getattr(args, "meta", None)
    meta = dict(pairs) if pairs else None
    check_user_meta(meta)
    return meta


# -- upload -------------------------------------------------------------------


# A single PUT stores at most MAX_PUT_SIZE (S3's limit, kept by the store);
# bigger regular files go up as a multipart upload of PART_SIZE pieces, as
# the aws cli does. stdin (size unknown) always uses a single PUT.
MULTIPART_THRESHOLD = MAX_PUT_SIZE
PART_SIZE = 1 << 30


def _size_knob(name: str, default: int, least: int) -> int:
    """OBJFS_MULTIPART_THRESHOLD / OBJFS_MULTIPART_PART_SIZE: tests and tuning."""
    try:
        return max(least, int(os.environ.get(name, default)))
    except ValueError:
        return default


class _PartReader:
    """At most ``limit`` bytes of ``raw``: one part of a multipart upload."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self._raw = raw
        self.remaining = limit

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if self.remaining <= 0:
            return 0
        view = memoryview(buffer)[: self.remaining]
        count = self._raw.readinto(view) or 0  # type: ignore[attr-defined]
        self.remaining -= count
        return count

    def read(self, n: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        data = self._raw.read(self.remaining if n < 0 else min(n, self.remaining))
        self.remaining -= len(data)
        return data


def _put_multipart(
    app: CliApp,
    source: BinaryIO,
    dst: S3Url,
    size: int,
    content_type: str | None,
    user_meta: dict[str, str] | None,
    enc: Encryption,
    headers: ObjectHeaders | None = None,
) -> PutResult:
    store, ctx = app.store, app.ctx
    part_size = _size_knob("OBJFS_MULTIPART_PART_SIZE", PART_SIZE, MIN_PART_SIZE)
    part_size = max(part_size, -(-size // MAX_PARTS))
    # Whole chunks per part: a client-side frame never straddles two parts.
    part_size = -(-part_size // store.chunk_size) * store.chunk_size
    upload_id = store.create_multipart_upload(
        ctx,
        dst.bucket,
        dst.key,
        content_type=content_type,
        user_meta=user_meta,
        sse=enc.write,
        headers=headers,
    )
    try:
        parts = []
        for number in range(1, max(1, -(-size // part_size)) + 1):
            info = store.upload_part(
                ctx,
                dst.bucket,
                dst.key,
                upload_id,
                number,
                _PartReader(source, part_size),
                sse=enc.read,
            )
            parts.append((number, info.etag))
        return store.complete_multipart_upload(
            ctx, dst.bucket, dst.key, upload_id, parts, sse=enc.read
        )
    except BaseException:
        # Free the parts already stored; the original error is what matters.
        try:
            store.abort_multipart_upload(ctx, dst.bucket, dst.key, upload_id)
        except ObjfsError:
            pass
        raise


def upload_stream(
    app: CliApp,
    body: BinaryIO,
    dst: S3Url,
    *,
    size: int | None,
    label: str,
    content_type: str | None,
    user_meta: dict[str, str] | None,
    enc: Encryption = NO_ENCRYPTION,
    headers: ObjectHeaders | None = None,
) -> None:
    progress = Progress.for_transfer(label, size, quiet=app.quiet)
    source: BinaryIO = CountingReader(body, progress) if progress.enabled else body  # type: ignore[assignment]
    stored: Any = source
    stored_size = size
    if enc.cse_key is not None:  # the store gets frames of ciphertext and the envelope
        obj, user_meta = new_cse(enc.cse_key, app.store.chunk_size, user_meta)
        stored = IterReader(cse_frames(obj, source))
        stored_size = None if size is None else obj.stored_size(size)
    try:
        threshold = _size_knob("OBJFS_MULTIPART_THRESHOLD", MULTIPART_THRESHOLD, MIN_PART_SIZE)
        if stored_size is not None and stored_size > threshold:
            result = _put_multipart(
                app, stored, dst, stored_size, content_type, user_meta, enc, headers
            )
        else:
            result = app.store.put_object(
                app.ctx,
                dst.bucket,
                dst.key,
                stored,
                content_type=content_type,
                user_meta=user_meta,
                sse=enc.write,
                size_hint=stored_size,
                headers=headers,
            )
    finally:
        progress.finish()
    suffix = f" (version {result.version_id})" if result.version_id != "null" else ""
    app.say(f"upload: {label} to {dst}{suffix}")


def upload_file(
    app: CliApp,
    path: Path,
    dst: S3Url,
    *,
    content_type: str | None,
    user_meta: dict[str, str] | None,
    enc: Encryption = NO_ENCRYPTION,
    headers: ObjectHeaders | None = None,
) -> None:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CliError(f"{path} is a directory: add --recursive to upload its files") from None
    except OSError as err:
        raise CliError(f"cannot read {path}: {err.strerror}") from None
    with handle:
        info = os.fstat(handle.fileno())
        size = info.st_size if stat.S_ISREG(info.st_mode) else None
        if content_type is None:
            content_type = mimetypes.guess_type(path.name)[0]
        upload_stream(
            app,
            handle,
            dst,
            size=size,
            label=str(path),
            content_type=content_type,
            user_meta=user_meta,
            enc=enc,
            headers=headers,
        )


def _walk_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root`` (symlinks to files followed, dirs not), sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def upload_tree(
    app: CliApp, root: Path, dst: S3Url, args: argparse.Namespace, enc: Encryption
) -> int:
    app.store.head_bucket(app.ctx, dst.bucket)  # fail once, not once per file
    meta = _user_meta(args)
    prefix = as_prefix(dst.key)
    failures = 0
    for path in _walk_files(root):
        rel = path.relative_to(root).as_posix()
        if not path.is_file():
            app.warn(f"skipping {path}: not a regular file")
            failures += 1
            continue
        try:
            upload_file(
                app,
                path,
                S3Url(dst.bucket, prefix + rel),
                content_type=args.content_type,
                user_meta=meta,
                enc=enc,
                headers=_object_headers(args),
            )
        except (ObjfsError, CliError) as err:
            app.warn(f"{path}: {err}")
            failures += 1
    return 1 if failures else 0


def cmd_put(app: CliApp, args: argparse.Namespace) -> int:
    dst = parse_s3_url(args.dest)
    enc = for_upload(args)
    if args.src == "-":
        if not dst.key or dst.key.endswith("/"):
            raise CliError(f"put from stdin needs a full key, e.g. s3://{dst.bucket}/name")
        upload_stream(
            app,
            sys.stdin.buffer,
            dst,
            size=None,
            label="stdin",
            content_type=args.content_type,
            user_meta=_user_meta(args),
            enc=enc,
            headers=_object_headers(args),
        )
        return 0
    src = Path(args.src)
    if src.is_dir():
        if not args.recursive:
            raise CliError(f"{src} is a directory: add --recursive to upload its files")
        return upload_tree(app, src, dst, args, enc)
    if not src.exists() and not src.is_symlink():
        raise CliError(f"no such file: {src}")
    upload_file(
        app,
        src,
        _target_key(dst, src.name),
        content_type=args.content_type,
        user_meta=_user_meta(args),
        enc=enc,
        headers=_object_headers(args),
    )
    return 0


# -- download -----------------------------------------------------------------


def _open_source(
    app: CliApp,
    src: S3Url,
    version_id: str | None,
    wanted: ByteRange | None,
    enc: Encryption,
) -> ObjectReader | CSEDownload:
    """A reader of the (plaintext) bytes asked for: iterate it; ``.length`` is their count.

    The metadata comes first: it pins the version, and a key the object
    needs but the command lacks is refused before anything is written.
    """
    with sse_c_refusals(src):
        info = app.store.head_object(
            app.ctx, src.bucket, src.key, version_id=version_id, sse=enc.read
        )
    cse = open_cse(info, enc, src)
    if cse is not None:
        plain = cse.plain_size(info.size)
        spec = _asked(wanted, plain)
        # S3's range rule applied to the plaintext: the store's own function.
        rng = None if spec is None else resolve_range(spec, plain)
        return CSEDownload(app.store, app.ctx, info, cse, rng, enc.read)
    # The store resolves an open or suffix range on the version it reads
    # (a "null" version may be replaced since the head).
    asked = _asked(wanted, info.size)
    with sse_c_refusals(src):
        return app.store.get_object(
            app.ctx, src.bucket, src.key, version_id=info.version_id, range=asked, sse=enc.read
        )


def _asked(wanted: ByteRange | None, size: int) -> RangeSpec | None:
    """The range to ask for; None (the whole object) for no range and for the
    empty tail of an empty object, which S3 would refuse: ``get --range -N``
    of an empty object gives nothing."""
    if wanted is None or (wanted.first is None and size == 0):
        return None
    return wanted.spec


def _local_name(key: str) -> str:
    name = key.rstrip("/").rsplit("/", 1)[-1]
    if not name or key.endswith("/") or name in (".", ".."):
        raise CliError(f"cannot name a local file after key {key!r}: give DEST")
    return name


def download(
    app: CliApp,
    src: S3Url,
    dest: str | None,
    *,
    version_id: str | None = None,
    wanted: ByteRange | None = None,
    enc: Encryption = NO_ENCRYPTION,
) -> None:
    """Stream one object to ``dest`` (a file, a directory, or "-" for stdout).

    A special file (FIFO, socket, device) holds no data: nothing is written,
    and a note on stderr says what it is.
    """
    if dest == "-":
        with _open_source(app, src, version_id, wanted, enc) as reader:
            if _special_note(app, src, getattr(reader, "info", None)):
                return
            out = sys.stdout.buffer
            progress = Progress.for_transfer(str(src), reader.length, quiet=app.quiet)
            try:
                for piece in reader:
                    out.write(piece)
                    progress.update(len(piece))
                out.flush()
            finally:
                progress.finish()
        return
    target = Path(dest) if dest else Path(_local_name(src.key))
    if target.is_dir() or (dest is not None and dest.endswith("/")):
        target = target / _local_name(src.key)
    if not target.parent.is_dir():
        raise CliError(f"no such directory: {target.parent}")
    with _open_source(app, src, version_id, wanted, enc) as reader:
        if _special_note(app, src, getattr(reader, "info", None)):
            return
        _write_atomically(app, reader, target, label=str(src))
    app.say(f"download: {src} to {target}")


def _special_note(app: CliApp, src: S3Url, info: ObjectVersion | None) -> bool:
    if info is None or file_type(info.sys_meta) not in SPECIAL_TYPES:
        return False
    kind = file_type(info.sys_meta)
    detail = ""
    if info.sys_meta.rdev:
        detail = f" {os.major(info.sys_meta.rdev)},{os.minor(info.sys_meta.rdev)}"
    app.warn(f"{src} is a {kind}{detail} (a special file holds no data): nothing written")
    return True


def _write_atomically(app: CliApp, reader: Iterable[bytes], target: Path, *, label: str) -> None:
    tmp = target.parent / f".{target.name}.objfs-{os.getpid()}.part"
    progress = Progress.for_transfer(label, getattr(reader, "length", None), quiet=app.quiet)
    try:
        with open(tmp, "wb") as out:
            for piece in reader:
                out.write(piece)
                progress.update(len(piece))
        os.replace(tmp, target)
    except IsADirectoryError:
        raise CliError(f"{target} is a directory") from None
    except PermissionError as err:
        raise CliError(f"cannot write {err.filename or target}: permission denied") from None
    finally:
        progress.finish()
        if tmp.exists():
            tmp.unlink()


def cmd_get(app: CliApp, args: argparse.Namespace) -> int:
    src = parse_s3_url(args.src, need_key=True)
    enc = for_download(args)
    download(app, src, args.dest, version_id=args.version_id, wanted=args.range, enc=enc)
    return 0


# -- copy ---------------------------------------------------------------------


def _iter_latest(app: CliApp, src: S3Url) -> Iterator[ObjectVersion]:
    for item in app.store.iter_objects(app.ctx, src.bucket, prefix=as_prefix(src.key)):
        if isinstance(item, ObjectVersion):
            yield item


def _safe_local_path(root: Path, rel: str) -> Path | None:
    """``root/rel`` if ``rel`` stays inside ``root`` as a relative path, else None."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts[:-1]):
        return None
    if parts[-1] in (".", ".."):
        return None
    return root.joinpath(*parts)


def _download_tree(app: CliApp, src: S3Url, root: Path, enc: Encryption) -> int:
    prefix = as_prefix(src.key)
    failures = 0
    for info in _iter_latest(app, src):
        rel = info.key[len(prefix) :]
        if rel.endswith("/"):  # directory marker object
            path = _safe_local_path(root, rel.rstrip("/"))
            if path is not None:
                path.mkdir(parents=True, exist_ok=True)
            continue
        path = _safe_local_path(root, rel)
        if path is None:
            app.warn(f"skipping s3://{src.bucket}/{info.key}: not a safe local path")
            failures += 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            download(
                app, S3Url(src.bucket, info.key), str(path), version_id=info.version_id, enc=enc
            )
        except (ObjfsError, CliError) as err:
            app.warn(f"s3://{src.bucket}/{info.key}: {err}")
            failures += 1
    return 1 if failures else 0


def _copy_one(
    app: CliApp, src: S3Url, dst: S3Url, args: argparse.Namespace, vid: str | None, enc: Encryption
) -> None:
    meta = _user_meta(args)
    headers = _object_headers(args)
    replace = meta is not None or args.content_type is not None or headers is not None
    with sse_c_refusals(src, flag=COPY_SOURCE_FLAG):
        if replace:  # new metadata must keep a client-side envelope, or the copy is unreadable
            source = app.store.head_object(
                app.ctx, src.bucket, src.key, version_id=vid, sse=enc.copy_source
            )
            meta, vid = copy_meta(source, meta), source.version_id
        result = app.store.copy_object(
            app.ctx,
            src.bucket,
            src.key,
            dst.bucket,
            dst.key,
            src_version_id=vid,
            metadata_directive="REPLACE" if replace else "COPY",
            content_type=args.content_type,
            user_meta=meta,
            sse=enc.write,
            src_sse=enc.copy_source,
            headers=headers,
        )
    suffix = f" (version {result.version_id})" if result.version_id != "null" else ""
    app.say(f"copy: {src} to {dst}{suffix}")


def cmd_cp(app: CliApp, args: argparse.Namespace) -> int:
    src_remote, dst_remote = is_s3_url(args.src), is_s3_url(args.dest)
    if not src_remote and not dst_remote:
        raise CliError("one of SRC and DEST must be an s3:// URL (use cp(1) for local copies)")
    if args.recursive and args.version_id:
        raise CliError("--version-id names one object; it cannot be used with --recursive")
    if not src_remote:  # local -> s3
        if args.version_id:
            raise CliError("--version-id applies to an s3:// source only")
        return cmd_put(app, args)
    src = parse_s3_url(args.src, need_key=not args.recursive)
    if not dst_remote:  # s3 -> local
        enc = for_download(args)
        if args.recursive:
            root = Path(args.dest)
            root.mkdir(parents=True, exist_ok=True)
            return _download_tree(app, src, root, enc)
        download(app, src, args.dest, version_id=args.version_id, enc=enc)
        return 0
    dst = parse_s3_url(args.dest)
    enc = for_copy(args)
    if not args.recursive:
        if not dst.key or dst.key.endswith("/"):
            dst = dst.child(_local_name(src.key))
        _copy_one(app, src, dst, args, args.version_id, enc)
        return 0
    prefix, dst_prefix = as_prefix(src.key), as_prefix(dst.key)
    # Listed in full before copying: a destination inside the source prefix
    # would otherwise feed its own copies back into the listing.
    sources = list(_iter_latest(app, src))
    failures = 0
    for info in sources:
        target = S3Url(dst.bucket, dst_prefix + info.key[len(prefix) :])
        try:
            _copy_one(app, S3Url(src.bucket, info.key), target, args, info.version_id, enc)
        except (ObjfsError, CliError) as err:
            app.warn(f"s3://{src.bucket}/{info.key}: {err}")
            failures += 1
    return 1 if failures else 0


# -- command line ---------------------------------------------------------------


def register(build: Builder) -> None:
    p = build.add(
        "put",
        cmd_put,
        "upload a file, stdin (-) or a directory (--recursive)",
        "objfs put report.pdf s3://docs/2026/report.pdf\n"
        "tar c src | objfs put - s3://backups/src.tar\n"
        "objfs put --recursive ./site s3://www/\n"
        "objfs put tax.pdf s3://vault/tax.pdf --sse-kms-key-id alias/vault\n"
        "objfs put tax.pdf s3://vault/tax.pdf --cse-key-file ~/.objfs/client.key",
    )
    p.add_argument("src", metavar="SRC", help="local file, directory, or - for stdin")
    p.add_argument("dest", metavar="s3://BUCKET/KEY", help="a key ending in / gets SRC's name")
    _add_upload_options(p)
    add_write_encryption(p, copy=False)

    p = build.add(
        "get",
        cmd_get,
        "download an object to a file, a directory or stdout (-)",
        "objfs get s3://docs/2026/report.pdf\n"
        "objfs get s3://docs/log.txt - --range 0-99\n"
        "objfs get s3://docs/a.txt old-a.txt --version-id 0000000001a2b3c4\n"
        "objfs get s3://vault/tax.pdf --cse-key-file ~/.objfs/client.key",
    )
    p.add_argument("src", metavar="s3://BUCKET/KEY")
    p.add_argument("dest", metavar="DEST", nargs="?", help="file, directory or - (default: ./NAME)")
    p.add_argument("--version-id", metavar="V", help="read this version instead of the latest")
    p.add_argument(
        "--range",
        metavar="A-B",
        type=parse_range,
        help="bytes A to B inclusive; A- or -N also work",
    )
    add_read_encryption(p)

    p = build.add(
        "cp",
        cmd_cp,
        "copy s3->s3 (shares chunks: metadata only), local->s3 or s3->local",
        "objfs cp s3://docs/a.txt s3://archive/2026/a.txt\n"
        "objfs cp notes.txt s3://docs/\n"
        "objfs cp --recursive s3://docs/2026/ ./docs-2026",
    )
    p.add_argument("src", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--version-id", metavar="V", help="copy this version of an s3:// source")
    _add_upload_options(p)
    add_write_encryption(p, copy=True)


def _add_upload_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", "--recursive", action="store_true", help="copy a directory/prefix tree")
    p.add_argument("--content-type", metavar="TYPE", help="default: guessed from the file name")
    p.add_argument(
        "--meta",
        metavar="K=V",
        type=parse_meta,
        action="append",
        help="user metadata (x-amz-meta-K); repeatable",
    )
    # S3's standard object headers, under the aws cli's flag names.
    for flag, what in _HEADER_FLAGS.items():
        p.add_argument(f"--{flag}", metavar="VALUE", help=f"the object's {what} header")


_HEADER_FLAGS = {
    "cache-control": "Cache-Control",
    "content-disposition": "Content-Disposition",
    "content-encoding": "Content-Encoding",
    "content-language": "Content-Language",
    "expires": "Expires",
}


def _object_headers(args: argparse.Namespace) -> ObjectHeaders | None:
    """--cache-control ... --expires as the store's ObjectHeaders (None: none given)."""
    values = {
        flag.replace("-", "_"): getattr(args, flag.replace("-", "_"), None)
        for flag in _HEADER_FLAGS
    }
    headers = ObjectHeaders(**{k: v for k, v in values.items() if v is not None})
    return headers or None
