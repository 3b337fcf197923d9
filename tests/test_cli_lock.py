"""``objfs lock`` and Object Lock through the command line: a lock-enabled
bucket, its default retention, a version's retention and legal hold, and
``objfs rm --version-id`` refused until the lock is lifted (or bypassed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli import Cli, assert_user_error

from objfs.store import Store


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    path = tmp_path / "store"
    Store.init(path, chunk_size=64 << 10).close()
    return Cli(path)


def test_lock_commands(cli: Cli, tmp_path: Path) -> None:
    assert "Object Lock on" in cli.ok("bucket", "create", "ledger", "--object-lock").out
    assert "Enabled" in cli.ok("bucket", "versioning", "ledger").out
    assert "no default retention" in cli.ok("lock", "config", "ledger").out
    out = cli.ok("lock", "config", "ledger", "--mode", "governance", "--days", "30").out
    assert "GOVERNANCE 30 days" in out

    src = tmp_path / "a.csv"
    src.write_text("1,2,3\n")
    cli.ok("put", str(src), "s3://ledger/a.csv")
    shown = cli.ok("--json", "lock", "show", "s3://ledger/a.csv").json()
    assert shown["mode"] == "GOVERNANCE" and shown["locked"] is True  # type: ignore[index]
    version = shown["version_id"]  # type: ignore[index]

    assert_user_error(
        cli("rm", "s3://ledger/a.csv", "--version-id", version), "GOVERNANCE retention"
    )
    # Without a version id: a delete marker, as S3.
    cli.ok("rm", "s3://ledger/a.csv")

    cli.ok("lock", "hold", "s3://ledger/a.csv", "on", "--version-id", version)
    assert_user_error(
        cli("rm", "s3://ledger/a.csv", "--version-id", version, "--bypass-governance"),
        "legal hold",
    )
    cli.ok("lock", "hold", "s3://ledger/a.csv", "off", "--version-id", version)
    assert_user_error(
        cli(
            "lock",
            "retain",
            "s3://ledger/a.csv",
            "--version-id",
            version,
            "--mode",
            "GOVERNANCE",
            "--until",
            "+1d",
        ),
        "BypassGovernanceRetention",
    )
    cli.ok(
        "lock",
        "retain",
        "s3://ledger/a.csv",
        "--version-id",
        version,
        "--mode",
        "COMPLIANCE",
        "--until",
        "2100-01-01",
        "--bypass-governance",  # a change of mode under GOVERNANCE
    )
    out = cli.ok("lock", "show", "s3://ledger/a.csv", "--version-id", version).out
    assert "COMPLIANCE until 2100-01-01T00:00:00.000Z" in out
    assert_user_error(
        cli("rm", "s3://ledger/a.csv", "--version-id", version, "--bypass-governance"),
        "COMPLIANCE retention",
    )


def test_lock_config_needs_versioning(cli: Cli) -> None:
    cli.ok("bucket", "create", "plain")
    assert_user_error(cli("lock", "config", "plain", "--enable"), "Versioning must be")
    assert_user_error(cli("lock", "config", "plain"), "Object Lock configuration does not exist")
    cli.ok("bucket", "versioning", "plain", "Enabled")
    cli.ok("lock", "config", "plain", "--enable")
    assert_user_error(
        cli("lock", "config", "plain", "--mode", "COMPLIANCE", "--days", "0"), "positive"
    )
    assert_user_error(cli("lock", "retain", "s3://plain/x", "--mode", "GOVERNANCE"), "--until")
