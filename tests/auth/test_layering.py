"""objfs/auth is a pure core: it imports no adapter and not the store."""

from __future__ import annotations

import ast
from pathlib import Path

import objfs.auth

FORBIDDEN = ("objfs.store", "objfs.fs", "objfs.cli", "objfs.mount_helper", "objfs.chunks")
ROOT = Path(objfs.auth.__file__).parent


def imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_auth_imports_no_adapter_or_store() -> None:
    files = sorted(ROOT.rglob("*.py"))
    assert len(files) >= 10
    for f in files:
        bad = {m for m in imports(f) if m.startswith(FORBIDDEN)}
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"


def test_every_auth_module_says_what_it_owns() -> None:
    for f in sorted(ROOT.rglob("*.py")):
        doc = ast.get_docstring(ast.parse(f.read_text()))
        assert doc and len(doc) > 40, f"{f.relative_to(ROOT)} has no module docstring"
        assert len(f.read_text().splitlines()) <= 500, f"{f.relative_to(ROOT)} is over 500 lines"
