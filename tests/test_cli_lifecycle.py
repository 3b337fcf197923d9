"""``objfs lifecycle put|get|rm|run`` as a person types it, and a run killed mid-way.

The crash test: ``objfs lifecycle run`` is SIGKILLed while it expires
thousands of versions, then run again. Whatever the moment of the kill,
every key is either untouched or done, no version a lock or the rule keeps
is gone, ``objfs fsck`` finds nothing wrong, and the second run finishes the
work without doing anything twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from objfs.store import OWNER, Store
from tests.test_cli import OBJFS, assert_user_error
from tests.test_cli_access import Shell, sh  # noqa: F401 - the fixture

RULES = {
    "Rules": [
        {
            "ID": "old-versions",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        }
    ]
}


def test_put_get_rm_run(sh: Shell, tmp_path: Path) -> None:  # noqa: F811
    assert_user_error(sh("lifecycle", "get", "photos"), "lifecycle configuration does not exist")
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(RULES))
    assert (
        "1 lifecycle rule(s) set on bucket photos"
        in sh.ok("lifecycle", "put", "photos", str(path)).out
    )
    assert json.loads(sh.ok("lifecycle", "get", "photos").out) == RULES
    with Store.open(sh.store) as store:
        first = store.head_object(OWNER, "photos", "a.jpg").version_id
        store.put_object(OWNER, "photos", "a.jpg", b"new jpeg")
    # Nothing is due today; in three days the old version goes.
    assert "0 noncurrent" in sh.ok("lifecycle", "run").out
    out = sh.ok("lifecycle", "run", "photos", "--now", _days_from_now(3)).out
    assert f"S3.EXPIRE.OBJECT s3://photos/a.jpg (version {first})" in out
    report = json.loads(sh.ok("--json", "lifecycle", "run", "--now", _days_from_now(3)).out)
    assert report["actions"] == []  # done already
    xml = (
        b"<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status>"
        b"<AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation>"
        b"</AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>"
    )
    sh.ok("lifecycle", "put", "photos", "-", input=xml)
    got = json.loads(sh.ok("lifecycle", "get", "photos").out)["Rules"]
    assert got == [
        {
            "ID": "x",
            "Status": "Enabled",
            "Filter": {},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
        }
    ]
    assert "removed" in sh.ok("lifecycle", "rm", "photos").out
    assert_user_error(sh("lifecycle", "get", "photos"), "does not exist")


def test_bad_input_is_one_line(sh: Shell) -> None:  # noqa: F811
    bad = {"Rules": [{"ID": "x", "Status": "On", "Filter": {}, "Expiration": {"Days": 1}}]}
    result = sh("lifecycle", "put", "photos", "-", input=json.dumps(bad).encode())
    assert_user_error(result, "Status must be Enabled or Disabled")
    assert_user_error(sh("lifecycle", "put", "photos", "-", input=b"{nope"), "neither JSON nor XML")
    assert_user_error(sh("lifecycle", "run", "--now", "someday"), "ISO 8601")
    assert_user_error(sh("lifecycle", "run", "nope"), "no such bucket")


def _days_from_now(days: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + days * 86400))


KEYS = 500
VERSIONS = 4


def _fill(path: Path) -> dict[str, list[str]]:
    """``crash``: KEYS keys of VERSIONS versions each; every 7th key's oldest version
    is under a legal hold. Returns each key's version ids, oldest first."""
    fast = OWNER.with_options(durable=False)
    made: dict[str, list[str]] = {}
    with Store.init(path, chunk_size=64 << 10) as store:
        store.create_bucket(OWNER, "crash", versioning=True)
        for i in range(KEYS):
            key = f"k{i:04d}"
            made[key] = [
                store.put_object(fast, "crash", key, f"{key} v{v}".encode()).version_id
                for v in range(VERSIONS)
            ]
        with store.db.write(durable=True) as cur:
            for i in range(0, KEYS, 7):
                key = f"k{i:04d}"
                cur.execute(
                    "UPDATE versions SET legal_hold = 1 WHERE bucket = 'crash' AND key = ? "
                    "AND version_id = ?",
                    (key.encode(), made[key][0]),
                )
        store.put_bucket_lifecycle(
            OWNER,
            "crash",
            [
                {
                    "ID": "keep-one",
                    "Status": "Enabled",
                    "Filter": {},
                    "NoncurrentVersionExpiration": {
                        "NoncurrentDays": 1,
                        "NewerNoncurrentVersions": 1,
                    },
                }
            ],
        )
        store.sync(OWNER)
    return made


def _state(path: Path) -> dict[str, list[str]]:
    """Each key's version ids, oldest first, as the store holds them."""
    out: dict[str, list[str]] = {}
    with Store.open(path) as store, store.db.read() as cur:
        rows = cur.execute(
            "SELECT key, version_id FROM versions WHERE bucket = 'crash' ORDER BY key, seq"
        ).fetchall()
    for key, version_id in rows:
        out.setdefault(key.decode(), []).append(version_id)
    return out


def _check(made: dict[str, list[str]], state: dict[str, list[str]]) -> int:
    """Every key is before or after its expiry; returns how many are done."""
    done = 0
    for i, (key, ids) in enumerate(made.items()):
        locked = i % 7 == 0
        after = ([ids[0]] if locked else []) + ids[-2:]  # the two newest are kept
        assert state[key] in (ids, after), (key, state[key])
        assert ids[-1] in state[key] and ids[-2] in state[key]  # kept by the rule
        if locked:
            assert ids[0] in state[key]  # kept by its legal hold
        done += state[key] == after
    return done


def test_run_killed_mid_way_and_run_again(tmp_path: Path) -> None:
    path = tmp_path / "store"
    made = _fill(path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBJFS_", "AWS_"))}
    with Store.open(path) as store:
        start = store.change_seq(OWNER)
        run = subprocess.Popen(
            [str(OBJFS), "--store", str(path), "lifecycle", "run", "--now", _days_from_now(3)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        deadline = time.monotonic() + 60
        while store.change_seq(OWNER) < start + 40 and time.monotonic() < deadline:
            time.sleep(0.005)
        run.send_signal(signal.SIGKILL)
    assert run.wait(timeout=30) == -signal.SIGKILL, "the run finished before it was killed"
    done = _check(made, _state(path))
    assert 0 < done < KEYS  # killed mid-way: some keys done, others not yet
    fsck = subprocess.run(
        [str(OBJFS), "--store", str(path), "fsck"], capture_output=True, env=env, timeout=120
    )
    assert fsck.returncode == 0, fsck.stdout.decode() + fsck.stderr.decode()
    again = subprocess.run(
        [
            str(OBJFS),
            "--store",
            str(path),
            "--json",
            "lifecycle",
            "run",
            "--now",
            _days_from_now(3),
        ],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr.decode()
    report = json.loads(again.stdout)
    assert _check(made, _state(path)) == KEYS
    # The second run did exactly what the first left: each version once.
    locked = len(range(0, KEYS, 7))
    assert report["noncurrent_expired"] == (KEYS - done) * 2 - _locked_left(made, done)
    assert report["kept_locked"] == locked
    fsck = subprocess.run(
        [str(OBJFS), "--store", str(path), "fsck"], capture_output=True, env=env, timeout=120
    )
    assert fsck.returncode == 0, fsck.stdout.decode()


def _locked_left(made: dict[str, list[str]], done: int) -> int:
    """Legal-held versions among the keys the first run had not reached: each
    saves one removal from the second run. (Keys are done in key order.)"""
    return sum(1 for i in range(done, KEYS) if i % 7 == 0)


def test_lifecycle_records_show_in_the_log_query(sh: Shell, tmp_path: Path) -> None:  # noqa: F811
    """An expiry's access-log record (no HTTP status or request time: no request
    made it) is listed by ``bucket logging query`` like any other."""
    with Store.open(sh.store) as store:
        store.create_bucket(OWNER, "logs")
        first = store.head_object(OWNER, "photos", "a.jpg").version_id
        store.put_object(OWNER, "photos", "a.jpg", b"new jpeg")
    sh.ok("bucket", "logging", "put", "photos", "--target-bucket", "logs", "--target-prefix", "l/")
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(RULES))
    sh.ok("lifecycle", "put", "photos", str(path))
    sh.ok("lifecycle", "run", "photos", "--now", _days_from_now(3))
    sh.ok("bucket", "logging", "flush")
    out = sh.ok("bucket", "logging", "query", "s3://logs/l/", "--op", "S3.EXPIRE.OBJECT").out
    assert "S3.EXPIRE.OBJECT" in out and "s3://photos/a.jpg" in out, out
    records = json.loads(
        sh.ok(
            "--json", "bucket", "logging", "query", "s3://logs/l/", "--op", "S3.EXPIRE.OBJECT"
        ).out
    )
    assert [r["version_id"] for r in records] == [first], records
