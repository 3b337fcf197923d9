"""``Domains``: the store's encryption domains, opened and chosen for new data.

A domain (objfs/crypto/keyring.py) is the key material data is encrypted
under: the store's plain and SSE-S3 domains (made by ``init``), one per
SSE-C customer key, one per KMS data key. ``domain`` unwraps the domain of
stored data (SSE-C needs the caller's key; aws:kms asks the KMS, which
checks the key's state and audits the use); ``write_domain`` chooses the
domain of new data from a request's SSE headers and the bucket's default.

Built with the database and the keyring; the KMS (``store.kms``, built
after the seam, which needs this object through the access log) is handed
over once by ``use_kms``. ``cache``/``lock``: the unwrapped domains that
need no per-use check, shared with the KMS, which drops the domains of a
key whose material it destroys.

Invariant: an SSE-C or aws:kms domain is never served from the cache
(each use checks the customer key, or the KMS key's state).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from objfs.crypto.keyring import Domain, Keyring
from objfs.errors import InternalError, InvalidArgument, InvalidRequest, ObjfsError
from objfs.meta import queries as q
from objfs.meta.db import Database
from objfs.store.types import BucketInfo, RequestContext, SSERequest

if TYPE_CHECKING:
    from objfs.store.kms import KMS


def ssec_not_applicable() -> ObjfsError:
    """S3's answer to a customer (SSE-C) key sent for data not encrypted with one."""
    return InvalidRequest(
        "The encryption parameters are not applicable to this object: it is not encrypted "
        "with a customer-provided key.",
        ssec_not_applicable=True,
    )


class Domains:
    """Opens and chooses encryption domains; see the module docstring."""

    def __init__(self, *, db: Database, keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring
        self.cache: dict[bytes, Domain] = {}
        self.lock = threading.Lock()
        self._store_ids: dict[str, bytes] = {}  # store_domain_id
        self._kms_of: KMS | None = None

    def use_kms(self, kms: KMS) -> None:
        """The store's KMS, for aws:kms domains (given once, at construction)."""
        self._kms_of = kms

    def _kms(self) -> KMS:
        if self._kms_of is None:
            raise InternalError("the encryption domains were given no KMS")
        return self._kms_of

    def domain(
        self,
        domain_id: bytes,
        customer_key: bytes | None = None,
        ctx: RequestContext | None = None,
        bucket: str | None = None,
        key: str | None = None,
    ) -> Domain:
        """The domain of stored data, unwrapped (SSE-C needs the caller's key).

        A customer key given for data that is not SSE-C is refused, as S3
        refuses SSE-C headers on a read of such an object (``InvalidRequest``).

        aws:kms: the key's state is checked on every call and the use audited
        (objfs/store/kms.py); ``ctx``/``bucket``/``key`` name the use."""
        cached = self.cache.get(domain_id)
        if cached is not None and cached.kind not in ("SSE-C", "aws:kms"):
            if customer_key is not None:
                raise ssec_not_applicable()
            return cached
        with self.db.read() as cur:
            row = q.get_domain(cur, domain_id)
        if row is None:
            raise InternalError(f"unknown encryption domain {domain_id.hex()}")
        _, kind, record = row
        if customer_key is not None and kind != "SSE-C":
            raise ssec_not_applicable()
        if kind == "SSE-C":
            return self.keyring.open_ssec_domain(domain_id, record, customer_key)
        if kind == "aws:kms":
            return self._kms().data_domain(domain_id, record, ctx, bucket, key)
        domain = self.keyring.open_domain(domain_id, record)
        with self.lock:
            self.cache[domain_id] = domain
        return domain

    def write_domain(
        self,
        bucket: BucketInfo,
        sse: SSERequest | None,
        ctx: RequestContext | None = None,
        key: str | None = None,
    ) -> tuple[Domain, str, str | None]:
        """(domain, sse label, kms key id) for new data under this request."""
        mode = sse.mode if sse and sse.mode else None
        if sse and sse.customer_key is not None:
            mode = "SSE-C"
        mode = mode or bucket.encryption
        if mode == "none":
            return self.domain(self.store_domain_id("plain_domain")), "none", None
        if mode == "AES256":
            return self.domain(self.store_domain_id("sse_s3_domain")), "AES256", None
        if sse and sse.customer_algorithm not in (None, "AES256"):
            raise InvalidArgument("the SSE-C algorithm must be AES256")
        if mode == "SSE-C":
            customer_key = sse.customer_key if sse else None
            if customer_key is None or len(customer_key) != 32:
                raise InvalidArgument("SSE-C needs a 256-bit (32-byte) customer key")
            return self._ssec_domain(customer_key), "SSE-C", None
        if mode == "aws:kms":
            return self._kms().write_domain(bucket, sse, ctx, key)
        raise InvalidArgument(f"unknown server-side encryption {mode!r}")

    def store_domain_id(self, name: str) -> bytes:
        """The id of a domain ``init`` made (``plain_domain``, ``sse_s3_domain``):
        fixed for the store's life, so read once."""
        found = self._store_ids.get(name)
        if found is None:
            found = self._store_ids[name] = self.db.get_meta(name)  # type: ignore[assignment]
        return found  # type: ignore[return-value]

    def _ssec_domain(self, key: bytes) -> Domain:
        tag = self.keyring.ssec_lookup_tag(key)
        with self.db.read() as cur:
            row = q.domain_by_lookup(cur, tag)
        if row is not None:
            return self.keyring.open_ssec_domain(row[0], row[2], key)
        domain, record = self.keyring.new_ssec_domain(key)
        with self.db.write(durable=True) as cur:
            row = q.domain_by_lookup(cur, tag)
            if row is not None:  # another writer created it meanwhile
                return self.keyring.open_ssec_domain(row[0], row[2], key)
            q.insert_domain(cur, domain.domain_id, "SSE-C", record, tag)
        return domain
