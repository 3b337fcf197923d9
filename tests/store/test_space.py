"""The free-space floor's setting (``OBJFS_MIN_FREE``) and default; the full
disk itself is tested on a real small filesystem in tests/fs/test_full_disk.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from objfs.errors import StoreFull
from objfs.store import OWNER, Store
from objfs.store.space import MAX_FLOOR, MIN_FLOOR, default_floor, parse_floor

GiB = 1 << 30


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("0", 0),
        ("4096", 4096),
        ("512K", 512 << 10),
        ("64M", 64 << 20),
        ("64MiB", 64 << 20),
        ("1.5G", 3 << 29),
        ("5%", 5 * GiB),
        (" 2g ", 2 * GiB),
    ],
)
def test_the_floor_is_a_size_or_a_share_of_the_filesystem(text: str, want: int) -> None:
    assert parse_floor(text, 100 * GiB) == want


@pytest.mark.parametrize("text", ["", "lots", "-1M", "101%", "5 %%", "1X"])
def test_a_bad_floor_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_floor(text, 100 * GiB)


def test_the_default_floor_is_one_percent_within_bounds() -> None:
    assert default_floor(1 * GiB) == MIN_FLOOR
    assert default_floor(50 * GiB) == GiB // 2
    assert default_floor(10_000 * GiB) == MAX_FLOOR


def test_new_data_under_the_floor_is_refused_and_deletes_are_not(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(store_path) as store:
        store.create_bucket(OWNER, "space")
        store.put_object(OWNER, "space", "kept", b"x" * 100)
    monkeypatch.setenv("OBJFS_MIN_FREE", "100%")  # no disk has that much free
    with Store.open(store_path) as store:
        for attempt in (
            lambda: store.put_object(OWNER, "space", "new", b""),
            lambda: store.copy_object(OWNER, "space", "kept", "space", "copy"),
            lambda: store.create_multipart_upload(OWNER, "space", "mp"),
        ):
            with pytest.raises(StoreFull) as err:
                attempt()
            assert "OBJFS_MIN_FREE" in str(err.value) and "\n" not in str(err.value)
        store.delete_object(OWNER, "space", "kept")
        assert store.gc(OWNER, grace_seconds=0).chunks_removed >= 0
        assert store.fsck(OWNER, repair=True).ok
    monkeypatch.setenv("OBJFS_MIN_FREE", "lots")  # ignored with a warning: the default
    with Store.open(store_path) as store:
        store.put_object(OWNER, "space", "new", b"y")


def test_the_reserve_is_made_released_and_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OBJFS_RESERVE", "128K")
    reserve = tmp_path / "s" / "reserve"
    with Store.init(tmp_path / "s") as store:
        assert reserve.stat().st_size == 128 << 10
        assert os.stat(reserve).st_blocks * 512 >= 128 << 10  # allocated, not sparse
        assert store.space.release_reserve() and not reserve.exists()
        assert not store.space.release_reserve()
        store.gc(OWNER)  # gc makes it again once there is room
        assert reserve.stat().st_size == 128 << 10
        reserve.unlink()
    with Store.open(tmp_path / "s"):  # and so does the next open
        assert reserve.stat().st_size == 128 << 10
