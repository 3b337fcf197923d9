"""``objfs mfa`` and the ``--mfa`` flag: MFA delete through the command line.

Runs the installed ``objfs`` against a real store, at real time: each code
is computed here from the secret ``objfs mfa enable`` printed, for a step
inside the store's ±1 step window and after the last one spent (codes are
good once), so no test waits for a 30 s step to pass.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from test_cli import OBJFS, Cli, Result, _env, assert_user_error, run_objfs, run_on_tty

from objfs.auth import totp
from objfs.store import OWNER, Store

SERIAL = "arn:objfs:iam::owner:mfa/root"


class Authenticator:
    """Reads codes off the device: each a new step, all inside the store's window."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.last: int | None = None

    def code(self) -> str:
        now = time.time()
        if now % totp.STEP_SECONDS > totp.STEP_SECONDS - 3:
            time.sleep(totp.STEP_SECONDS - now % totp.STEP_SECONDS + 0.1)  # not at an edge
            now = time.time()
        current = totp.step_at(now)
        step = current - 1 if self.last is None else max(self.last + 1, current - 1)
        if step > current + 1:  # three codes spent within one step: wait for the next
            time.sleep(totp.STEP_SECONDS - now % totp.STEP_SECONDS + 0.1)
            return self.code()
        self.last = step
        return totp.code_for_step(self.secret, step)

    def mfa(self) -> str:
        return f"{SERIAL} {self.code()}"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    path = tmp_path / "store"
    with Store.init(path, chunk_size=64 << 10) as store:
        store.create_bucket(OWNER, "vers", versioning=True)
        store.create_bucket(OWNER, "plain")
    return Cli(path)


@pytest.fixture
def auth(cli: Cli) -> Authenticator:
    device = cli.ok("--json", "mfa", "enable").json()
    assert device["serial"] == SERIAL  # type: ignore[index]
    return Authenticator(device["secret"])  # type: ignore[index]


def _versions(cli: Cli, url: str) -> list[str]:
    return [v["version_id"] for v in cli.ok("--json", "versions", url).json()]  # type: ignore[attr-defined]


def _put(cli: Cli, url: str, *bodies: bytes) -> list[str]:
    for body in bodies:
        cli.ok("put", "-", url, input=body)
    return _versions(cli, url)


def test_enable_prints_secret_uri_and_ls_lists_it(cli: Cli) -> None:
    out = cli.ok("mfa", "enable").out
    assert f"serial:  {SERIAL}" in out and "otpauth://totp/" in out
    secret = next(line.split()[1] for line in out.splitlines() if line.startswith("secret:"))
    assert f"secret={secret}" in out
    assert "\u2588" not in out and "\x1b[" not in out  # no QR code off a terminal
    listed = cli.ok("mfa", "ls").out
    assert SERIAL in listed and "never used" in listed and secret not in listed
    [record] = cli.ok("--json", "mfa", "ls").json()  # type: ignore[misc]
    assert record["serial"] == SERIAL and record["last_used"] is None
    # A second enable without a code from the first device is refused.
    assert_user_error(cli("mfa", "enable"), "already registered", "--mfa")


def test_enable_draws_a_qr_code_on_a_terminal(cli: Cli) -> None:
    proc, shown = run_on_tty(cli.store, "mfa", "enable", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "otpauth://totp/" in shown
    qr_rows = [line for line in shown.splitlines() if "\u2588" in line or "\u2580" in line]
    assert len(qr_rows) >= 15  # a QR code of at least 29 modules, two rows per line


def test_mfa_delete_from_the_cli(cli: Cli, auth: Authenticator) -> None:
    # Enabling MFA delete without a code fails; with one it works.
    assert_user_error(
        cli("bucket", "versioning", "vers", "Enabled", "--mfa-delete", "Enabled"),
        'enabling MFA delete on bucket vers needs an MFA code: give --mfa "SERIAL CODE"',
    )
    assert cli.ok("bucket", "versioning", "vers").out.strip() == "vers: Enabled"
    cli.ok(
        "bucket", "versioning", "vers", "Enabled", "--mfa-delete", "Enabled", "--mfa", auth.mfa()
    )
    assert (
        cli.ok("bucket", "versioning", "vers").out.strip() == "vers: Enabled (MFA delete Enabled)"
    )
    assert cli.ok("--json", "bucket", "versioning", "vers").json()["mfa_delete"] is True  # type: ignore[index]

    v = _put(cli, "s3://vers/doc", b"one", b"two", b"three")  # newest first
    # A permanent delete without a code fails, and deletes nothing.
    assert_user_error(
        cli("rm", "s3://vers/doc", "--version-id", v[2]),
        'MFA delete is enabled on bucket vers: give --mfa "SERIAL CODE"',
    )
    assert _versions(cli, "s3://vers/doc") == v
    # With a valid code it works; the same code twice fails.
    code = auth.mfa()
    cli.ok("rm", "s3://vers/doc", "--version-id", v[2], "--mfa", code)
    assert _versions(cli, "s3://vers/doc") == v[:2]
    assert_user_error(
        cli("rm", "s3://vers/doc", "--version-id", v[1], "--mfa", code), "already used"
    )
    # An expired code (two steps ago) fails.
    stale = totp.code_for_step(auth.secret, totp.step_at(time.time()) - 3)
    assert_user_error(
        cli("rm", "s3://vers/doc", "--version-id", v[1], "--mfa", f"{SERIAL} {stale}"),
        "wrong or expired",
    )
    # A plain delete (a delete marker) needs no code.
    cli.ok("rm", "s3://vers/doc")
    assert len(_versions(cli, "s3://vers/doc")) == 3

    # rm --recursive --all-versions: the whole batch is refused without a code.
    assert_user_error(cli("rm", "--recursive", "--all-versions", "s3://vers"), "MFA delete")
    assert len(_versions(cli, "s3://vers/doc")) == 3
    cli.ok("rm", "--recursive", "--all-versions", "s3://vers", "--mfa", auth.mfa())
    assert _versions(cli, "s3://vers/doc") == []


def test_suspending_versioning_needs_a_code(cli: Cli, auth: Authenticator) -> None:
    cli.ok(
        "bucket", "versioning", "vers", "Enabled", "--mfa-delete", "Enabled", "--mfa", auth.mfa()
    )
    assert_user_error(cli("bucket", "versioning", "vers", "Suspended"), "MFA delete is enabled")
    assert (
        cli.ok("bucket", "versioning", "vers").out.strip() == "vers: Enabled (MFA delete Enabled)"
    )
    cli.ok("bucket", "versioning", "vers", "Suspended", "--mfa", auth.mfa())
    assert "Suspended" in cli.ok("bucket", "versioning", "vers").out


def test_mfa_delete_needs_a_versioned_bucket(cli: Cli, auth: Authenticator) -> None:
    assert_user_error(
        cli(
            "bucket",
            "versioning",
            "plain",
            "Suspended",
            "--mfa-delete",
            "Enabled",
            "--mfa",
            auth.mfa(),
        ),
        "MFA delete needs a versioned bucket",
    )
    assert_user_error(
        cli("bucket", "versioning", "plain", "--mfa-delete", "Enabled"),
        "needs the versioning state",
    )
    assert_user_error(
        cli(
            "bucket", "versioning", "vers", "Enabled", "--mfa-delete", "Enabled", "--mfa", "123456"
        ),
        "SERIAL CODE",
    )


def test_disable_the_device(cli: Cli, auth: Authenticator) -> None:
    assert run_objfs("--store", str(cli.store), "mfa", "disable").returncode == 2  # --mfa required
    cli.ok(
        "bucket", "versioning", "vers", "Enabled", "--mfa-delete", "Enabled", "--mfa", auth.mfa()
    )
    assert_user_error(cli("mfa", "disable", "--mfa", f"{SERIAL} 000000"), "turn it off first")
    cli.ok(
        "bucket", "versioning", "vers", "Enabled", "--mfa-delete", "Disabled", "--mfa", auth.mfa()
    )
    assert "removed MFA device" in cli.ok("mfa", "disable", "--mfa", auth.mfa()).out
    assert cli.ok("mfa", "ls").out == ""


@pytest.mark.parametrize(
    "words", [["mfa"], ["mfa", "enable"], ["mfa", "ls"], ["mfa", "disable"]], ids=" ".join
)
def test_help_shows_an_example(words: list[str]) -> None:
    result = run_objfs(*words, "--help")
    assert result.returncode == 0 and "objfs " in result.out.split("example", 1)[1]


def test_a_user_needs_the_owners_code(cli: Cli, auth: Authenticator, tmp_path: Path) -> None:
    env = {**_env(), "HOME": str(tmp_path)}  # the default credentials file is the test's

    def objfs(*args: str) -> Result:
        proc = subprocess.run(
            [str(OBJFS), "--store", str(cli.store), *args],
            capture_output=True,
            env=env,
            timeout=120,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr.decode())

    assert objfs("user", "create", "alice").returncode == 0
    assert objfs("user", "keys", "create", "alice", "--write-profile", "alice").returncode == 0
    policy = tmp_path / "policy.json"
    policy.write_text(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["s3:DeleteObjectVersion", "s3:ListBucket", "s3:ListBucketVersions", "s3:PutBucketVersioning"], '
        '"Resource": ["arn:aws:s3:::vers", "arn:aws:s3:::vers/*"]}]}'
    )
    cli.ok("user", "policy", "put", "alice", "versions", str(policy))
    cli.ok(
        "bucket", "versioning", "vers", "Enabled", "--mfa-delete", "Enabled", "--mfa", auth.mfa()
    )
    v = _put(cli, "s3://vers/doc", b"one", b"two")
    assert_user_error(
        objfs("--profile", "alice", "rm", "s3://vers/doc", "--version-id", v[1]),
        "MFA delete is enabled",
    )
    done = objfs(
        "--profile", "alice", "rm", "s3://vers/doc", "--version-id", v[1], "--mfa", auth.mfa()
    )
    assert done.returncode == 0, done.stderr
    assert _versions(cli, "s3://vers/doc") == v[:1]
    # Changing the flag stays the store owner's, code or not.
    assert_user_error(
        objfs("--profile", "alice", "bucket", "versioning", "vers", "Enabled",
              "--mfa-delete", "Disabled", "--mfa", auth.mfa()),
        "only the store owner may change MFA delete on bucket vers, not user alice",
    )  # fmt: skip
