"""The command-line surface of encryption: per-request flags, ``bucket encryption``, ``kms``.

Owns the argparse definitions only (``objfs/cli.py`` calls these builders);
the handlers are ``cli_crypto`` (transfers), ``cli_admin`` and ``cli_kms``.
Invariants: importing this module touches neither the store nor any key
file, so ``--help`` stays fast; every command added here has an example.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from objfs.cli_args import SSE_MODES, parse_positive_int, parse_sse_mode

Handler = Callable[..., int]
Lazy = Callable[[str], Handler]

_SSE_HELP = (
    "server-side encryption of the new object: none, AES256 (SSE-S3) or aws:kms "
    "(SSE-KMS); default: the bucket's"
)
_KMS_HELP = "SSE-KMS key: id, ARN or alias/NAME (implies --sse aws:kms)"
_SSE_C_HELP = "SSE-C: file holding the 256-bit customer key (32 raw bytes or 64 hex characters)"
_CSE_HELP = "client-side encryption: file holding the 256-bit client key (32 raw bytes or 64 hex)"


def add_write_encryption(p: argparse.ArgumentParser, *, copy: bool) -> None:
    """``put`` and ``cp``: how new data is encrypted (and, for cp, the source's SSE-C key)."""
    group = p.add_argument_group("encryption")
    group.add_argument("--sse", type=parse_sse_mode, choices=SSE_MODES, help=_SSE_HELP)
    group.add_argument("--sse-kms-key-id", metavar="KEY", help=_KMS_HELP)
    group.add_argument(
        "--sse-c-key-file",
        metavar="FILE",
        help=_SSE_C_HELP + ("; for cp to a local file, the source's key" if copy else ""),
    )
    group.add_argument(
        "--cse-key-file",
        metavar="FILE",
        help=_CSE_HELP + (" (uploads and downloads)" if copy else ""),
    )
    if copy:
        group.add_argument(
            "--copy-source-sse-c-key-file",
            metavar="FILE",
            help="SSE-C key of an s3:// source of an s3:// to s3:// copy",
        )


def add_read_encryption(p: argparse.ArgumentParser) -> None:
    """``get`` and ``head``: the keys an encrypted object needs to be read."""
    group = p.add_argument_group("encryption")
    group.add_argument("--sse-c-key-file", metavar="FILE", help=_SSE_C_HELP)
    group.add_argument("--cse-key-file", metavar="FILE", help=_CSE_HELP)


def add_bucket_encryption(inner: Any, lazy: Lazy) -> None:
    p = inner.add(
        "encryption",
        lazy("cmd_bucket_encryption"),
        "show or set a bucket's default encryption for new objects",
        "objfs bucket encryption photos aws:kms --kms-key-id alias/photos\n"
        "objfs bucket encryption photos",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "mode",
        nargs="?",
        type=parse_sse_mode,
        choices=SSE_MODES,
        help="none, AES256 (SSE-S3, the default) or aws:kms; omit to print the current one",
    )
    p.add_argument(
        "--kms-key-id",
        metavar="KEY",
        help="with aws:kms: key id, ARN or alias/NAME (default: the store's key alias/aws/s3)",
    )


def add_kms_actions(inner: Any, lazy: Lazy) -> None:
    """``objfs kms ACTION``; ``inner`` is the CLI's subcommand builder for ``kms``."""
    p = inner.add(
        "create-key",
        lazy("cmd_kms_create_key"),
        "create a KMS key; prints its id",
        'KEY=$(objfs kms create-key --description "photo archive")',
    )
    p.add_argument("--description", metavar="TEXT", help="free text shown by kms ls")

    p = inner.add(
        "alias",
        lazy("cmd_kms_alias"),
        "point alias/NAME at a key, or delete an alias",
        "objfs kms alias photos $KEY\nobjfs kms alias --delete photos",
    )
    p.add_argument("alias", metavar="NAME", help="NAME or alias/NAME")
    p.add_argument("key", metavar="KEY", nargs="?", help="key id, ARN or alias/OTHER")
    p.add_argument("--delete", action="store_true", help="delete the alias (the key stays)")

    inner.add(
        "ls",
        lazy("cmd_kms_ls"),
        "list KMS keys (deleted ones are not listed)",
        "objfs kms ls --json",
    )

    for name, handler, summary, example in (
        ("describe", "cmd_kms_describe", "show one KMS key", "objfs kms describe alias/photos"),
        (
            "disable",
            "cmd_kms_disable",
            "disable a key: data under it can be neither read nor written",
            "objfs kms disable alias/photos",
        ),
        ("enable", "cmd_kms_enable", "enable a disabled key", "objfs kms enable alias/photos"),
        (
            "rotate",
            "cmd_kms_rotate",
            "new key material for new data; older data stays readable",
            "objfs kms rotate alias/photos",
        ),
        (
            "cancel-deletion",
            "cmd_kms_cancel_deletion",
            "keep a key pending deletion (it comes back Disabled)",
            "objfs kms cancel-deletion alias/photos",
        ),
    ):
        p = inner.add(name, lazy(handler), summary, example)
        p.add_argument("key", metavar="KEY", help="key id, ARN or alias/NAME")

    p = inner.add(
        "schedule-deletion",
        lazy("cmd_kms_schedule_deletion"),
        "destroy a key's material after N days (7-30); its data is then lost for good",
        "objfs kms schedule-deletion alias/old --days 30",
    )
    p.add_argument("key", metavar="KEY", help="key id, ARN or alias/NAME")
    p.add_argument(
        "--days", type=parse_positive_int, required=True, metavar="N", help="waiting period, 7-30"
    )

    p = inner.add(
        "audit",
        lazy("cmd_kms_audit"),
        "every use and change of KMS keys, oldest first: time, principal, interface, "
        "operation, key, object, error",
        "objfs kms audit --key alias/photos --limit 20",
    )
    p.add_argument("--key", metavar="KEY", help="only this key (id, ARN or alias/NAME)")
    p.add_argument(
        "--limit",
        type=parse_positive_int,
        default=1000,
        metavar="N",
        help="the newest N entries (default: 1000)",
    )
