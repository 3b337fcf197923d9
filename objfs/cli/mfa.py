"""CLI MFA devices: ``objfs mfa enable|ls|disable``.

Owns registering the store owner's TOTP device (RFC 6238) and showing its
secret the one time it exists: as text, as an ``otpauth://`` URI, and as a
QR code an authenticator app can scan when stdout is a terminal. Every rule
(one device, replacing it, codes used once) is the store's
(``objfs/store/mfa.py``). A code travels as ``--mfa "SERIAL CODE"`` on the
commands that need one (``main`` hands it to ``CliApp``, which puts it on the request context).

Invariant: the secret is printed once, to stdout only, never logged.
"""

from __future__ import annotations

import argparse
import sys

from objfs.cli.app import CliApp
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json, iso_time, local_time

MFA_HELP = 'a code from the MFA device: "SERIAL CODE" (serial from `objfs mfa ls`)'


def add_mfa_option(parser: argparse.ArgumentParser, *, required: bool = False, what: str) -> None:
    """``--mfa "SERIAL CODE"`` on a command; ``CliApp.ctx`` carries it on every request."""
    parser.add_argument(
        "--mfa", metavar='"SERIAL CODE"', required=required, help=f"{MFA_HELP}; {what}"
    )


def _print_qr(uri: str) -> None:
    import segno  # only when drawing: the rest of the CLI does not pay for it

    compact = (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
    segno.make(uri, error="m").terminal(out=sys.stdout, compact=compact, border=2)


def cmd_mfa_enable(app: CliApp, args: argparse.Namespace) -> int:
    device = app.store.mfa_enable(app.ctx)
    if app.json:
        dump_json(
            {"serial": device.serial, "secret": device.secret, "otpauth_uri": device.otpauth_uri}
        )
        return 0
    print(f"serial:  {device.serial}")
    print(f"secret:  {device.secret}")
    print(f"uri:     {device.otpauth_uri}")
    if sys.stdout.isatty():
        _print_qr(device.otpauth_uri)
    app.say(
        "Add it to an authenticator app (scan the QR code, or type the secret): it is not "
        "shown again.\n"
        f'Then pass codes as --mfa "{device.serial} CODE", e.g.\n'
        f"  objfs bucket versioning BUCKET Enabled --mfa-delete Enabled "
        f'--mfa "{device.serial} 123456"'
    )
    return 0


def cmd_mfa_ls(app: CliApp, args: argparse.Namespace) -> int:
    devices = app.store.mfa_list(app.ctx)
    if app.json:
        dump_json(
            [
                {
                    "serial": d.serial,
                    "principal": d.principal,
                    "created": iso_time(d.created_ns),
                    "last_used": iso_time(d.last_used_ns) if d.last_used_ns else None,
                }
                for d in devices
            ]
        )
        return 0
    for d in devices:
        used = local_time(d.last_used_ns) if d.last_used_ns else "never used"
        print(f"{local_time(d.created_ns)}  {d.principal:<10} {d.serial}  (last code: {used})")
    if not devices and not app.quiet:
        print("no MFA device (register one with `objfs mfa enable`)", file=sys.stderr)
    return 0


def cmd_mfa_disable(app: CliApp, args: argparse.Namespace) -> int:
    serial = app.store.mfa_disable(app.ctx)
    app.say(f"removed MFA device {serial}")
    return 0


def register(build: Builder) -> None:
    mfa = build.add(
        "mfa",
        cmd_mfa_ls,
        "the store owner's MFA device (TOTP) for MFA delete",
        "objfs mfa enable\nobjfs mfa ls",
    )
    inner = build.group(mfa, "mfa_command")
    p = inner.add(
        "enable",
        cmd_mfa_enable,
        "register a TOTP device; print its serial, secret, otpauth:// URI (and a QR code on a "
        "terminal)",
        "objfs mfa enable\n"
        'objfs mfa enable --mfa "arn:objfs:iam::owner:mfa/root 123456"   # replace the device',
    )
    add_mfa_option(p, what="needed to replace a registered device")
    inner.add("ls", cmd_mfa_ls, "list MFA devices", "objfs mfa ls --json")
    p = inner.add(
        "disable",
        cmd_mfa_disable,
        "remove the MFA device (refused while a bucket has MFA delete on)",
        'objfs mfa disable --mfa "arn:objfs:iam::owner:mfa/root 123456"',
    )
    add_mfa_option(p, required=True, what="a current code from the device")
