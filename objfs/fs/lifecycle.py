"""Before and around a mount: checks, logging, libfuse options, sd_notify.

Owns the list of reasons a mount is refused before the kernel is asked
(each a ``MountError`` with one line for the user and exit status 1):
encryption options that do not go together, a key file that cannot be read
or does not hold a key, an unknown or unusable KMS key, missing store,
missing bucket, mountpoint missing / not a directory / not empty / already
mounted, no usable ``/dev/fuse``. Nothing here changes the store.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from objfs.auth.credentials import find_credentials
from objfs.crypto.cse import load_key_file
from objfs.errors import NoSuchBucket, ObjfsError
from objfs.fs.encryption import MountEncryption
from objfs.fs.identity import MountIdentities, UserMapError, load_user_map
from objfs.fs.options import MountOptions
from objfs.paths import default_store_path
from objfs.store.types import OWNER

if TYPE_CHECKING:
    from objfs.store import Store


log = logging.getLogger("objfs.fs")


class MountError(Exception):
    """The mount cannot be done; ``str()`` is one line for the user."""

    def __init__(self, message: str, exit_status: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def resolve_store(store_path: str | None, options: MountOptions) -> Path:
    return default_store_path(store_path or options.store)


def check_mountpoint(mountpoint: str) -> None:
    if not os.path.exists(mountpoint):
        raise MountError(f"mountpoint {mountpoint} does not exist")
    if not os.path.isdir(mountpoint):
        raise MountError(f"mountpoint {mountpoint} is not a directory")
    if os.path.ismount(mountpoint):
        raise MountError(f"mountpoint {mountpoint} is already mounted")
    try:
        with os.scandir(mountpoint) as entries:
            if next(entries, None) is not None:
                raise MountError(f"mountpoint {mountpoint} is not empty")
    except PermissionError:
        raise MountError(f"mountpoint {mountpoint}: permission denied") from None


def check_fuse_device() -> None:
    if not os.path.exists("/dev/fuse"):
        raise MountError("/dev/fuse is missing: load the fuse module (modprobe fuse)")
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        raise MountError("/dev/fuse is not usable by this user (permission denied)")


def open_store(path: Path) -> Store:
    from objfs.store import Store

    try:
        return Store.open(path)
    except ObjfsError as err:
        raise MountError(f"cannot open store {path}: {err}") from None
    except OSError as err:
        raise MountError(f"cannot open store {path}: {err.strerror or err}") from None


def _read_key(option: str, path: str) -> bytes:
    try:
        key = load_key_file(path)
    except ObjfsError as err:
        raise MountError(f"{option}: {err}") from None
    try:
        if os.stat(path).st_mode & 0o077:
            log.warning("key file %s is readable by other users (chmod 600 it)", path)
    except OSError:
        pass
    return key


def load_encryption(options: MountOptions) -> MountEncryption:
    """The mount's encryption from its options: combinations checked, key files read."""
    problem = options.encryption_problem()
    if problem:
        raise MountError(problem)
    customer = cse = None
    if options.sse_c_key_file is not None:
        customer = _read_key("sse_c_key_file", options.sse_c_key_file)
    if options.cse_key_file is not None:
        cse = _read_key("cse_key_file", options.cse_key_file)
    mode = options.sse_mode
    return MountEncryption(
        sse=None if mode == "SSE-C" else mode,
        kms_key_id=options.sse_kms_key_id,
        customer_key=customer,
        cse_key=cse,
    )


def check_kms_key(store: Store, encryption: MountEncryption) -> None:
    """``sse_kms_key_id=`` names a KMS key of this store that can encrypt now."""
    if encryption.sse != "aws:kms" or encryption.kms_key_id is None:
        return  # no id: the store's default key, created on first use
    ref = encryption.kms_key_id
    try:
        info = store.kms_describe_key(OWNER, ref)
    except ObjfsError as err:
        raise MountError(f"sse_kms_key_id={ref}: {err}") from None
    if info.state != "Enabled":
        raise MountError(f"sse_kms_key_id={ref}: the KMS key is {info.state}")


def load_identities(store: Store, options: MountOptions) -> MountIdentities:
    """Who the mount acts as, from profile=/credentials_file=/user_map= (checked now)."""
    fixed = key_id = None
    try:
        creds = find_credentials(options.profile, options.credentials_file)
        if creds is not None:
            fixed = store.authenticate(creds.access_key_id, creds.secret_access_key)
            key_id = creds.access_key_id
        user_map = load_user_map(options.user_map) if options.user_map else None
        return MountIdentities(fixed, user_map, store.user_identity, key_id)
    except (ObjfsError, UserMapError) as err:
        what = "user_map" if options.user_map and isinstance(err, UserMapError) else "identity"
        raise MountError(f"mount {what}: {err}") from None


def preflight(
    store_path: str | None,
    bucket: str,
    mountpoint: str,
    options: MountOptions,
    encryption: MountEncryption | None = None,
) -> Any:
    """Every check that can fail before mounting; returns the opened store."""
    if encryption is None:
        encryption = load_encryption(options)
    check_mountpoint(mountpoint)
    check_fuse_device()
    store = open_store(resolve_store(store_path, options))
    try:
        store.head_bucket(OWNER.with_options(log=False), bucket)  # a check, not a request
    except NoSuchBucket:
        store.close()
        raise MountError(f"no such bucket: {bucket}") from None
    except ObjfsError as err:
        store.close()
        raise MountError(f"bucket {bucket}: {err}") from None
    if options.prefix and not _bucket_has_room(options.prefix):
        store.close()
        raise MountError(f"prefix {options.prefix!r} is too long")
    try:
        check_kms_key(store, encryption)
    except MountError:
        store.close()
        raise
    return store


def preflight_identities(store: Store, options: MountOptions) -> MountIdentities:
    try:
        return load_identities(store, options)
    except MountError:
        store.close()
        raise


def _bucket_has_room(prefix: str) -> bool:
    return len(prefix.encode()) < 1024


def fuse_options(bucket: str, options: MountOptions) -> set[str]:
    """The option set handed to ``pyfuse3.init`` (libfuse / the kernel)."""
    fsname = options.fsname or f"objfs:{bucket}" + (
        f"/{options.prefix.rstrip('/')}" if options.prefix else ""
    )
    opts = {"default_permissions", "subtype=objfs", "fsname=" + fsname.replace(",", "_")}
    if options.allow_other:
        opts.add("allow_other")
    if options.read_only:
        opts.add("ro")
    opts.update(options.kernel_flags)
    return opts


def setup_logging(options: MountOptions, to_stderr: bool) -> None:
    """Daemon logging: ``log=FILE``, else stderr in the foreground, else syslog."""
    handler: logging.Handler
    if options.log_file:
        handler = logging.FileHandler(options.log_file)
    elif to_stderr:
        handler = logging.StreamHandler(sys.stderr)
    elif os.path.exists("/dev/log"):
        handler = logging.handlers.SysLogHandler(address="/dev/log")
    else:
        handler = logging.NullHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if options.debug else logging.INFO)
    pyfuse3_log = logging.getLogger("pyfuse3")
    pyfuse3_log.addFilter(_aborted_reply)
    if not options.debug:
        pyfuse3_log.setLevel(logging.WARNING)


def _aborted_reply(record: logging.LogRecord) -> bool:
    """pyfuse3 logs an ERROR when a reply finds no request: the kernel dropped
    it meanwhile (the caller was interrupted, or an unmount aborted the
    connection while, e.g., the asynchronous RELEASE of a file closed just
    before was being answered). Nothing is lost: an INFO line says so."""
    if record.levelno >= logging.ERROR and record.getMessage().endswith(
        "fuse_reply_* failed with No such file or directory"
    ):
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.msg, record.args = "%s (the kernel no longer waited for it)", (record.getMessage(),)
    return True


def sd_notify(message: str, socket_path: str | None = None) -> bool:
    """Send one datagram to systemd's notify socket; False when there is none."""
    path = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as err:
        log.warning("sd_notify to %s failed: %s", path, err)
        return False
    return True
