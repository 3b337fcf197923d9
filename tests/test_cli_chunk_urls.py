"""``objfs init --chunks URL`` and ``objfs info``, as a user runs them.

A malformed ``--chunks`` is a usage error (exit 2, argparse's message with
what is wrong and the accepted forms, never a secret); a location init
cannot use is a refused request (exit 1, one ``objfs:`` line); either way
no store is left behind. ``objfs info`` shows the recorded URL. Initialising
and probing an ``s3://`` location: tests/chunks/test_store_on_s3.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

OBJFS = Path(sys.executable).with_name("objfs")


def objfs(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBJFS_", "AWS_"))}
    env["OBJFS_RESERVE"] = "64K"
    return subprocess.run(
        [str(OBJFS), "--store", str(store), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_init_by_default_records_file_and_info_shows_it(tmp_path: Path) -> None:
    store = tmp_path / "s"
    done = objfs(store, "init")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"initialised objfs store at {store} (chunk size 1.0 MiB, ")
    assert "chunks at" not in done.stdout  # the default says nothing new
    assert (store / "chunks").is_dir()
    info = objfs(store, "info")
    assert info.returncode == 0, info.stderr
    assert f"store:       {store}\n" in info.stdout
    assert "chunks:      file:\n" in info.stdout
    record = json.loads(objfs(store, "info", "--json").stdout)
    assert record == {
        "store": str(store),
        "meta_url": "sqlite:",
        "chunk_size": 1 << 20,
        "chunks_url": "file:",
    }
    assert "metadata:    sqlite:\n" in info.stdout


def test_init_with_a_chunk_directory_elsewhere(tmp_path: Path) -> None:
    store, chunks = tmp_path / "s", tmp_path / "data" / "chunks"
    done = objfs(store, "init", "--chunks", f"file://{chunks}/")
    assert done.returncode == 0, done.stderr
    assert f"chunks at file:{chunks}," in done.stdout
    assert not (store / "chunks").exists()
    assert f"chunks:      file:{chunks}\n" in objfs(store, "info").stdout
    (tmp_path / "f").write_bytes(os.urandom(200_000))
    for args in (["bucket", "create", "data"], ["put", str(tmp_path / "f"), "s3://data/f"]):
        assert objfs(store, *args).returncode == 0
    assert any(chunks.rglob("*"))
    # The same directory for a second store: refused (its gc would delete the first's chunks).
    again = objfs(tmp_path / "t", "init", "--chunks", f"file:{chunks}")
    assert again.returncode == 1
    assert again.stderr.startswith(f"objfs: the chunk directory {chunks} is not empty")
    assert again.stderr.count("\n") == 1
    assert not (tmp_path / "t").exists()
    # The directory gone: every command says so and which it is.
    chunks.rename(tmp_path / "moved")
    gone = objfs(store, "ls", "s3://data/")
    assert gone.returncode == 1
    assert gone.stderr == (
        f"objfs: the chunk directory {chunks} of the store at {store} is missing: "
        "mount or restore it\n"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nfs://server/export", "unknown scheme 'nfs:'"),
        ("s3:///prefix", "'s3:///prefix' names no bucket: write s3://BUCKET/PREFIX"),
        ("s3://127.0.0.1:8333/data", "give the server as ?endpoint=http://HOST:PORT"),
        ("s3://data/p?endpoint=localhost:8333", "write endpoint=http://HOST:PORT"),
        ("s3://data/p?bucket=x", "unknown parameter 'bucket'"),
        ("file:chunks", "must be an absolute path"),
    ],
)
def test_a_malformed_url_is_a_usage_error(tmp_path: Path, url: str, message: str) -> None:
    done = objfs(tmp_path / "s", "init", "--chunks", url)
    assert done.returncode == 2
    assert "objfs init: error: argument --chunks: bad chunks URL: " in done.stderr
    assert message in done.stderr
    assert "accepted forms: file: (the store's chunks/ directory)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "s").exists()


def test_credentials_in_the_url_are_refused_and_not_echoed(tmp_path: Path) -> None:
    done = objfs(tmp_path / "s", "init", "--chunks", "s3://AKIAEXAMPLE:hunter2@data/p")
    assert done.returncode == 2
    assert "holds credentials (user:password@)" in done.stderr
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in done.stderr
    assert "hunter2" not in done.stderr and "AKIAEXAMPLE" not in done.stderr
    assert not (tmp_path / "s").exists()


def test_help_shows_the_option_and_an_example(tmp_path: Path) -> None:
    done = objfs(tmp_path / "s", "init", "--help")
    assert done.returncode == 0
    assert "--chunks URL" in done.stdout and "objfs init --chunks 's3://" in done.stdout
