"""The key ring: master key files, domains, SSE-C and the KMS seam (real files, real crypto)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import msgpack
import pytest
from needs_root import require_root

from objfs.crypto.keyring import Domain, Keyring, kms_ref, record_kind
from objfs.errors import AccessDenied, IntegrityError, InvalidArgument, InvalidRequest


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def keyring(keys_dir: Path) -> Keyring:
    return Keyring.create(keys_dir)


def one_line(err: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(err.value)
    assert text and "\n" not in text
    return text


# ---- master key file -----------------------------------------------------------------


def test_create_writes_private_key_file(keys_dir: Path) -> None:
    Keyring.create(keys_dir)
    key_file = keys_dir / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    text = key_file.read_bytes()
    assert len(text) == 65 and text.endswith(b"\n")
    assert len(bytes.fromhex(text.decode().strip())) == 32


def test_create_refuses_to_overwrite(keys_dir: Path) -> None:
    Keyring.create(keys_dir)
    before = (keys_dir / "master.key").read_bytes()
    with pytest.raises(InvalidRequest) as err:
        Keyring.create(keys_dir)
    assert "refusing to overwrite" in one_line(err)
    assert (keys_dir / "master.key").read_bytes() == before


def test_two_stores_get_different_keys(tmp_path: Path) -> None:
    a = Keyring.create(tmp_path / "a")
    b = Keyring.create(tmp_path / "b")
    assert a.fingerprint() != b.fingerprint()


def test_load_reopens_domains_made_before(keyring: Keyring, keys_dir: Path) -> None:
    domain, record = keyring.new_domain("AES256")
    again = Keyring.load(keys_dir).open_domain(domain.domain_id, record)
    assert again == domain
    assert again.enc_key is not None and len(again.enc_key) == 32


@pytest.mark.parametrize("form", ["raw", "hex", "hex-newline", "hex-crlf", "HEX"])
def test_key_file_formats(tmp_path: Path, form: str) -> None:
    key = os.urandom(32)
    data = {
        "raw": key,
        "hex": key.hex().encode(),
        "hex-newline": key.hex().encode() + b"\n",
        "hex-crlf": key.hex().encode() + b"\r\n",
        "HEX": key.hex().upper().encode(),
    }[form]
    path = tmp_path / "k"
    path.write_bytes(data)
    assert Keyring.load(tmp_path, path).fingerprint() == Keyring(key).fingerprint()


@pytest.mark.parametrize("data", [b"", b"short", os.urandom(31), os.urandom(33), b"zz" * 32])
def test_bad_key_file_is_one_clear_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "k"
    path.write_bytes(data)
    with pytest.raises(InvalidArgument) as err:
        Keyring.load(tmp_path, path)
    assert "32 raw bytes or 64 hex characters" in one_line(err)


def test_missing_key_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(AccessDenied) as err:
        Keyring.load(tmp_path / "keys")
    text = one_line(err)
    assert "no master key" in text and "--master-key-file" in text


def test_key_file_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        Keyring.load(tmp_path, tmp_path)


def test_unreadable_key_is_access_denied(keyring: Keyring, keys_dir: Path) -> None:
    # A child that drops to "nobody" cannot read the 0600 root-owned key.
    require_root("needs root to check as another user")
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        status = 1
        try:
            os.close(read_fd)
            os.setgid(65534)
            os.setuid(65534)
            try:
                Keyring.load(keys_dir)
                os.write(write_fd, b"LOADED")
            except AccessDenied as exc:
                os.write(write_fd, f"DENIED {exc}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        out = f.read().decode()
    os.waitpid(pid, 0)
    assert out.startswith("DENIED cannot read master key"), out


def test_load_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys_dir = tmp_path / "keys"
    from_dir = Keyring.create(keys_dir).fingerprint()
    cred_dir = tmp_path / "creds"
    cred_dir.mkdir()
    cred_key = os.urandom(32)
    explicit_key = os.urandom(32)
    (tmp_path / "explicit.key").write_bytes(explicit_key.hex().encode())

    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert Keyring.load(keys_dir).fingerprint() == from_dir

    # CREDENTIALS_DIRECTORY without our credential: fall back to keys_dir.
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(cred_dir))
    assert Keyring.load(keys_dir).fingerprint() == from_dir

    (cred_dir / "objfs-master-key").write_bytes(cred_key)
    assert Keyring.load(keys_dir).fingerprint() == Keyring(cred_key).fingerprint()

    explicit = Keyring.load(keys_dir, tmp_path / "explicit.key")
    assert explicit.fingerprint() == Keyring(explicit_key).fingerprint()


# ---- master-key domains --------------------------------------------------------------


def test_none_domain_holds_only_an_id_key(keyring: Keyring) -> None:
    domain, record = keyring.new_domain("none")
    assert domain.enc_key is None and len(domain.id_key) == 32
    assert len(domain.domain_id) == 16
    assert record_kind(domain.domain_id, record) == "none"
    assert keyring.open_domain(domain.domain_id, record) == domain


def test_sse_s3_record_holds_no_key_in_the_clear(keyring: Keyring) -> None:
    domain, record = keyring.new_domain("AES256")
    assert domain.enc_key is not None
    assert domain.id_key != domain.enc_key
    assert domain.id_key not in record and domain.enc_key not in record
    rec = msgpack.unpackb(record)
    assert rec["v"] == 1 and rec["kind"] == "AES256" and rec["wrap"] == "master"
    other, _ = keyring.new_domain("AES256")
    assert other.domain_id != domain.domain_id and other.enc_key != domain.enc_key


def test_domain_repr_hides_keys(keyring: Keyring) -> None:
    domain, _ = keyring.new_domain("AES256")
    assert domain.enc_key is not None
    text = repr(domain)
    assert domain.enc_key.hex() not in text and repr(domain.enc_key) not in text
    assert "id_key" not in text


def test_wrong_master_key_is_access_denied(tmp_path: Path) -> None:
    domain, record = Keyring.create(tmp_path / "a").new_domain("AES256")
    other = Keyring.create(tmp_path / "b")
    with pytest.raises(AccessDenied) as err:
        other.open_domain(domain.domain_id, record)
    assert one_line(err) == "master key does not match this store"


def test_damaged_record_is_integrity_error(keyring: Keyring) -> None:
    domain, record = keyring.new_domain("AES256")
    rec = msgpack.unpackb(record)
    rec["wrapped"] = bytes([rec["wrapped"][0] ^ 1]) + rec["wrapped"][1:]
    with pytest.raises(IntegrityError):
        keyring.open_domain(domain.domain_id, msgpack.packb(rec))
    for garbage in (b"", b"\xc1", msgpack.packb([1, 2]), msgpack.packb({"v": 2, "kind": "none"})):
        with pytest.raises(IntegrityError):
            keyring.open_domain(domain.domain_id, garbage)


def test_record_is_bound_to_its_domain_id(keyring: Keyring) -> None:
    domain, record = keyring.new_domain("AES256")
    with pytest.raises(IntegrityError):
        keyring.open_domain(os.urandom(16), record)
    assert keyring.open_domain(domain.domain_id, record) == domain


@pytest.mark.parametrize("kind", ["SSE-C", "aws:kms", "DES", ""])
def test_new_domain_rejects_other_kinds(keyring: Keyring, kind: str) -> None:
    with pytest.raises(InvalidArgument):
        keyring.new_domain(kind)


# ---- SSE-C ---------------------------------------------------------------------------


def test_ssec_round_trip_and_key_never_stored(keyring: Keyring, keys_dir: Path) -> None:
    customer = os.urandom(32)
    domain, record = keyring.new_ssec_domain(customer)
    assert customer not in record and customer.hex().encode() not in record
    assert record_kind(domain.domain_id, record) == "SSE-C"
    reopened = Keyring.load(keys_dir).open_ssec_domain(domain.domain_id, record, customer)
    assert reopened == domain and domain.kind == "SSE-C"


def test_ssec_wrong_or_missing_key(keyring: Keyring) -> None:
    customer = os.urandom(32)
    domain, record = keyring.new_ssec_domain(customer)
    with pytest.raises(AccessDenied) as err:
        keyring.open_ssec_domain(domain.domain_id, record, os.urandom(32))
    assert "does not match" in one_line(err)
    with pytest.raises(InvalidRequest) as err2:
        keyring.open_ssec_domain(domain.domain_id, record, None)
    assert one_line(err2) == "object is SSE-C encrypted: supply its key"
    with pytest.raises(InvalidRequest):
        keyring.open_domain(domain.domain_id, record)  # the store forgot to ask for the key
    with pytest.raises(InvalidArgument):
        keyring.open_ssec_domain(domain.domain_id, record, customer[:16])


def test_ssec_key_on_non_ssec_domain(keyring: Keyring) -> None:
    domain, record = keyring.new_domain("AES256")
    with pytest.raises(InvalidRequest):
        keyring.open_ssec_domain(domain.domain_id, record, os.urandom(32))


def test_ssec_lookup_tag(tmp_path: Path) -> None:
    a = Keyring.create(tmp_path / "a")
    b = Keyring.create(tmp_path / "b")
    k1, k2 = os.urandom(32), os.urandom(32)
    tag = a.ssec_lookup_tag(k1)
    assert len(tag) == 32 and tag != k1
    assert a.ssec_lookup_tag(k1) == tag
    assert a.ssec_lookup_tag(k2) != tag
    assert b.ssec_lookup_tag(k1) != tag  # keyed by the store: useless elsewhere
    with pytest.raises(InvalidArgument):
        a.ssec_lookup_tag(b"short")


# ---- the KMS seam --------------------------------------------------------------------


def test_kms_domain_round_trip(keyring: Keyring) -> None:
    material = {("k1", 1): os.urandom(32), ("k1", 2): os.urandom(32)}
    domain, record = keyring.new_kms_domain("k1", 2, material[("k1", 2)])
    assert kms_ref(domain.domain_id, record) == ("k1", 2)
    asked: list[tuple[str, int]] = []

    def kek_for(key: str, version: int) -> bytes:
        asked.append((key, version))
        return material[(key, version)]

    assert keyring.open_kms_domain(domain.domain_id, record, kek_for) == domain
    assert asked == [("k1", 2)]
    with pytest.raises(IntegrityError):
        keyring.open_kms_domain(domain.domain_id, record, lambda k, v: material[("k1", 1)])
    with pytest.raises(InvalidArgument):
        keyring.open_domain(domain.domain_id, record)


def test_domain_record_kind_binding(keyring: Keyring) -> None:
    # Relabelling an SSE-S3 record as another kind must not open.
    domain, record = keyring.new_domain("AES256")
    rec = msgpack.unpackb(record)
    rec["kind"] = "aws:kms"
    rec["kms_key"], rec["kms_version"] = "k", 1
    with pytest.raises(IntegrityError):
        keyring.open_kms_domain(domain.domain_id, msgpack.packb(rec), lambda k, v: os.urandom(32))
    assert isinstance(keyring.open_domain(domain.domain_id, record), Domain)
