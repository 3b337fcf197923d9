"""The man pages and the contrib/ systemd units are valid and match the code.

- ``groff -man -ww -z`` reports no warning on either man page;
- ``systemd-analyze verify`` accepts the ``.mount`` unit and the service
  template (copied to a temp dir; the ``/usr/local/bin/objfs`` they name is
  pointed at this checkout's ``objfs`` command, which is what the README's
  symlink step does on a real install);
- every subcommand and option of ``objfs`` is in objfs(1), every mount option
  in mount.objfs(8), and every option the page documents is one the mount
  accepts.

A missing ``groff`` or ``systemd-analyze`` skips its test on a developer
machine and fails it in CI (``CI=true``), where they must be installed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAN = ROOT / "man"
CONTRIB = ROOT / "contrib"
PAGES = [MAN / "objfs.1", MAN / "mount.objfs.8"]
UNITS = [
    "mnt-objfs.mount",
    "objfs@.service",
    "objfs-s3.service",
    "objfs-lifecycle.service",
    "objfs-lifecycle.timer",
]
INSTALLED_OBJFS = "/usr/local/bin/objfs"


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (required in CI)")
        pytest.skip(f"{name} is not installed")
    return path


def plain(page: Path) -> str:
    """The page's source with font escapes removed and \\- as -."""
    text = page.read_text()
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\-", "-").replace("\\e", "\\")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_man_page_has_no_groff_warnings(page: Path) -> None:
    groff = need_tool("groff")
    done = subprocess.run(
        [groff, "-man", "-ww", "-z", str(page)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = need_tool("systemd-analyze")
    objfs = Path(sys.executable).parent / "objfs"
    assert objfs.exists(), f"{objfs} missing: pip install -e . first"
    for name in UNITS:
        text = (CONTRIB / name).read_text()
        (tmp_path / name).write_text(text.replace(INSTALLED_OBJFS, str(objfs)))
    # --man=no: the pages are checked above; they are not installed in a checkout.
    done = subprocess.run(
        [analyze, "verify", "--man=no", *UNITS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and not output, output


def test_mount_unit_name_matches_where() -> None:
    text = (CONTRIB / "mnt-objfs.mount").read_text()
    where = re.search(r"^Where=(.+)$", text, re.M)
    assert where, "no Where= line"
    expected = where.group(1).strip().strip("/").replace("-", "\\x2d").replace("/", "-")
    assert f"{expected}.mount" == "mnt-objfs.mount"


def _subcommands(parser: argparse.ArgumentParser, prefix: str) -> dict[str, list[str]]:
    """'objfs bucket create' -> its option strings, for every (sub)command."""
    out: dict[str, list[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                options = [s for a in sub._actions for s in a.option_strings]
                out[f"{prefix} {name}"] = options
                out.update(_subcommands(sub, f"{prefix} {name}"))
    return out


def test_objfs_page_documents_every_command_and_option() -> None:
    from objfs.cli import build_parser

    page = plain(MAN / "objfs.1")
    missing = []
    for command, options in _subcommands(build_parser(), "objfs").items():
        if command not in page:
            missing.append(command)
        missing.extend(f"{command} {opt}" for opt in options if opt not in page)
    for opt in ("--store", "--json", "--quiet", "--debug", "--version", "OBJFS_STORE"):
        if opt not in page:
            missing.append(opt)
    assert not missing, "undocumented in man/objfs.1: " + ", ".join(missing)


NAMED_MOUNT_OPTIONS = [
    "store=",
    "prefix=",
    "ro",
    "rw",
    "allow_other",
    "uid=",
    "gid=",
    "umask=",
    "attr_timeout=",
    "entry_timeout=",
    "show_versions",
    "debug",
    "log=",
    "fsname=",
]


def _documented_options(page: str) -> list[str]:
    """Option names of the OPTIONS section's tagged paragraphs (``.TP`` then ``.B ro``)."""
    section = page.split(".SH OPTIONS", 1)[1].split(".SH ", 1)[0]
    return re.findall(r"^\.T[PQ]\n\.(?:B|BI|BR) ([a-z_]+=?)", section, re.M)


def test_mount_page_documents_every_mount_option() -> None:
    from objfs.fs import options

    page = plain(MAN / "mount.objfs.8")
    wanted = list(NAMED_MOUNT_OPTIONS)
    wanted += sorted(options.KERNEL_FLAGS) + sorted(options.IGNORED_FLAGS)
    wanted += [f"{name}=" for name in options.RESERVED]
    missing = [name for name in wanted if not re.search(rf"(?<![\w-]){name}", page)]
    assert not missing, "undocumented in man/mount.objfs.8: " + ", ".join(missing)


def test_mount_page_documents_only_real_options() -> None:
    from objfs.fs.options import MountOptionError, parse_options

    documented = _documented_options(plain(MAN / "mount.objfs.8"))
    assert "store=" in documented and "allow_other" in documented
    unknown = []
    for name in documented:
        sample = {"uid=": "uid=0", "gid=": "gid=0", "umask=": "umask=022"}.get(name)
        if sample is None:
            sample = name + ("1" if name.endswith("timeout=") else "x" if "=" in name else "")
        try:
            parse_options(sample)
        except MountOptionError as err:
            if "unknown mount option" in str(err):
                unknown.append(name)
    assert not unknown, "man/mount.objfs.8 documents options the mount refuses: " + ", ".join(
        unknown
    )


def test_service_user_files_parse(tmp_path: Path) -> None:
    """contrib's sysusers file creates the objfs user; tmpfiles makes its 0700 store."""
    sysusers = need_tool("systemd-sysusers")
    tmpfiles = need_tool("systemd-tmpfiles")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        (root / "etc" / name).write_text("")
    done = subprocess.run(
        [sysusers, f"--root={root}", str((CONTRIB / "objfs.sysusers").absolute())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    passwd = (root / "etc" / "passwd").read_text()
    assert passwd.startswith("objfs:") and ":/var/lib/objfs:/usr/sbin/nologin" in passwd
    done = subprocess.run(
        [tmpfiles, f"--root={root}", "--create", str((CONTRIB / "objfs.tmpfiles").absolute())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    store = root / "var" / "lib" / "objfs"
    assert store.is_dir() and (store.stat().st_mode & 0o777) == 0o700


def test_readme_mount_options_table_has_the_encryption_options() -> None:
    """The README once called the encryption options "reserved (coming)": they work."""
    from objfs.fs import options

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Mount options", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)=", section, re.M)
    missing = [name for name in options.ENCRYPTION if name not in rows]
    assert not missing, "README's mount options table lacks: " + ", ".join(missing)
    assert "reserved" not in section and "coming" not in section, "README: out-of-date promise"
