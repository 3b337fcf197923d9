"""The requires() wrapper's argument binder agrees with inspect.Signature.bind."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from objfs.store.access import _binder


def method(
    self: Any, ctx: Any, bucket: str, key: str, *, version_id: str | None = None, n: int = 3
) -> None:
    pass


def reference(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    bound = inspect.signature(method).bind("self", "ctx", *args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("b", "k"), {}),
        (("b",), {"key": "k"}),
        ((), {"key": "k", "bucket": "b", "n": 5}),
        (("b", "k"), {"version_id": "v1"}),
    ],
)
def test_same_arguments_in_the_same_order(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    got = _binder(inspect.signature(method))("self", "ctx", args, kwargs)
    assert list(got.items()) == list(reference(args, kwargs).items())


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("b", "k", "extra"), {}),
        (("b",), {}),
        (("b", "k"), {"nope": 1}),
        (("b", "k"), {"key": "again"}),
    ],
)
def test_a_bad_call_fails_as_inspect_says(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError) as want:
        reference(args, kwargs)
    with pytest.raises(TypeError) as got:
        _binder(inspect.signature(method))("self", "ctx", args, kwargs)
    assert str(got.value) == str(want.value)


def test_other_signatures_go_the_general_way() -> None:
    def varargs(self: Any, ctx: Any, *items: str, **extra: Any) -> None:
        pass

    bind = _binder(inspect.signature(varargs))
    # **kwargs passed on (post_object -> put_object) are bound by their own
    # names, so the condition keys see them as the called method's would
    assert bind("self", "ctx", ("a", "b"), {"z": 1, "sse": "AES256"}) == {
        "self": "self",
        "ctx": "ctx",
        "items": ("a", "b"),
        "z": 1,
        "sse": "AES256",
    }
