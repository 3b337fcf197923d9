"""Policy strings with ``*``/``?`` wildcards and ``${...}`` policy variables.

Owns the one way a policy string is read and matched: ``parse_pattern``
splits the text into literal runs, wildcards and variables once, at put
time; ``expand`` (literal comparison) and ``compile_pattern`` (wildcard
match) resolve the variables from a request's context at evaluation time.

Rules (IAM's):
- ``*`` matches any run of characters (also ``/`` and newlines), ``?`` one;
- ``${key}`` is replaced by the request's value for ``key`` (a single
  value); ``${key, 'default'}`` falls back to the default; a variable that
  cannot be resolved makes the string match nothing;
- ``${*}``, ``${?}`` and ``${$}`` are a literal ``*``, ``?`` and ``$``;
- a substituted value is literal text: its own ``*`` is not a wildcard;
- with ``Version`` ``2008-10-17`` there are no variables: ``${...}`` is text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache


class Wild(Enum):
    """A wildcard part of a pattern."""

    STAR = "*"
    ONE = "?"


@dataclass(slots=True, frozen=True)
class Var:
    """A policy variable ``${key}`` or ``${key, 'default'}``."""

    key: str
    default: str | None = None


Part = str | Wild | Var

# A lookup returns the single value of a context key (any case), or None.
Lookup = Callable[[str], str | None]

_VAR_KEY = re.compile(r"[A-Za-z0-9]+:[A-Za-z0-9_./-]+")
_VAR_BODY = re.compile(r"\s*([^,\s]+)\s*(?:,\s*'([^']*)'\s*)?")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def _no_vars(_key: str) -> str | None:
    return None


@dataclass(slots=True, frozen=True)
class Pattern:
    """A parsed policy string; ``text`` is exactly what the policy said.

    A pattern without variables is compiled once, when it is made.
    """

    text: str
    parts: tuple[Part, ...]
    has_variables: bool = field(init=False, compare=False, repr=False)
    has_wildcards: bool = field(init=False, compare=False, repr=False)
    _literal: str | None = field(init=False, compare=False, repr=False)
    _rx: re.Pattern[str] | None = field(init=False, compare=False, repr=False)
    _rx_i: re.Pattern[str] | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        dynamic = any(isinstance(p, Var) for p in self.parts)
        wild = any(isinstance(p, Wild) for p in self.parts)
        set_ = object.__setattr__
        set_(self, "has_variables", dynamic)
        set_(self, "has_wildcards", wild)
        set_(self, "_literal", None if dynamic else expand(self, _no_vars))
        rx = rx_i = None
        if not dynamic:
            rx = compile_pattern(self, _no_vars)
            rx_i = compile_pattern(self, _no_vars, ignore_case=True)
        set_(self, "_rx", rx)
        set_(self, "_rx_i", rx_i)

    def literal_prefix(self) -> str:
        """The text before the first wildcard or variable."""
        out = []
        for p in self.parts:
            if not isinstance(p, str):
                break
            out.append(p)
        return "".join(out)


def parse_pattern(text: str, *, variables: bool = True) -> Pattern:
    """Split ``text`` into parts; raise ValueError on a malformed variable."""
    parts: list[Part] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            parts.append("".join(buf))
            buf.clear()

    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "*" or c == "?":
            flush()
            parts.append(Wild(c))
            i += 1
        elif variables and c == "$" and text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                raise ValueError(f"unclosed policy variable in {text!r}")
            body = text[i + 2 : end]
            if body in _ESCAPES:
                buf.append(_ESCAPES[body])
            else:
                flush()
                parts.append(_parse_var(body))
            i = end + 1
        else:
            buf.append(c)
            i += 1
    flush()
    return Pattern(text, tuple(parts))


def _parse_var(body: str) -> Var:
    m = _VAR_BODY.fullmatch(body)
    if m is None or _VAR_KEY.fullmatch(m.group(1)) is None:
        raise ValueError(f"bad policy variable ${{{body}}}")
    return Var(m.group(1), m.group(2))


def _value(var: Var, lookup: Lookup) -> str | None:
    got = lookup(var.key)
    return var.default if got is None else got


def expand(pattern: Pattern, lookup: Lookup) -> str | None:
    """The string with variables replaced and wildcards kept as text.

    None when a variable has no value and no default.
    """
    out: list[str] = []
    for p in pattern.parts:
        if isinstance(p, str):
            out.append(p)
        elif isinstance(p, Wild):
            out.append(p.value)
        else:
            v = _value(p, lookup)
            if v is None:
                return None
            out.append(v)
    return "".join(out)


def compile_pattern(
    pattern: Pattern, lookup: Lookup, *, ignore_case: bool = False
) -> re.Pattern[str] | None:
    """A compiled regular expression for a wildcard match, or None (unresolvable)."""
    out: list[str] = []
    for p in pattern.parts:
        if isinstance(p, str):
            out.append(re.escape(p))
        elif p is Wild.STAR:
            out.append(".*")
        elif p is Wild.ONE:
            out.append(".")
        else:
            v = _value(p, lookup)
            if v is None:
                return None
            out.append(re.escape(v))
    return _compiled("".join(out), ignore_case)


@lru_cache(maxsize=4096)
def _compiled(source: str, ignore_case: bool) -> re.Pattern[str]:
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(source, flags)


def wildcard_match(
    pattern: Pattern, value: str, lookup: Lookup = _no_vars, *, ignore_case: bool = False
) -> bool:
    """True if ``value`` matches ``pattern`` with wildcards active."""
    if not pattern.has_variables:
        if not pattern.has_wildcards and not ignore_case:
            return pattern._literal == value
        rx = pattern._rx_i if ignore_case else pattern._rx
    else:
        rx = compile_pattern(pattern, lookup, ignore_case=ignore_case)
    return rx is not None and rx.fullmatch(value) is not None


def arn_match(pattern: Pattern, value: str, lookup: Lookup = _no_vars) -> bool:
    """ArnLike/ArnEquals: the six colon-separated parts are matched one by one.

    A wildcard in one of the first five parts does not cross a colon; the
    sixth part (resource) takes the rest of the string, colons included.
    """
    if pattern.parts == (Wild.STAR,):
        return True
    vparts = value.split(":", 5)
    pparts = _split_parts(pattern, 6)
    if len(vparts) != 6 or pparts is None:
        return False
    return all(wildcard_match(pp, vp, lookup) for pp, vp in zip(pparts, vparts, strict=True))


def _split_parts(pattern: Pattern, count: int) -> list[Pattern] | None:
    """Split a pattern at its first ``count - 1`` literal colons."""
    out: list[list[Part]] = [[]]
    for p in pattern.parts:
        if isinstance(p, str) and len(out) < count:
            pieces = p.split(":", count - len(out))
            out[-1].append(pieces[0])
            for piece in pieces[1:]:
                out.append([piece] if piece else [])
        else:
            out[-1].append(p)
    if len(out) != count:
        return None
    return [Pattern("", tuple(x for x in parts if x != "")) for parts in out]
