"""The store's key ring: the master key and the encryption domains it opens.

Owns:
- the master key file (``keys/master.key``, 32 raw bytes or 64 hex chars,
  mode 0600 in a 0700 directory) and the order it is looked for in;
- *encryption domains*: a domain is one data key (DEK) from which the chunk
  id key and the AES-256-GCM chunk key are derived with HKDF. Chunks dedup
  only inside one domain, because their ids are keyed by the domain's id key;
- the *domain record*: the msgpack blob the store keeps in its metadata so a
  domain can be reopened. It never holds a DEK or a customer key in the clear.

Record format (msgpack map, ``v`` = 1)::

    {"v": 1, "kind": "none", "id_key": <32 B>}
    {"v": 1, "kind": "AES256", "wrap": "master", "kcv": <8 B>, "nonce": <12 B>, "wrapped": <48 B>}
    {"v": 1, "kind": "SSE-C", "wrap": "customer", "salt": <16 B>, "verifier": <32 B>,
     "nonce": <12 B>, "wrapped": <48 B>}
    {"v": 1, "kind": "aws:kms", "wrap": "kms", "kms_key": <str>, "kms_version": <int>,
     "nonce": <12 B>, "wrapped": <48 B>}

``wrapped`` is ``AESGCM(KEK).encrypt(nonce, DEK, aad)`` where
``aad = b"objfs-dek\\0" + domain_id + kind``: a record cannot be replayed for
another domain or kind. The KEK is, by ``wrap``:
- ``master``: HKDF(master key, info ``b"objfs master kek"``). ``kcv`` is a
  short check value of the master key, so a wrong key reads as
  ``AccessDenied`` and a damaged record as ``IntegrityError``.
- ``customer``: HKDF(customer key, salt, info ``b"objfs ssec kek"``);
  ``verifier`` = HMAC-SHA256(customer key, salt) refuses a wrong key.
- ``kms``: the material of KMS key ``kms_key`` at version ``kms_version``,
  supplied by the (future) KMS module through ``open_kms_domain``'s callback.

Invariants: every AES-GCM nonce is 96 random bits (one wrap per DEK, one DEK
per domain, so a wrap key sees few messages); secrets are compared with
``hmac.compare_digest``; ``Domain`` reprs never show key bytes.
"""

from __future__ import annotations

import hmac
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import msgpack
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from objfs.errors import AccessDenied, IntegrityError, InvalidArgument, InvalidRequest

log = logging.getLogger(__name__)

_T = TypeVar("_T")

KEY_LEN = 32
NONCE_LEN = 12
DOMAIN_ID_LEN = 16
SALT_LEN = 16
RECORD_VERSION = 1
MASTER_KEY_NAME = "master.key"
CREDENTIAL_NAME = "objfs-master-key"

KIND_NONE = "none"
KIND_SSE_S3 = "AES256"
KIND_KMS = "aws:kms"
KIND_SSE_C = "SSE-C"
KINDS = (KIND_NONE, KIND_SSE_S3, KIND_KMS, KIND_SSE_C)

_KEY_HELP = (
    "restore the store's keys/master.key, or pass the key with --master-key-file "
    "or the systemd credential 'objfs-master-key'"
)


@dataclass(slots=True, frozen=True)
class Domain:
    """An encryption domain: chunks dedup only inside one."""

    domain_id: bytes
    kind: str
    id_key: bytes = field(repr=False)
    enc_key: bytes | None = field(repr=False)


def hkdf(key: bytes, info: bytes, salt: bytes | None = None, length: int = KEY_LEN) -> bytes:
    """HKDF-SHA256 of ``key``: one derived key per purpose (``info``)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def hmac_sha256(key: bytes, data: bytes | memoryview) -> bytes:
    # The stdlib one-shot runs OpenSSL's HMAC without an intermediate copy:
    # ~950 MB/s here against ~575 MB/s through cryptography's HMAC object,
    # and chunk ids are on every write's path. Same primitive, same bytes.
    return hmac.digest(key, data, "sha256")


def _domain_from_dek(domain_id: bytes, kind: str, dek: bytes) -> Domain:
    return Domain(
        domain_id=domain_id,
        kind=kind,
        id_key=hkdf(dek, b"objfs id"),
        enc_key=hkdf(dek, b"objfs enc"),
    )


def _wrap_aad(domain_id: bytes, kind: str) -> bytes:
    return b"objfs-dek\0" + domain_id + kind.encode()


def _wrap(kek: bytes, domain_id: bytes, kind: str, dek: bytes) -> dict[str, object]:
    nonce = os.urandom(NONCE_LEN)
    wrapped = AESGCM(kek).encrypt(nonce, dek, _wrap_aad(domain_id, kind))
    return {"nonce": nonce, "wrapped": wrapped}


def _unwrap(kek: bytes, domain_id: bytes, rec: dict[str, object], what: str) -> bytes:
    nonce, wrapped = (
        _field(rec, "nonce", bytes, domain_id),
        _field(rec, "wrapped", bytes, domain_id),
    )
    try:
        dek = AESGCM(kek).decrypt(nonce, wrapped, _wrap_aad(domain_id, str(rec["kind"])))
    except (InvalidTag, ValueError) as exc:
        raise IntegrityError(
            f"encryption record of domain {domain_id.hex()} is damaged: {what} does not unwrap it"
        ) from exc
    if len(dek) != KEY_LEN:
        raise IntegrityError(f"encryption record of domain {domain_id.hex()} holds a bad key")
    return dek


def _field(rec: dict[str, object], name: str, typ: type[_T], domain_id: bytes) -> _T:
    value = rec.get(name)
    if not isinstance(value, typ):
        raise IntegrityError(
            f"encryption record of domain {domain_id.hex()} is damaged: field {name!r} is bad"
        )
    return value


def parse_record(domain_id: bytes, record: bytes) -> dict[str, object]:
    """Decode and sanity-check a domain record (any kind)."""
    try:
        rec = msgpack.unpackb(record, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise IntegrityError(
            f"encryption record of domain {domain_id.hex()} is damaged (not msgpack)"
        ) from exc
    if not isinstance(rec, dict):
        raise IntegrityError(f"encryption record of domain {domain_id.hex()} is damaged")
    version = rec.get("v")
    if version != RECORD_VERSION:
        raise IntegrityError(
            f"encryption record of domain {domain_id.hex()} has unsupported version {version!r}"
        )
    if rec.get("kind") not in KINDS:
        raise IntegrityError(
            f"encryption record of domain {domain_id.hex()} has unknown kind {rec.get('kind')!r}"
        )
    return rec


def record_kind(domain_id: bytes, record: bytes) -> str:
    """The kind of a stored domain record, so the store knows which opener to call."""
    return str(parse_record(domain_id, record)["kind"])


def parse_key_file(data: bytes, path: Path) -> bytes:
    """A key file holds 32 raw bytes, or 64 hex chars with an optional newline."""
    if len(data) == KEY_LEN:
        return data
    text = data.rstrip(b"\r\n")
    if len(text) == 2 * KEY_LEN:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    raise InvalidArgument(
        f"master key file {path} must hold 32 raw bytes or 64 hex characters "
        f"(it holds {len(data)} bytes); {_KEY_HELP}"
    )


def _check_customer_key(customer_key: bytes | None) -> bytes:
    if customer_key is None:
        raise InvalidRequest("object is SSE-C encrypted: supply its key")
    if not isinstance(customer_key, bytes | bytearray) or len(customer_key) != KEY_LEN:
        raise InvalidArgument("an SSE-C key must be exactly 32 bytes (256 bits)")
    return bytes(customer_key)


class Keyring:
    """The master key and the operations that create and open domains.

    Immutable after construction and safe to share between threads.
    """

    __slots__ = ("_kek", "_kcv", "_lookup_key", "_secrets_key", "source")

    def __init__(self, master_key: bytes, source: str = "<memory>") -> None:
        if len(master_key) != KEY_LEN:
            raise InvalidArgument("the master key must be exactly 32 bytes")
        # Separate keys per purpose, so no key is ever used by two algorithms.
        self._kek = hkdf(master_key, b"objfs master kek")
        self._kcv = hkdf(master_key, b"objfs master check", length=8)
        self._lookup_key = hkdf(master_key, b"objfs ssec lookup")
        self._secrets_key = hkdf(master_key, b"objfs sealed secrets")
        self.source = source

    def __repr__(self) -> str:
        return f"Keyring(source={self.source!r})"

    # ---- master key file -------------------------------------------------------------

    @classmethod
    def create(cls, keys_dir: Path) -> Keyring:
        """Write a new random master key to ``keys_dir/master.key`` (0600, dir 0700)."""
        keys_dir = Path(keys_dir)
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(keys_dir, 0o700)
        path = keys_dir / MASTER_KEY_NAME
        key = os.urandom(KEY_LEN)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise InvalidRequest(
                f"a master key already exists at {path}; refusing to overwrite it "
                "(it is the only way to read this store's encrypted data)"
            ) from None
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, key.hex().encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        dir_fd = os.open(keys_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        log.info("created master key %s", path)
        return cls(key, source=str(path))

    @classmethod
    def load(cls, keys_dir: Path, master_key_file: Path | None = None) -> Keyring:
        """Load the master key: explicit file, else systemd credential, else keys_dir."""
        path = cls.key_path(keys_dir, master_key_file)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise AccessDenied(f"no master key at {path}: {_KEY_HELP}") from None
        except IsADirectoryError:
            raise InvalidArgument(f"master key file {path} is a directory") from None
        except PermissionError:
            raise AccessDenied(
                f"cannot read master key {path}: permission denied "
                "(run as the store's owner, or pass a readable --master-key-file)"
            ) from None
        except OSError as exc:
            raise AccessDenied(f"cannot read master key {path}: {exc.strerror}") from None
        key = parse_key_file(data, path)
        try:
            mode = path.stat().st_mode
        except OSError:
            mode = 0
        if mode & (stat.S_IRWXG | stat.S_IRWXO) and stat.S_ISREG(mode):
            log.warning("master key %s is readable by other users (chmod 600 it)", path)
        return cls(key, source=str(path))

    @staticmethod
    def key_path(keys_dir: Path, master_key_file: Path | None = None) -> Path:
        """Where ``load`` looks for the master key, in its documented order."""
        if master_key_file is not None:
            return Path(master_key_file)
        cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
        if cred_dir:
            cred = Path(cred_dir) / CREDENTIAL_NAME
            if cred.exists():
                return cred
        return Path(keys_dir) / MASTER_KEY_NAME

    def fingerprint(self) -> bytes:
        """8 bytes identifying the master key (not secret); lets a store check it early."""
        return self._kcv

    # ---- domains wrapped by the master key -------------------------------------------

    def new_domain(self, kind: str) -> tuple[Domain, bytes]:
        """A fresh domain of ``kind`` "none" or "AES256" and its record."""
        domain_id = os.urandom(DOMAIN_ID_LEN)
        if kind == KIND_NONE:
            # Data is plaintext in this domain; the id key only keeps ids from
            # being a bare hash of content that could be matched across domains.
            id_key = os.urandom(KEY_LEN)
            rec: dict[str, object] = {"v": RECORD_VERSION, "kind": kind, "id_key": id_key}
            return Domain(domain_id, kind, id_key, None), msgpack.packb(rec)
        if kind == KIND_SSE_S3:
            dek = os.urandom(KEY_LEN)
            rec = {"v": RECORD_VERSION, "kind": kind, "wrap": "master", "kcv": self._kcv}
            rec.update(_wrap(self._kek, domain_id, kind, dek))
            return _domain_from_dek(domain_id, kind, dek), msgpack.packb(rec)
        if kind == KIND_SSE_C:
            raise InvalidArgument("SSE-C domains are made from the customer key (new_ssec_domain)")
        if kind == KIND_KMS:
            raise InvalidArgument("aws:kms domains are made with a KMS key (new_kms_domain)")
        raise InvalidArgument(f"unknown encryption kind {kind!r} (use none, AES256 or aws:kms)")

    def open_domain(self, domain_id: bytes, record: bytes) -> Domain:
        """Reopen a "none" or "AES256" domain from its record."""
        rec = parse_record(domain_id, record)
        kind = rec["kind"]
        if kind == KIND_NONE:
            id_key = _field(rec, "id_key", bytes, domain_id)
            return Domain(domain_id, KIND_NONE, id_key, None)
        if kind == KIND_SSE_C:
            raise InvalidRequest("object is SSE-C encrypted: supply its key")
        if kind == KIND_KMS:
            raise InvalidArgument("aws:kms domains are opened through the KMS (open_kms_domain)")
        kcv = _field(rec, "kcv", bytes, domain_id)
        if not hmac.compare_digest(kcv, self._kcv):
            raise AccessDenied("master key does not match this store")
        dek = _unwrap(self._kek, domain_id, rec, "the master key")
        return _domain_from_dek(domain_id, KIND_SSE_S3, dek)

    # ---- SSE-C -----------------------------------------------------------------------

    def new_ssec_domain(self, customer_key: bytes) -> tuple[Domain, bytes]:
        """A fresh domain whose DEK is wrapped by the customer's key (never stored)."""
        customer_key = _check_customer_key(customer_key)
        domain_id = os.urandom(DOMAIN_ID_LEN)
        salt = os.urandom(SALT_LEN)
        dek = os.urandom(KEY_LEN)
        kek = hkdf(customer_key, b"objfs ssec kek", salt=salt)
        rec: dict[str, object] = {
            "v": RECORD_VERSION,
            "kind": KIND_SSE_C,
            "wrap": "customer",
            "salt": salt,
            "verifier": hmac_sha256(customer_key, salt),
        }
        rec.update(_wrap(kek, domain_id, KIND_SSE_C, dek))
        return _domain_from_dek(domain_id, KIND_SSE_C, dek), msgpack.packb(rec)

    def open_ssec_domain(
        self, domain_id: bytes, record: bytes, customer_key: bytes | None
    ) -> Domain:
        """Reopen an SSE-C domain; a missing key is InvalidRequest, a wrong one AccessDenied."""
        rec = parse_record(domain_id, record)
        if rec["kind"] != KIND_SSE_C:
            raise InvalidRequest("object is not SSE-C encrypted: do not send an SSE-C key")
        customer_key = _check_customer_key(customer_key)
        salt = _field(rec, "salt", bytes, domain_id)
        verifier = _field(rec, "verifier", bytes, domain_id)
        if not hmac.compare_digest(hmac_sha256(customer_key, salt), verifier):
            raise AccessDenied("the SSE-C key does not match the key the object was written with")
        kek = hkdf(customer_key, b"objfs ssec kek", salt=salt)
        dek = _unwrap(kek, domain_id, rec, "the SSE-C key")
        return _domain_from_dek(domain_id, KIND_SSE_C, dek)

    def ssec_lookup_tag(self, customer_key: bytes) -> bytes:
        """A store-keyed tag of a customer key: finds its domain without storing the key."""
        return hmac_sha256(self._lookup_key, _check_customer_key(customer_key))

    # ---- small secrets kept in the database (access key secrets, TOTP seeds) ---------

    def seal_secret(self, purpose: str, name: str, secret: bytes) -> bytes:
        """``secret`` sealed under the master key, bound to what it is for and whose it is."""
        nonce = os.urandom(12)
        aad = b"objfs secret\0" + purpose.encode() + b"\0" + name.encode()
        return nonce + AESGCM(self._secrets_key).encrypt(nonce, secret, aad)

    def open_secret(self, purpose: str, name: str, sealed: bytes) -> bytes:
        aad = b"objfs secret\0" + purpose.encode() + b"\0" + name.encode()
        try:
            return AESGCM(self._secrets_key).decrypt(sealed[:12], sealed[12:], aad)
        except (InvalidTag, ValueError):
            raise IntegrityError(f"the sealed {purpose} of {name!r} does not open") from None

    # ---- SSE-KMS seam (the KMS itself lives elsewhere) -------------------------------

    def new_kms_domain(self, kms_key: str, kms_version: int, kek: bytes) -> tuple[Domain, bytes]:
        """A fresh domain whose DEK is wrapped by KMS key material ``kek``."""
        if len(kek) != KEY_LEN:
            raise InvalidArgument("KMS key material must be 32 bytes")
        domain_id = os.urandom(DOMAIN_ID_LEN)
        dek = os.urandom(KEY_LEN)
        rec: dict[str, object] = {
            "v": RECORD_VERSION,
            "kind": KIND_KMS,
            "wrap": "kms",
            "kms_key": kms_key,
            "kms_version": kms_version,
        }
        rec.update(_wrap(kek, domain_id, KIND_KMS, dek))
        return _domain_from_dek(domain_id, KIND_KMS, dek), msgpack.packb(rec)

    def open_kms_domain(
        self, domain_id: bytes, record: bytes, kek_for: Callable[[str, int], bytes]
    ) -> Domain:
        """Reopen a KMS domain; ``kek_for(key, version)`` returns material (and audits)."""
        rec = parse_record(domain_id, record)
        if rec["kind"] != KIND_KMS:
            raise InvalidRequest(f"domain {domain_id.hex()} is not an aws:kms domain")
        key_id = _field(rec, "kms_key", str, domain_id)
        version = _field(rec, "kms_version", int, domain_id)
        dek = _unwrap(kek_for(key_id, version), domain_id, rec, f"KMS key {key_id}")
        return _domain_from_dek(domain_id, KIND_KMS, dek)


def kms_ref(domain_id: bytes, record: bytes) -> tuple[str, int]:
    """(KMS key id, material version) an aws:kms record was wrapped with."""
    rec = parse_record(domain_id, record)
    if rec["kind"] != KIND_KMS:
        raise InvalidRequest(f"domain {domain_id.hex()} is not an aws:kms domain")
    return str(rec["kms_key"]), int(rec["kms_version"])  # type: ignore[call-overload]
