"""Where a store keeps its chunks, named by a URL: parsing, and the backend it names.

A store records one chunks URL in its metadata (``Store.init``'s
``chunks_url``, meta key ``chunks_url``) and builds its backend from it on
every open. The accepted forms:

- ``file:`` (the default): the store's own ``chunks/`` directory
  (``LocalBackend``), as every store had before chunks URLs existed;
- ``file:/ABS/PATH`` (or ``file:///ABS/PATH``): a ``LocalBackend`` in
  another directory, absolute so it means the same whoever opens the store;
- ``s3://BUCKET/PREFIX?endpoint=URL&region=R&style=path|virtual``: objects
  under ``PREFIX`` of ``BUCKET`` on an S3-compatible store (``S3Backend`` of
  ``objfs.chunks.s3``), every query parameter optional (no endpoint: AWS).

Invariants:
- ``parse_chunks_url`` is pure (no I/O, no environment) and either returns a
  ``ChunksURL`` whose ``str()`` is its canonical form (what the store
  records, parsed again to an equal value) or raises ``InvalidArgument``
  saying which part is wrong and the accepted forms;
- a URL never carries a secret: user information (``user:password@``) in
  the URL or in its endpoint is refused, because the URL goes into the
  store's database. Credentials (``chunk_credentials``) come from
  ``OBJFS_CHUNKS_ACCESS_KEY_ID``/``OBJFS_CHUNKS_SECRET_ACCESS_KEY``, else the
  profile ``AWS_PROFILE`` (or ``default``) of the AWS shared credentials
  file, else the client library's own sources (``AWS_ACCESS_KEY_ID``...,
  instance metadata). objfs's own names come first because ``objfs``
  commands read ``AWS_ACCESS_KEY_ID`` as the objfs user to act as;
- ``objfs.chunks.s3`` (and its client library) is imported only when an
  ``s3://`` URL is opened: ``file:`` stores never load it;
- ``check_backend`` (``Store.init``'s check of a new location) leaves the
  location as it found it: empty, its probe blob deleted.

Design: the prefix is canonical with one trailing ``/`` (``s3://b/p`` and
``s3://b/p/`` are one location), the query's order is fixed (endpoint,
region, style) and ``style`` is always written, so the recorded URL says
every setting the backend gets. Path style is the default: SeaweedFS,
MinIO and Ceph RGW on an IP endpoint need it, and AWS still serves it.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from objfs.chunks.backend import ChunkBackend, LocalBackend
from objfs.errors import IntegrityError, InternalError, InvalidArgument, InvalidRequest, ObjfsError

log = logging.getLogger(__name__)

DEFAULT_URL = "file:"
FORMS = (
    "file: (the store's chunks/ directory), file:/ABSOLUTE/PATH, or "
    "s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=REGION&style=path|virtual"
)
NO_SECRETS = (
    "it holds credentials (user:password@), and the URL is recorded in the store's "
    "database: give them by AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE "
    "or ~/.aws/credentials instead"
)
S3_PARAMS = ("endpoint", "region", "style")
CACHE_DIR_ENV = "OBJFS_CHUNK_CACHE_DIR"
CACHE_SIZE_ENV = "OBJFS_CHUNK_CACHE"
CACHE_DIR_NAME = "chunk-cache"
DEFAULT_CACHE_BYTES = 1 << 30  # S3Backend's default

# S3's bucket naming rules (the common subset every S3-compatible store takes).
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# user information (``user:password@``) in the URL or in its endpoint's URL
_USERINFO_RE = re.compile(r"(?:^|[:=])//[^/?#&]*@")
_SIZE_RE = re.compile(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(slots=True, frozen=True)
class ChunksURL:
    """A parsed chunks URL: ``scheme`` ``"file"`` (``path`` None: the store's
    ``chunks/``) or ``"s3"`` (``bucket``, ``prefix``: empty or ending in ``/``,
    ``endpoint``: None for AWS, ``region``, ``path_style``)."""

    scheme: str
    path: Path | None = None
    bucket: str = ""
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    path_style: bool = True

    @property
    def is_default(self) -> bool:
        """The store's own ``chunks/`` directory (every store before chunks URLs)."""
        return self.scheme == "file" and self.path is None

    def __str__(self) -> str:
        if self.scheme == "file":
            return "file:" if self.path is None else f"file:{self.path}"
        params = []
        if self.endpoint is not None:
            params.append(f"endpoint={self.endpoint}")
        if self.region is not None:
            params.append(f"region={self.region}")
        params.append(f"style={'path' if self.path_style else 'virtual'}")
        return f"s3://{self.bucket}/{quote(self.prefix, safe='/')}?{'&'.join(params)}"


def _bad(what: str) -> InvalidArgument:
    return InvalidArgument(f"bad chunks URL: {what}; accepted forms: {FORMS}")


def parse_chunks_url(url: str) -> ChunksURL:
    """The ``ChunksURL`` that ``url`` names; ``InvalidArgument`` saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise _bad("it is empty")
    if any(ord(c) < 0x21 or c == "\x7f" for c in url):
        raise _bad(f"{url!r} holds spaces or control characters")
    if _USERINFO_RE.search(url) or _USERINFO_RE.search(unquote(url)):
        raise _bad(NO_SECRETS)  # without the URL: it holds a secret
    scheme, sep, _ = url.partition(":")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise _bad(f"{url!r} has no scheme")
    scheme = scheme.lower()
    if scheme == "file":
        return _parse_file(url)
    if scheme == "s3":
        return _parse_s3(url)
    raise _bad(f"unknown scheme {scheme + ':'!r} in {url!r}")


def _parse_file(url: str) -> ChunksURL:
    rest = url[len("file:") :]
    if rest.startswith("//"):  # file:///abs (an empty authority) or file://localhost/abs
        host, _, local = rest[2:].partition("/")
        if host not in ("", "localhost"):
            raise _bad(f"{url!r} names host {host!r}: a file: URL is on this machine")
        rest = "/" + local
    if "?" in rest or "#" in rest:
        raise _bad(f"{url!r}: a file: URL takes no query or fragment")
    if not rest:
        return ChunksURL("file")
    if not rest.startswith("/"):
        raise _bad(f"{url!r}: the directory must be an absolute path (file:/srv/objfs-chunks)")
    directory = Path(os.path.normpath(rest))
    if directory == Path("/"):
        raise _bad(f"{url!r}: the root directory cannot hold chunks")
    return ChunksURL("file", path=directory)


def _parse_s3(url: str) -> ChunksURL:
    if not url[3:].startswith("//"):
        raise _bad(f"{url!r}: write s3://BUCKET/PREFIX")
    parts = urlsplit(url)
    if parts.fragment or url.endswith("#"):
        raise _bad(f"{url!r}: an s3:// URL takes no fragment (#...)")
    bucket = parts.netloc
    if not bucket:
        raise _bad(f"{url!r} names no bucket: write s3://BUCKET/PREFIX")
    if ":" in bucket:
        raise _bad(
            f"{url!r}: {bucket!r} is not a bucket name (a host:port? give the server "
            "as ?endpoint=http://HOST:PORT)"
        )
    if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise _bad(
            f"{bucket!r} is not a bucket name: 3-63 lowercase letters, digits, dots "
            "and hyphens, starting and ending with a letter or digit"
        )
    prefix = _prefix(url, parts.path)
    params: dict[str, str] = {}
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise _bad(f"{url!r}: the query is not NAME=VALUE&NAME=VALUE") from None
    for name, value in pairs:
        if name not in S3_PARAMS:
            raise _bad(
                f"unknown parameter {name!r} in {url!r} (known: {', '.join(S3_PARAMS)}; "
                "credentials never go in the URL)"
            )
        if name in params:
            raise _bad(f"parameter {name!r} given twice in {url!r}")
        if not value:
            raise _bad(f"parameter {name!r} is empty in {url!r}")
        params[name] = value
    style = params.get("style", "path")
    if style not in ("path", "virtual"):
        raise _bad(f"style={style!r} in {url!r}: style is path or virtual")
    region = params.get("region")
    if region is not None and not _REGION_RE.fullmatch(region):
        raise _bad(f"region={region!r} in {url!r} is not a region name (us-east-1)")
    endpoint = params.get("endpoint")
    if endpoint is not None:
        endpoint = _endpoint(url, endpoint)
    return ChunksURL(
        "s3",
        bucket=bucket,
        prefix=prefix,
        endpoint=endpoint,
        region=region,
        path_style=style == "path",
    )


def _prefix(url: str, path: str) -> str:
    """``/a/b`` or ``/a/b/`` -> ``a/b/``; empty stays empty."""
    prefix = unquote(path).lstrip("/")
    if not prefix:
        return ""
    segments = prefix.rstrip("/").split("/")
    if any(s in ("", ".", "..") for s in segments):
        raise _bad(f"{url!r}: the prefix has an empty, '.' or '..' segment")
    if any(ord(c) < 0x20 or c == "\x7f" for c in prefix):
        raise _bad(f"{url!r}: the prefix holds control characters")
    return "/".join(segments) + "/"


def _endpoint(url: str, endpoint: str) -> str:
    ep = urlsplit(endpoint)
    if "@" in ep.netloc:  # percent-encoded in the URL: seen only once decoded
        raise _bad(NO_SECRETS)  # without the URL: it holds a secret
    if ep.scheme not in ("http", "https") or not ep.hostname:
        raise _bad(f"endpoint={endpoint!r} in {url!r}: write endpoint=http://HOST:PORT")
    if ep.query or ep.fragment or ep.path not in ("", "/"):
        raise _bad(f"endpoint={endpoint!r} in {url!r}: only scheme, host and port")
    try:
        ep.port  # noqa: B018 (a port out of range raises here)
    except ValueError:
        raise _bad(f"endpoint={endpoint!r} in {url!r} has a bad port") from None
    return f"{ep.scheme}://{ep.netloc}"


# -- opening -------------------------------------------------------------------


def parse_cache_size(text: str) -> int:
    """``OBJFS_CHUNK_CACHE``'s value in bytes (``1G``, ``512M``, ``0``: no cache)."""
    match = _SIZE_RE.fullmatch(text)
    if not match:
        raise InvalidArgument(
            f"{CACHE_SIZE_ENV}={text!r} is not a size (examples: 1G, 512M, 0 for no cache)"
        )
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


KEY_ENV = "OBJFS_CHUNKS_ACCESS_KEY_ID"
SECRET_ENV = "OBJFS_CHUNKS_SECRET_ACCESS_KEY"


def chunk_credentials(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """The chunk store's (access key, secret), or None for the client library's
    own sources; see the module docstring for the order.

    A half-given pair, or an ``AWS_PROFILE`` the credentials file does not
    have, is ``InvalidArgument`` saying which."""
    env = os.environ if environ is None else environ
    key, secret = env.get(KEY_ENV, "").strip(), env.get(SECRET_ENV, "").strip()
    if key or secret:
        if not (key and secret):
            raise InvalidArgument(f"set both {KEY_ENV} and {SECRET_ENV}, or neither")
        return key, secret
    path = Path(
        env.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials"
    ).expanduser()
    profile = env.get("AWS_PROFILE", "").strip()
    ini = configparser.ConfigParser(interpolation=None)
    try:
        ini.read_string(path.read_text())
    except FileNotFoundError:
        if profile:
            raise InvalidArgument(
                f"AWS_PROFILE is {profile!r} but there is no credentials file {path}"
            ) from None
        return None
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise InvalidArgument(f"cannot read the AWS credentials file {path}: {exc}") from None
    name = profile or "default"
    if not ini.has_section(name):
        if profile:
            raise InvalidArgument(f"the AWS credentials file {path} has no profile [{name}]")
        return None
    key = ini.get(name, "aws_access_key_id", fallback="").strip()
    secret = ini.get(name, "aws_secret_access_key", fallback="").strip()
    if not (key and secret):
        raise InvalidArgument(
            f"profile [{name}] of {path} needs aws_access_key_id and aws_secret_access_key"
        )
    return key, secret


def open_backend(
    url: str,
    store_dir: Path,
    *,
    cache_dir: Path | None = None,
    cache_bytes: int | None = None,
) -> ChunkBackend:
    """The backend ``url`` names for the store in ``store_dir``.

    For ``s3://`` the frame cache is ``cache_dir`` (default:
    ``$OBJFS_CHUNK_CACHE_DIR``, else ``STORE/chunk-cache``) of at most
    ``cache_bytes`` (default: ``$OBJFS_CHUNK_CACHE``, else the backend's
    1 GiB; 0: no cache). Builds the client; does not contact the server.
    """
    where = parse_chunks_url(url)
    if where.scheme == "file":
        return LocalBackend(store_dir / "chunks" if where.path is None else where.path)
    if cache_bytes is None:
        raw = os.environ.get(CACHE_SIZE_ENV, "").strip()
        cache_bytes = parse_cache_size(raw) if raw else None
    if cache_dir is None:
        raw_dir = os.environ.get(CACHE_DIR_ENV, "").strip()
        cache_dir = Path(raw_dir).expanduser() if raw_dir else store_dir / CACHE_DIR_NAME
    # Here, not at the top: a file: store does not load the S3 client library.
    from objfs.chunks.s3 import S3Backend

    credentials = chunk_credentials()
    backend: ChunkBackend = S3Backend(
        bucket=where.bucket,
        prefix=where.prefix,
        endpoint=where.endpoint,
        region=where.region,
        path_style=where.path_style,
        access_key=credentials[0] if credentials else None,
        secret_key=credentials[1] if credentials else None,
        cache_dir=None if cache_bytes == 0 else cache_dir,
        cache_bytes=DEFAULT_CACHE_BYTES if cache_bytes is None else cache_bytes,
    )
    return backend


def check_backend(backend: ChunkBackend, url: str) -> None:
    """Make sure a new store can use ``backend`` (at ``url``): it is empty, and
    a probe blob can be put, read back and deleted. Raises an ``ObjfsError``
    saying what to check (for an S3 store: the endpoint, the credentials,
    the bucket).

    Empty, because a store's gc removes every chunk its own database does not
    name: two stores must never share one chunk location.
    """
    where = parse_chunks_url(url)
    if where.scheme == "s3":
        hint = (
            f"check that the endpoint {where.endpoint or '(AWS)'} answers, that the "
            f"credentials ({KEY_ENV} and {SECRET_ENV}, or AWS_PROFILE and "
            f"~/.aws/credentials) are right, and that bucket {where.bucket} exists and "
            "they may write to it"
        )
    else:
        hint = f"check that {where.path} is a directory this user may write to"
    name = os.urandom(16).hex()
    try:
        first = next(iter(backend.iterate()), None)
        if first is not None:
            raise InvalidRequest(
                f"the chunk location {url} already holds chunks (another store's?): a "
                "store's gc deletes every chunk it does not know, so give each store an "
                "empty location of its own"
            )
        backend.put(name, b"objfs probe")
        if backend.get(name) != b"objfs probe":
            raise IntegrityError(f"the chunk location {url} returned other bytes than it stored")
        backend.delete(name)
    except InvalidRequest:
        raise
    except ObjfsError as err:
        raise type(err)(f"cannot use the chunk location {url}: {err}; {hint}") from None
    except Exception as err:  # a client library's own error: say it, with the way out
        log.debug("probe of %s failed", url, exc_info=True)
        raise InternalError(
            f"cannot use the chunk location {url}: {type(err).__name__}: {err}; {hint}"
        ) from None
