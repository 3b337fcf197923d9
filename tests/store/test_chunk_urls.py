"""A store's chunk location, named by a URL (objfs/chunks/urls.py, Store.init/open).

What a user sees: the accepted URL forms parse to the settings the backend
gets, every malformed one is refused with a message naming what is wrong
(never echoing a secret), the store records the URL and opens its chunks
there again, and a store made before chunks URLs opens as ``file:``.
The ``s3://`` backend itself is tested on SeaweedFS in tests/chunks/.
"""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest

from objfs.chunks.backend import LocalBackend
from objfs.chunks.urls import (
    ChunksURL,
    chunk_credentials,
    open_backend,
    parse_cache_size,
    parse_chunks_url,
)
from objfs.errors import InvalidArgument, InvalidRequest, StoreFormatError
from objfs.store import OWNER, Store
from tests.meta.sql import meta_sql

GOOD = [
    ("file:", ChunksURL("file"), "file:"),
    ("FILE:", ChunksURL("file"), "file:"),
    ("file:/srv/chunks/", ChunksURL("file", path=Path("/srv/chunks")), "file:/srv/chunks"),
    ("file:///srv/a/../chunks", ChunksURL("file", path=Path("/srv/chunks")), "file:/srv/chunks"),
    ("file://localhost/srv/c", ChunksURL("file", path=Path("/srv/c")), "file:/srv/c"),
    ("s3://data", ChunksURL("s3", bucket="data"), "s3://data/?style=path"),
    ("s3://data/", ChunksURL("s3", bucket="data"), "s3://data/?style=path"),
    (
        "s3://my-data.1/store/one?endpoint=http://127.0.0.1:8333&region=us-east-1",
        ChunksURL(
            "s3",
            bucket="my-data.1",
            prefix="store/one/",
            endpoint="http://127.0.0.1:8333",
            region="us-east-1",
        ),
        "s3://my-data.1/store/one/?endpoint=http://127.0.0.1:8333&region=us-east-1&style=path",
    ),
    (
        "s3://data/p?style=virtual&endpoint=https://s3.example.com/",
        ChunksURL(
            "s3", bucket="data", prefix="p/", endpoint="https://s3.example.com", path_style=False
        ),
        "s3://data/p/?endpoint=https://s3.example.com&style=virtual",
    ),
    (
        "s3://data/a%3Fb%20c/",
        ChunksURL("s3", bucket="data", prefix="a?b c/"),
        "s3://data/a%3Fb%20c/?style=path",
    ),
]


@pytest.mark.parametrize(("url", "parsed", "canonical"), GOOD, ids=[g[0] for g in GOOD])
def test_good_urls_parse_and_their_canonical_form_parses_back(
    url: str, parsed: ChunksURL, canonical: str
) -> None:
    assert parse_chunks_url(url) == parsed
    assert str(parsed) == canonical
    assert parse_chunks_url(canonical) == parsed


BAD = [
    ("", "it is empty"),
    ("chunks", "has no scheme"),
    ("ftp://host/x", "unknown scheme 'ftp:'"),
    ("gs://bucket/x", "unknown scheme 'gs:'"),
    ("file:relative/dir", "must be an absolute path"),
    ("file:/", "the root directory cannot hold chunks"),
    ("file://server/x", "names host 'server'"),
    ("file:/x?y=1", "takes no query"),
    ("file:/my chunks", "spaces or control characters"),
    ("s3:bucket/x", "write s3://BUCKET/PREFIX"),
    ("s3://", "names no bucket"),
    ("s3:///prefix", "names no bucket"),
    ("s3://host:9000/bucket", "a host:port? give the server as ?endpoint=http://HOST:PORT"),
    ("s3://Data/x", "'Data' is not a bucket name"),
    ("s3://ab/x", "'ab' is not a bucket name"),
    ("s3://-ab/x", "'-ab' is not a bucket name"),
    ("s3://a..b/x", "'a..b' is not a bucket name"),
    ("s3://data/a//b", "empty, '.' or '..' segment"),
    ("s3://data/a/../b", "empty, '.' or '..' segment"),
    ("s3://data/x#top", "takes no fragment"),
    ("s3://data/x?endpoint", "the query is not NAME=VALUE"),
    ("s3://data/x?secret_key=abc", "unknown parameter 'secret_key'"),
    ("s3://data/x?region=a&region=b", "parameter 'region' given twice"),
    ("s3://data/x?region=", "parameter 'region' is empty"),
    ("s3://data/x?region=EU_West", "is not a region name"),
    ("s3://data/x?style=dns", "style is path or virtual"),
    ("s3://data/x?endpoint=127.0.0.1:8333", "write endpoint=http://HOST:PORT"),
    ("s3://data/x?endpoint=ftp://h:1", "write endpoint=http://HOST:PORT"),
    ("s3://data/x?endpoint=http://h:1/base", "only scheme, host and port"),
    ("s3://data/x?endpoint=http://h:99999", "has a bad port"),
]


@pytest.mark.parametrize(("url", "message"), BAD, ids=[b[0] or "empty" for b in BAD])
def test_bad_urls_say_what_is_wrong_and_the_accepted_forms(url: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_chunks_url(url)
    text = str(err.value)
    assert message in text
    assert text.startswith("bad chunks URL: ")
    assert "accepted forms: file: (the store's chunks/ directory), file:/ABSOLUTE/PATH" in text


@pytest.mark.parametrize(
    "url",
    [
        "s3://AKIAEXAMPLE:hunter2@data/x",
        "s3://data/x?endpoint=http://AKIAEXAMPLE:hunter2@127.0.0.1:8333",
        "s3://data/x?style=bad&endpoint=http://AKIAEXAMPLE:hunter2@h:1",
        "s3://data/x?endpoint=http%3A%2F%2FAKIAEXAMPLE:hunter2%40h:1",
        "s3://data/x?style=bad&endpoint=http%3A%2F%2FAKIAEXAMPLE:hunter2%40h:1",
    ],
)
def test_credentials_in_a_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_chunks_url(url)
    text = str(err.value)
    assert "credentials" in text and "AWS_ACCESS_KEY_ID" in text
    assert "hunter2" not in text and "AKIAEXAMPLE" not in text


def test_cache_sizes() -> None:
    assert parse_cache_size("1G") == 1 << 30
    assert parse_cache_size("512MiB") == 512 << 20
    assert parse_cache_size("0") == 0
    with pytest.raises(InvalidArgument, match="OBJFS_CHUNK_CACHE='lots' is not a size"):
        parse_cache_size("lots")


# -- the store ---------------------------------------------------------------


def _read(store: Store, bucket: str, key: str) -> bytes:
    with store.get_object(OWNER, bucket, key) as reader:
        return reader.read()


def _meta(store_dir: Path, name: str) -> object:
    db = meta_sql(store_dir)
    try:
        row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    finally:
        db.close()
    return None if row is None else msgpack.unpackb(row[0]) if db.postgres else row[0]


def test_a_default_store_records_file_and_keeps_chunks_in_its_directory(
    store_path: Path,
) -> None:
    assert _meta(store_path, "chunks_url") == "file:"
    with Store.open(store_path) as store:
        assert store.chunks_url == "file:"
        assert isinstance(store.chunks.backend, LocalBackend)
        assert store.chunks.backend.root == store_path / "chunks"


def test_a_store_without_the_key_opens_as_file(store_path: Path) -> None:
    """A store made before chunks URLs has no ``chunks_url`` row: its chunks are in chunks/."""
    with Store.open(store_path) as store:
        store.create_bucket(OWNER, "old")
        store.put_object(OWNER, "old", "k", b"x" * 200_000)
    db = meta_sql(store_path)
    with db:
        db.execute("DELETE FROM meta WHERE name = 'chunks_url'")
    db.close()
    with Store.open(store_path) as store:
        assert store.chunks_url == "file:"
        assert _read(store, "old", "k") == b"x" * 200_000


def test_a_chunk_directory_elsewhere_round_trips(tmp_path: Path) -> None:
    chunks = tmp_path / "elsewhere" / "chunks"
    with Store.init(tmp_path / "s", chunks_url=f"file://{chunks}/") as store:
        assert store.chunks_url == f"file:{chunks}"
        store.create_bucket(OWNER, "data")
        store.put_object(OWNER, "data", "k", b"y" * 300_000)
    assert _meta(tmp_path / "s", "chunks_url") == f"file:{chunks}"
    # No chunks/ in the store: an objfs from before chunks URLs refuses it.
    assert not (tmp_path / "s" / "chunks").exists()
    assert any(p.is_file() for p in chunks.rglob("*"))
    with Store.open(tmp_path / "s") as store:
        assert store.chunks_url == f"file:{chunks}"
        assert _read(store, "data", "k") == b"y" * 300_000
        assert store.fsck(OWNER).ok
    chunks.rename(tmp_path / "moved")
    with pytest.raises(StoreFormatError, match=f"the chunk directory {chunks} .* is missing"):
        Store.open(tmp_path / "s")


def test_two_stores_never_share_a_chunk_directory(tmp_path: Path) -> None:
    chunks = tmp_path / "chunks"
    Store.init(tmp_path / "a", chunks_url=f"file:{chunks}").close()
    with pytest.raises(InvalidRequest, match="is not empty: give each store an empty"):
        Store.init(tmp_path / "b", chunks_url=f"file:{chunks}")
    assert not (tmp_path / "b").exists()  # nothing half-made


def test_a_bad_url_makes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="unknown scheme"):
        Store.init(tmp_path / "s", chunks_url="nfs://server/x")
    assert not (tmp_path / "s").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgument, match="names no bucket"):
        Store.init(tmp_path / "empty", chunks_url="s3:///x")
    assert list((tmp_path / "empty").iterdir()) == []


def test_open_backend_file_forms(tmp_path: Path) -> None:
    default = open_backend("file:", tmp_path)
    assert isinstance(default, LocalBackend) and default.root == tmp_path / "chunks"
    other = open_backend(f"file:{tmp_path}/x", tmp_path)
    assert isinstance(other, LocalBackend) and other.root == tmp_path / "x"


# -- the chunk store's credentials ------------------------------------------------------


def test_credentials_come_from_objfs_names_first(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n")
    env = {
        "OBJFS_CHUNKS_ACCESS_KEY_ID": "mine",
        "OBJFS_CHUNKS_SECRET_ACCESS_KEY": "secret",
        "AWS_SHARED_CREDENTIALS_FILE": str(creds),
    }
    assert chunk_credentials(env) == ("mine", "secret")
    del env["OBJFS_CHUNKS_ACCESS_KEY_ID"], env["OBJFS_CHUNKS_SECRET_ACCESS_KEY"]
    assert chunk_credentials(env) == ("AK", "SK")  # the default profile


def test_credentials_of_a_named_profile(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text(
        "[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n"
        "[seaweed]\naws_access_key_id = WK\naws_secret_access_key = WS\n"
    )
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_PROFILE": "seaweed"}
    assert chunk_credentials(env) == ("WK", "WS")


def test_no_credentials_leave_the_client_librarys_own_sources(tmp_path: Path) -> None:
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_ACCESS_KEY_ID": "x"}
    assert chunk_credentials(env) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OBJFS_CHUNKS_ACCESS_KEY_ID": "k"}, "set both OBJFS_CHUNKS_ACCESS_KEY_ID"),
        ({"OBJFS_CHUNKS_SECRET_ACCESS_KEY": "s"}, "set both OBJFS_CHUNKS_ACCESS_KEY_ID"),
        ({"AWS_PROFILE": "nope"}, "no credentials file"),
    ],
)
def test_half_given_credentials_are_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), **env}
    with pytest.raises(InvalidArgument, match=message):
        chunk_credentials(env)


def test_a_profile_the_file_lacks_or_without_a_secret_is_refused(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text("[half]\naws_access_key_id = K\n")
    base = {"AWS_SHARED_CREDENTIALS_FILE": str(creds)}
    with pytest.raises(InvalidArgument, match=r"has no profile \[other\]"):
        chunk_credentials({**base, "AWS_PROFILE": "other"})
    with pytest.raises(InvalidArgument, match="needs aws_access_key_id and aws_secret"):
        chunk_credentials({**base, "AWS_PROFILE": "half"})
