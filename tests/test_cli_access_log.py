"""``objfs bucket logging ...`` end to end: the installed command against a real store.

What a user would notice: configuring, showing and removing a bucket's
access log; a bucket logging into itself refused in one line saying why;
``flush`` delivering what is pending; ``query`` reading delivered objects
back with each filter (``--since``, ``--op``, ``--status``,
``--requester``, ``--json``); ``--help`` with an example on each command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from objfs.errors import AccessDenied
from objfs.store import OWNER, RequestContext, Store

OBJFS = Path(sys.executable).with_name("objfs")


def objfs(store: Path, *args: str, input: bytes = b"") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBJFS_")}
    env["LC_ALL"] = "C.UTF-8"
    return subprocess.run(
        [str(OBJFS), "--store", str(store), *args],
        input=input.decode(),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def ok(store: Path, *args: str) -> str:
    done = objfs(store, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def cli_store(store_path: Path) -> Path:
    ok(store_path, "bucket", "create", "src")
    ok(store_path, "bucket", "create", "logs")
    return store_path


def test_put_get_rm(cli_store: Path) -> None:
    s = cli_store
    assert "logging off" in ok(s, "bucket", "logging", "get", "src")
    out = ok(
        s, "bucket", "logging", "put", "src", "--target-bucket", "logs", "--target-prefix", "p/"
    )
    assert out.strip() == "logging: s3://src -> s3://logs/p/"
    assert ok(s, "bucket", "logging", "get", "src").strip() == "src: s3://logs/p/"
    assert json.loads(ok(s, "--json", "bucket", "logging", "get", "src")) == {
        "bucket": "src",
        "target_bucket": "logs",
        "target_prefix": "p/",
    }
    ok(s, "bucket", "logging", "rm", "src")
    assert json.loads(ok(s, "--json", "bucket", "logging", "get", "src")) is None


def test_self_target_and_missing_target_are_one_line_errors(cli_store: Path) -> None:
    done = objfs(cli_store, "bucket", "logging", "put", "src", "--target-bucket", "src")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "its own log writes" in done.stderr
    done = objfs(cli_store, "bucket", "logging", "put", "src", "--target-bucket", "nope")
    assert done.returncode == 1 and "does not exist" in done.stderr
    done = objfs(cli_store, "bucket", "logging", "put", "src")
    assert done.returncode == 2 and "--target-bucket" in done.stderr


def test_flush_and_query_with_filters(cli_store: Path, tmp_path: Path) -> None:
    s = cli_store
    ok(s, "bucket", "logging", "put", "src", "--target-bucket", "logs", "--target-prefix", "src/")
    (tmp_path / "f").write_bytes(b"hello")
    ok(s, "put", str(tmp_path / "f"), "s3://src/f")
    assert objfs(s, "get", "s3://src/missing", "-").returncode == 1
    with Store.open(s) as store:  # a user without permission is refused (and logged)
        store.create_user(OWNER, "mallory")
        mallory = RequestContext(store.user_identity("mallory"), "cli", remote_addr="192.0.2.9")
        with pytest.raises(AccessDenied):
            store.get_object(mallory, "src", "f")
    out = ok(s, "bucket", "logging", "flush")
    assert out.startswith("delivered ") and "s3://logs/src/" in out
    assert ok(s, "bucket", "logging", "flush").strip() == "nothing to deliver"

    every = json.loads(ok(s, "--json", "bucket", "logging", "query", "s3://logs/src/"))
    assert [(r["operation"], r["key"], r["http_status"]) for r in every] == [
        ("REST.PUT.OBJECT", "f", 200),
        ("REST.HEAD.OBJECT", "missing", 404),
        ("REST.GET.OBJECT", "f", 403),
    ]
    assert every[0]["object_size"] == 5 and every[1]["error_code"] == "NoSuchKey"

    denied = ok(s, "bucket", "logging", "query", "s3://logs/src/", "--status", "403")
    (line,) = denied.splitlines()
    assert "mallory" in line and "192.0.2.9" in line and "AccessDenied" in line
    assert "s3://src/f" in line

    def count(*filters: str) -> int:
        out = ok(s, "--json", "bucket", "logging", "query", "s3://logs/src/", *filters)
        return len(json.loads(out))

    assert count("--op", "PUT.OBJECT") == 1
    assert count("--op", "rest.head.object") == 1
    assert count("--requester", "owner") == 2
    assert count("--requester", "mallory") == 1
    assert count("--since", "1h") == 3
    assert count("--since", "2100-01-01") == 0
    done = objfs(s, "bucket", "logging", "query", "s3://logs/src/", "--since", "soon")
    assert done.returncode == 2 and "not a time" in done.stderr


@pytest.mark.parametrize("action", ["put", "get", "rm", "flush", "query"])
def test_every_command_has_help_with_an_example(action: str, store_path: Path) -> None:
    out = ok(store_path, "bucket", "logging", action, "--help")
    assert "example:" in out and f"objfs bucket logging {action}" in out
