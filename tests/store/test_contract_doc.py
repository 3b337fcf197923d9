"""objfs/store/CONTRACT.md against the code: the document adapters read is
the API they get.

Every ``store.NAME(...)`` (and ``Store.NAME(...)``) in the document's
``python`` code blocks must name a public method of ``Store`` whose
parameters include every parameter the entry lists (by name, compared with
``inspect.signature``), and every public method of ``Store`` must have such
an entry. Works on names and signatures of ``Store`` only, so it holds
whatever class implements a method behind the facade.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from objfs.store import Store

CONTRACT = Path(__file__).resolve().parents[2] / "objfs" / "store" / "CONTRACT.md"

_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
_CALL = re.compile(r"\b[sS]tore\.(\w+)\(")
_PARAM = re.compile(r"(\w+)\s*(?::.*|=.*)?", re.S)


def _code() -> str:
    """The code blocks, comments removed (a comment may sit inside a call's parentheses)."""
    blocks = _BLOCK.findall(CONTRACT.read_text())
    return "\n".join(re.sub(r"#.*", "", line) for block in blocks for line in block.splitlines())


def _split_args(code: str, start: int) -> tuple[list[str], int]:
    """The top-level arguments of the call whose "(" is at ``start - 1``."""
    depth, args, current = 0, [], []
    for i in range(start, len(code)):
        ch = code[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                args.append("".join(current))
                return [a.strip() for a in args if a.strip()], i
            depth -= 1
        elif ch == "," and depth == 0:
            args.append("".join(current))
            current = []
            continue
        current.append(ch)
    raise AssertionError(f"unbalanced parentheses after offset {start} in CONTRACT.md")


def documented() -> list[tuple[str, list[str]]]:
    """(method name, argument texts) of every entry, in document order."""
    code = _code()
    return [(m.group(1), _split_args(code, m.end())[0]) for m in _CALL.finditer(code)]


def parameter_names(name: str, args: list[str]) -> list[str]:
    """The parameter names an entry lists: ``name``, ``name: type``, ``name=default``."""
    names = []
    for arg in args:
        if arg in ("*", "/") or arg.startswith(("...", "*")):
            continue  # markers, *args/**kwargs; "...": the prose says which
        param = _PARAM.fullmatch(arg)
        assert param is not None, (
            f"store.{name}(): {arg!r} is not a parameter (NAME[: TYPE][=DEFAULT])"
        )
        names.append(param.group(1))
    return names


def public_methods() -> list[str]:
    return sorted(
        name
        for name, value in inspect.getmembers(Store)
        if not name.startswith("_") and (inspect.isfunction(value) or inspect.ismethod(value))
    )


ENTRIES = documented()


def test_the_document_has_entries():
    assert len(ENTRIES) > 50


@pytest.mark.parametrize(
    ("name", "args"), ENTRIES, ids=[f"{n}#{i}" for i, (n, _) in enumerate(ENTRIES)]
)
def test_entry_names_a_method_with_its_parameters(name: str, args: list[str]) -> None:
    assert name in public_methods(), (
        f"CONTRACT.md documents store.{name}(), Store has no such method"
    )
    params = parameter_names(name, args)
    accepted = inspect.signature(getattr(Store, name)).parameters
    if any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        return
    unknown = [p for p in params if p not in accepted]
    assert not unknown, (
        f"CONTRACT.md lists parameters {unknown} of store.{name}(); the code has {list(accepted)}"
    )
    if any(arg.startswith("...") for arg in args):
        return  # the entry points at the prose (or another entry) for the rest
    # A caller following the entry must be able to make the call.
    required = [
        p.name
        for p in accepted.values()
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in ("self", "cls")
    ]
    unlisted = [p for p in required if p not in params]
    assert not unlisted, f"store.{name}() requires {unlisted}, which CONTRACT.md does not list"


def test_every_public_method_is_documented() -> None:
    names = {name for name, _ in ENTRIES}
    missing = [m for m in public_methods() if m not in names]
    assert not missing, f"public Store methods without a CONTRACT.md entry: {missing}"
