"""The shell tools people use, end to end on a real mount."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .support import Mount, run

pytestmark = pytest.mark.fuse


def make_tree(root: Path) -> None:
    """A small tree with nested dirs, modes, mtimes, an empty file and symlinks."""
    (root / "docs" / "deep" / "er").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "docs" / "a.txt").write_text("alpha\n" * 100)
    (root / "docs" / "deep" / "b.bin").write_bytes(os.urandom(300_000))
    (root / "docs" / "deep" / "er" / "c").write_bytes(b"")
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(root / "run.sh", 0o755)
    os.chmod(root / "docs" / "a.txt", 0o600)
    os.symlink("docs/a.txt", root / "link-to-a")
    os.symlink("../run.sh", root / "docs" / "rel-link")
    os.utime(root / "docs" / "a.txt", ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))


def tree_facts(root: Path) -> dict[str, tuple]:
    """What must survive a copy: type, mode, size, mtime (s), content or target."""
    facts: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if os.path.islink(path):
                facts[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                facts[rel] = ("dir", oct(st.st_mode))
            else:
                facts[rel] = (
                    "file",
                    oct(st.st_mode),
                    st.st_size,
                    int(st.st_mtime),
                    path.read_bytes(),
                )
    return facts


def test_cp_r_and_rm_r(mnt: Mount, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    run(["cp", "-a", str(src), str(mnt.path / "copy")])
    assert tree_facts(mnt.path / "copy") == tree_facts(src)
    run(["rm", "-r", str(mnt.path / "copy")])
    assert os.listdir(mnt.path) == []


def test_rsync_twice_copies_nothing_the_second_time(mnt: Mount, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    run(["rsync", "-a", f"{src}/", f"{mnt.path}/dst/"])
    assert tree_facts(mnt.path / "dst") == tree_facts(src)
    out = run(["rsync", "-a", "--itemize-changes", f"{src}/", f"{mnt.path}/dst/"])
    assert out.strip() == "", out
    (src / "docs" / "a.txt").write_text("changed\n")
    out = run(["rsync", "-a", "--itemize-changes", f"{src}/", f"{mnt.path}/dst/"])
    assert "docs/a.txt" in out
    assert tree_facts(mnt.path / "dst") == tree_facts(src)


def test_tar_extract_with_symlinks_and_mv(mnt: Mount, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    archive = tmp_path / "t.tar"
    run(["tar", "-cf", str(archive), "-C", str(src), "."])
    (mnt.path / "x").mkdir()
    run(["tar", "-xpf", str(archive), "-C", str(mnt.path / "x")])
    assert tree_facts(mnt.path / "x") == tree_facts(src)
    run(["mv", str(mnt.path / "x"), str(mnt.path / "y")])
    assert tree_facts(mnt.path / "y") == tree_facts(src)
    assert not (mnt.path / "x").exists()
    run(["mv", str(mnt.path / "y" / "docs"), str(mnt.path / "docs2")])
    assert (mnt.path / "docs2" / "deep" / "er" / "c").exists()


def test_editor_style_save(mnt: Mount) -> None:
    target = mnt.path / "notes.txt"
    target.write_text("v1\n")
    tmp = mnt.path / ".notes.txt.swp"
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
    os.write(fd, b"v2\n")
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, target)
    assert target.read_text() == "v2\n"
    assert sorted(os.listdir(mnt.path)) == ["notes.txt"]


def test_git_commit_and_fsck(mnt: Mount, tmp_path: Path) -> None:
    repo = mnt.path / "repo"
    repo.mkdir()
    src = tmp_path / "src"
    make_tree(src)
    shutil.copytree(src, repo / "files", symlinks=True)
    env = "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e"
    run(f"git init -q && git add -A && {env} git commit -qm one", cwd=repo)
    (repo / "files" / "run.sh").write_text("#!/bin/sh\necho two\n")
    run(f"git add -A && {env} git commit -qm two && git gc -q", cwd=repo)
    run("git fsck --full --strict", cwd=repo)
    assert run("git log --oneline", cwd=repo).count("\n") == 2
    assert run("git status --porcelain", cwd=repo) == ""


def test_ls_and_stat_output(mnt: Mount) -> None:
    (mnt.path / "d").mkdir(mode=0o750)
    (mnt.path / "d" / "f").write_bytes(b"x" * 1234)
    os.utime(mnt.path / "d" / "f", (1_600_000_000, 1_600_000_000))
    out = run(["stat", "-c", "%A %s %Y %F", str(mnt.path / "d" / "f"), str(mnt.path / "d")])
    assert out.splitlines() == [
        "-rw-r--r-- 1234 1600000000 regular file",
        f"drwxr-x--- 0 {int((mnt.path / 'd').stat().st_mtime)} directory",
    ]
    listing = run(["ls", "-ln", str(mnt.path / "d")])
    assert " 1234 " in listing and listing.startswith("total")
