"""How every ``objfs`` subcommand is declared: one style, an example on each.

Owns ``Builder``, which command-group modules (``buckets``, ``transfer``,
``listing``, ``kms``, ...) use in their ``register(build)`` function.
Invariant: every subcommand has a one-line summary and an ``example:``
epilog, and accepts the global options after its name as well as before.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[..., int]


class Builder:
    """Adds subcommands with one shared style: an example epilog on every one."""

    def __init__(
        self, subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser
    ) -> None:
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

    def group(self, parser: argparse.ArgumentParser, dest: str) -> Builder:
        """A builder for the actions of a command group (``objfs bucket ACTION``)."""
        sub = parser.add_subparsers(dest=dest, metavar="ACTION", required=True)
        return Builder(sub, self.common)
