"""``objfs tag put|get|rm`` as a person types it (the installed ``objfs``): object
tags (latest or ``--version-id``), bucket tags, and S3's refusals in one line."""

from __future__ import annotations

import json

from objfs.store import OWNER, Store
from tests.test_cli import assert_user_error
from tests.test_cli_access import Shell, sh  # noqa: F401 - the fixture


def test_object_tags(sh: Shell) -> None:  # noqa: F811
    assert sh.ok("tag", "get", "s3://photos/a.jpg").out == ""
    out = sh.ok("tag", "put", "s3://photos/a.jpg", "project=alpha", "review=", "x=a=b").out
    assert "3 tag(s) set on s3://photos/a.jpg (version " in out
    assert sh.ok("tag", "get", "s3://photos/a.jpg").out == "project=alpha\nreview=\nx=a=b\n"
    assert "tag:           project=alpha" in sh.ok("head", "s3://photos/a.jpg").out
    assert sh.ok("--json", "head", "s3://photos/a.jpg").json()["tags"]["x"] == "a=b"
    assert json.loads(sh.ok("--json", "tag", "get", "s3://photos/a.jpg").out) == {
        "TagSet": [
            {"Key": "project", "Value": "alpha"},
            {"Key": "review", "Value": ""},
            {"Key": "x", "Value": "a=b"},
        ]
    }
    with Store.open(sh.store) as store:  # in place: still one version, with the tags
        (version,) = store.list_object_versions(OWNER, "photos").versions
        assert version.tags == {"project": "alpha", "review": "", "x": "a=b"}
        old = version.version_id
        store.put_object(OWNER, "photos", "a.jpg", b"newer")
    sh.ok("tag", "put", "s3://photos/a.jpg", "gen=1", "--version-id", old)
    assert sh.ok("tag", "get", "s3://photos/a.jpg").out == ""
    assert sh.ok("tag", "get", "s3://photos/a.jpg", "--version-id", old).out == "gen=1\n"
    assert "tags removed" in sh.ok("tag", "rm", "s3://photos/a.jpg", "--version-id", old).out
    assert sh.ok("tag", "get", "s3://photos/a.jpg", "--version-id", old).out == ""


def test_bucket_tags(sh: Shell) -> None:  # noqa: F811
    assert_user_error(sh("tag", "get", "s3://photos"), "has no tags")
    assert "1 tag(s) set on bucket photos" in sh.ok("tag", "put", "s3://photos", "team=media").out
    assert sh.ok("tag", "get", "s3://photos/").out == "team=media\n"
    sh.ok("tag", "rm", "s3://photos")
    assert_user_error(sh("tag", "get", "s3://photos"), "has no tags")


def test_refusals_are_one_line(sh: Shell) -> None:  # noqa: F811
    too_many = [f"k{i}=v" for i in range(11)]
    assert_user_error(sh("tag", "put", "s3://photos/a.jpg", *too_many), "greater than 10")
    assert_user_error(sh("tag", "put", "s3://photos/a.jpg", "aws:x=1"), "aws:")
    assert_user_error(sh("tag", "put", "s3://photos/a.jpg", "a=1", "a=2"), "same key")
    assert_user_error(sh("tag", "get", "s3://photos/none"), "no such key")
    assert_user_error(sh("tag", "put", "s3://photos", "a=1", "--version-id", "v"), "--version-id")
    assert sh("tag", "put", "s3://photos/a.jpg", "=v").returncode == 2  # usage
