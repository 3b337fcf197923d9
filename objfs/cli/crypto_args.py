"""The command-line surface of encryption: the per-request flags.

Owns the per-request encryption flags of ``put``, ``cp``, ``get`` and ``head``;
``crypto`` turns them into store requests.
Invariants: importing this module touches neither the store nor any key
file, so ``--help`` stays fast; every command added here has an example.
"""

from __future__ import annotations

import argparse

from objfs.cli.args import SSE_MODES, parse_sse_mode

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
