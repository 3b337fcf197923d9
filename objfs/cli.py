"""The ``objfs`` command: argument parsing, dispatch and the error-to-exit-status table.

Owns the command-line surface. Handlers live in ``cli_admin`` (store and
buckets), ``cli_transfer`` (put/get/cp), ``cli_listing`` (ls/versions/
head/rm) and ``cli_kms``; rendering in ``cli_output``; the encryption flags
and the ``kms`` commands are defined in ``cli_crypto_args``.

Invariants: exit 0 on success, 1 on a refused request or user mistake with
exactly one ``objfs: ...`` line on stderr, 2 on a usage error (argparse),
130 on Ctrl-C; a user mistake never prints a traceback (``--debug`` or
``OBJFS_DEBUG=1`` shows one for bugs).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from objfs import __version__
from objfs.cli_args import (
    CliError,
    parse_grace,
    parse_meta,
    parse_range,
    parse_size,
    resolve_master_key_file,
    resolve_store_path,
)
from objfs.cli_crypto_args import (
    add_bucket_encryption,
    add_kms_actions,
    add_read_encryption,
    add_write_encryption,
)
from objfs.errors import ObjfsError

Handler = Callable[..., int]
log = logging.getLogger("objfs.cli")

DESCRIPTION = """\
objfs: an object store with S3 semantics that you mount as a filesystem.

Objects are addressed as s3://BUCKET/KEY. The store is --store DIR, else
$OBJFS_STORE, else /var/lib/objfs (root) or ~/.local/share/objfs."""

MAIN_EPILOG = """\
examples:
  objfs init
  objfs bucket create photos --versioning
  objfs put holiday.jpg s3://photos/2026/holiday.jpg
  objfs ls s3://photos/2026/
  objfs mount photos /mnt/photos

Run `objfs COMMAND --help` for the options of a command."""


def _common_options() -> argparse.ArgumentParser:
    """Options accepted both before and after the subcommand.

    Defaults are SUPPRESS so a subcommand that does not see the option does
    not overwrite what the main parser already set.
    """
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("global options")
    group.add_argument(
        "--store",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="store directory (default: $OBJFS_STORE, else the platform default)",
    )
    group.add_argument(
        "--master-key-file",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="the store's master key (default: $OBJFS_MASTER_KEY_FILE, else the systemd "
        "credential objfs-master-key, else STORE/keys/master.key)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="machine-readable JSON output for listings and reports",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print only requested data and errors (no confirmations, no progress)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug logging; show a traceback for unexpected errors",
    )
    return common


class _Builder:
    """Adds subcommands with one shared style: an example epilog on every one."""

    def __init__(self, subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser):
        self.subparsers = subparsers
        self.common = common

    def add(
        self, name: str, handler: Handler, summary: str, example: str
    ) -> argparse.ArgumentParser:
        parser = self.subparsers.add_parser(
            name,
            help=summary,
            description=summary,
            epilog="example:\n" + "\n".join("  " + line for line in example.splitlines()),
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[self.common],
        )
        parser.set_defaults(handler=handler)
        return parser


def _lazy(module: str, name: str) -> Handler:
    """A handler imported on first use: ``--help`` stays fast and store-free."""

    def run(app: object, args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(module), name)(app, args)

    run.__name__ = name
    return run


ADMIN, TRANSFER, LISTING = "objfs.cli_admin", "objfs.cli_transfer", "objfs.cli_listing"
KMS = "objfs.cli_kms"


def _add_bucket_commands(build: _Builder, common: argparse.ArgumentParser) -> None:
    bucket = build.add(
        "bucket",
        _lazy(ADMIN, "cmd_bucket_ls"),
        "create, list and remove buckets; set versioning",
        "objfs bucket create photos --versioning\nobjfs bucket ls",
    )
    sub = bucket.add_subparsers(dest="bucket_command", metavar="ACTION", required=True)
    inner = _Builder(sub, common)
    p = inner.add(
        "create",
        _lazy(ADMIN, "cmd_bucket_create"),
        "create a bucket (S3 naming rules: 3-63 chars of a-z 0-9 . -)",
        "objfs bucket create photos --region local --versioning",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--region", default="local", help="region label (default: local)")
    p.add_argument("--versioning", action="store_true", help="enable versioning at creation")
    inner.add("ls", _lazy(ADMIN, "cmd_bucket_ls"), "list buckets", "objfs bucket ls --json")
    p = inner.add(
        "rm",
        _lazy(ADMIN, "cmd_bucket_rm"),
        "remove an empty bucket (no versions, no delete markers)",
        "objfs bucket rm scratch",
    )
    p.add_argument("name", metavar="NAME")
    p = inner.add(
        "versioning",
        _lazy(ADMIN, "cmd_bucket_versioning"),
        "show or set a bucket's versioning state",
        "objfs bucket versioning photos Enabled\nobjfs bucket versioning photos",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "state",
        nargs="?",
        type=str.capitalize,
        choices=["Enabled", "Suspended"],
        help="new state; omit to print the current one",
    )
    add_bucket_encryption(inner, lambda name: _lazy(ADMIN, name))


def _add_kms_commands(build: _Builder, common: argparse.ArgumentParser) -> None:
    kms = build.add(
        "kms",
        _lazy(KMS, "cmd_kms_ls"),
        "manage SSE-KMS keys: create, alias, disable/enable, rotate, delete, audit",
        "KEY=$(objfs kms create-key)\nobjfs kms alias photos $KEY\n"
        "objfs put a.jpg s3://photos/a.jpg --sse-kms-key-id alias/photos\nobjfs kms audit",
    )
    sub = kms.add_subparsers(dest="kms_command", metavar="ACTION", required=True)
    add_kms_actions(_Builder(sub, common), lambda name: _lazy(KMS, name))


def _add_object_commands(build: _Builder) -> None:
    p = build.add(
        "put",
        _lazy(TRANSFER, "cmd_put"),
        "upload a file, stdin (-) or a directory (--recursive)",
        "objfs put report.pdf s3://docs/2026/report.pdf\n"
        "tar c src | objfs put - s3://backups/src.tar\n"
        "objfs put --recursive ./site s3://www/\n"
        "objfs put tax.pdf s3://vault/tax.pdf --sse-kms-key-id alias/vault\n"
        "objfs put tax.pdf s3://vault/tax.pdf --cse-key-file ~/.objfs/client.key",
    )
    p.add_argument("src", metavar="SRC", help="local file, directory, or - for stdin")
    p.add_argument("dest", metavar="s3://BUCKET/KEY", help="a key ending in / gets SRC's name")
    _add_upload_options(p)
    add_write_encryption(p, copy=False)

    p = build.add(
        "get",
        _lazy(TRANSFER, "cmd_get"),
        "download an object to a file, a directory or stdout (-)",
        "objfs get s3://docs/2026/report.pdf\n"
        "objfs get s3://docs/log.txt - --range 0-99\n"
        "objfs get s3://docs/a.txt old-a.txt --version-id 0000000001a2b3c4\n"
        "objfs get s3://vault/tax.pdf --cse-key-file ~/.objfs/client.key",
    )
    p.add_argument("src", metavar="s3://BUCKET/KEY")
    p.add_argument("dest", metavar="DEST", nargs="?", help="file, directory or - (default: ./NAME)")
    p.add_argument("--version-id", metavar="V", help="read this version instead of the latest")
    p.add_argument(
        "--range",
        metavar="A-B",
        type=parse_range,
        help="bytes A to B inclusive; A- or -N also work",
    )
    add_read_encryption(p)

    p = build.add(
        "head",
        _lazy(LISTING, "cmd_head"),
        "show an object's metadata",
        "objfs head s3://docs/2026/report.pdf --json",
    )
    p.add_argument("url", metavar="s3://BUCKET/KEY")
    p.add_argument("--version-id", metavar="V", help="show this version instead of the latest")
    add_read_encryption(p)

    p = build.add(
        "ls",
        _lazy(LISTING, "cmd_ls"),
        "list buckets, or keys under a prefix (PRE lines are common prefixes)",
        "objfs ls\nobjfs ls s3://docs/2026/\nobjfs ls --recursive --json s3://docs",
    )
    p.add_argument("url", metavar="s3://BUCKET[/PREFIX]", nargs="?")
    p.add_argument("-r", "--recursive", action="store_true", help="all keys, no folding at /")

    p = build.add(
        "versions",
        _lazy(LISTING, "cmd_versions"),
        "list every version and delete marker under a prefix, newest first per key",
        "objfs versions s3://docs/2026/report.pdf",
    )
    p.add_argument("url", metavar="s3://BUCKET[/PREFIX]")

    p = build.add(
        "rm",
        _lazy(LISTING, "cmd_rm"),
        "delete a key (a delete marker if versioned), one version, or a prefix",
        "objfs rm s3://docs/draft.txt\n"
        "objfs rm s3://docs/draft.txt --version-id 0000000001a2b3c4\n"
        "objfs rm --recursive s3://docs/tmp/\n"
        "objfs rm --recursive --all-versions s3://scratch   # empty a bucket for good",
    )
    p.add_argument("url", metavar="s3://BUCKET/KEY")
    p.add_argument("--version-id", metavar="V", help="remove this version permanently")
    p.add_argument("-r", "--recursive", action="store_true", help="every key under the prefix")
    p.add_argument(
        "--all-versions",
        action="store_true",
        help="with --recursive: remove every version and delete marker permanently",
    )

    p = build.add(
        "cp",
        _lazy(TRANSFER, "cmd_cp"),
        "copy s3->s3 (shares chunks: metadata only), local->s3 or s3->local",
        "objfs cp s3://docs/a.txt s3://archive/2026/a.txt\n"
        "objfs cp notes.txt s3://docs/\n"
        "objfs cp --recursive s3://docs/2026/ ./docs-2026",
    )
    p.add_argument("src", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--version-id", metavar="V", help="copy this version of an s3:// source")
    _add_upload_options(p)
    add_write_encryption(p, copy=True)


def _add_upload_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", "--recursive", action="store_true", help="copy a directory/prefix tree")
    p.add_argument("--content-type", metavar="TYPE", help="default: guessed from the file name")
    p.add_argument(
        "--meta",
        metavar="K=V",
        type=parse_meta,
        action="append",
        help="user metadata (x-amz-meta-K); repeatable",
    )


def _add_init_command(build: _Builder) -> None:
    p = build.add(
        "init",
        _lazy(ADMIN, "cmd_init"),
        "create a new store (refuses an existing one)",
        "objfs --store /srv/objfs init --chunk-size 4M",
    )
    p.add_argument(
        "--chunk-size", type=parse_size, default=1 << 20, metavar="SIZE", help="default: 1M"
    )


def _add_maintenance_commands(build: _Builder) -> None:
    p = build.add(
        "fsck",
        _lazy(ADMIN, "cmd_fsck"),
        "check the store; exit 1 if problems remain",
        "objfs fsck\nobjfs fsck --repair",
    )
    p.add_argument("--repair", action="store_true", help="fix what can be fixed")
    p = build.add(
        "gc",
        _lazy(ADMIN, "cmd_gc"),
        "remove chunks no version references any more",
        "objfs gc --grace 0",
    )
    p.add_argument(
        "--grace",
        type=parse_grace,
        default=3600,
        metavar="SECONDS",
        help="keep unreferenced chunks younger than this (default: 3600)",
    )
    p = build.add(
        "mount",
        _lazy(ADMIN, "cmd_mount"),
        "mount a bucket as a directory (daemon; -f stays in the foreground)",
        "objfs mount photos /mnt/photos -o allow_other,uid=1000\n"
        "ls /mnt/photos/.versions/2026/holiday.jpg/",
    )
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("mountpoint", metavar="MOUNTPOINT")
    p.add_argument(
        "-o", dest="options", action="append", metavar="OPTS", help="mount options, comma-separated"
    )
    p.add_argument("-f", "--foreground", action="store_true", help="do not daemonize")
    p = build.add(
        "umount", _lazy(ADMIN, "cmd_umount"), "unmount a mounted bucket", "objfs umount /mnt/photos"
    )
    p.add_argument("mountpoint", metavar="MOUNTPOINT")


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="objfs",
        description=DESCRIPTION,
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"objfs {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    build = _Builder(subparsers, common)
    _add_init_command(build)
    _add_bucket_commands(build, common)
    _add_object_commands(build)
    _add_maintenance_commands(build)
    _add_kms_commands(build, common)
    return parser


def _run(args: argparse.Namespace) -> int:
    from objfs.cli_app import CliApp

    app = CliApp(
        store_path=resolve_store_path(getattr(args, "store", None)),
        json=getattr(args, "json", False),
        quiet=getattr(args, "quiet", False),
        master_key_file=resolve_master_key_file(getattr(args, "master_key_file", None)),
    )
    try:
        return args.handler(app, args)
    finally:
        app.close()


def _quiet_broken_pipe() -> int:
    # The reader went away (e.g. `objfs get ... - | head`): point stdout at
    # /dev/null so the interpreter's final flush does not complain again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False) or os.environ.get("OBJFS_DEBUG") == "1"
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="objfs: %(levelname)s %(name)s: %(message)s",
    )
    try:
        return _run(args)
    except (ObjfsError, CliError) as err:
        print("objfs: " + " ".join(str(err).split()), file=sys.stderr)  # always one line
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except OSError as err:
        if debug:
            raise
        where = f": {err.filename}" if err.filename else ""
        print(f"objfs: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except Exception as err:  # a bug: say so in one line unless debugging
        if debug:
            raise
        log.debug("unexpected error", exc_info=True)
        print(
            f"objfs: internal error: {type(err).__name__}: {err} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":
    sys.exit(main())
