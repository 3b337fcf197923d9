"""The ``objfs`` command: global options, dispatch and the error-to-exit-status table.

Owns the top of the command-line surface. Each command group registers its
own subcommands and handlers (see the package docstring); this module only
assembles them and turns errors into one line and an exit status.

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
from collections.abc import Sequence
from pathlib import Path

from objfs import __version__
from objfs.cli import (
    buckets,
    kms,
    lifecycle,
    listing,
    maintenance,
    mfa,
    mounting,
    objectlock,
    policy,
    presign,
    serve,
    storecopy,
    tagging,
    transfer,
    users,
)
from objfs.cli.app import CliApp
from objfs.cli.args import CliError, resolve_master_key_file, resolve_store_path
from objfs.cli.builder import Builder
from objfs.errors import ObjfsError

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
        "--profile",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="act as the user whose access key is profile NAME of the credentials file "
        "(default: $OBJFS_PROFILE; else $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY; "
        "else the store owner)",
    )
    group.add_argument(
        "--credentials-file",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="aws-style credentials file (default: $OBJFS_CREDENTIALS_FILE, "
        "else ~/.config/objfs/credentials)",
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
    build = Builder(subparsers, common)
    for group in (
        maintenance,
        buckets,
        transfer,
        listing,
        objectlock,
        mounting,
        kms,
        users,
        mfa,
        serve,
        presign,
        tagging,
        lifecycle,
        storecopy,
    ):
        group.register(build)
    policy.register_acl(build)
    policy.register_simulate(build)
    return parser


def _run(args: argparse.Namespace) -> int:
    app = CliApp(
        store_path=resolve_store_path(getattr(args, "store", None)),
        json=getattr(args, "json", False),
        quiet=getattr(args, "quiet", False),
        master_key_file=resolve_master_key_file(getattr(args, "master_key_file", None)),
        profile=getattr(args, "profile", None),
        credentials_file=_path(getattr(args, "credentials_file", None)),
        mfa=getattr(args, "mfa", None),
    )
    try:
        return args.handler(app, args)
    finally:
        app.close()


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser().absolute() if value else None


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
