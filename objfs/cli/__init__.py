"""The ``objfs`` command line: an adapter that parses, calls the store, renders.

One module per command group, each with a ``register(build)`` that declares
its subcommands next to their handlers:

- ``maintenance``: ``init``, ``fsck``, ``gc``
- ``buckets``: ``bucket create|ls|rm|versioning|encryption``
- ``transfer``: ``put``, ``get``, ``cp``; ``listing``: ``ls``, ``versions``,
  ``head``, ``rm``
- ``mounting``: ``mount``, ``umount``; ``mount_helper``: ``mount.objfs``
- ``kms``: ``kms ...``; ``objectlock``: ``lock config|retain|hold|show``

Shared pieces: ``main`` (global options, dispatch, errors), ``builder`` (the
subcommand style), ``args`` (argument types), ``app`` (the store handle and
identity of one invocation), ``output`` (rendering), ``crypto`` and
``crypto_args`` (encryption flags and the client-side data path). No rule of
S3 lives here: the store decides, the CLI translates.
"""

from objfs.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
