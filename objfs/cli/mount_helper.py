"""``mount.objfs``: the mount(8) helper, so objfs works from /etc/fstab and
systemd ``.mount`` units.

Calling convention (mount(8)): ``mount.objfs SPEC DIR [-sfnv] [-o OPTIONS]``
where SPEC is ``BUCKET`` or ``BUCKET/PREFIX``. ``-s`` (sloppy) drops unknown
options instead of failing, ``-f`` (fake) checks the options and stops,
``-n`` (no mtab) and ``-v`` (verbose) are accepted. The store comes from
``-o store=DIR``, else ``$OBJFS_STORE``, else the default for the user.
Example fstab line::

    photos  /srv/photos  objfs  store=/var/lib/objfs,allow_other,_netdev  0 0
"""

from __future__ import annotations

import sys

from objfs.fs.options import MountOptionError, normalize_prefix, parse_options

USAGE = "usage: mount.objfs BUCKET[/PREFIX] MOUNTPOINT [-sfnv] [-o OPTIONS]"


def _sloppy_filter(text: str) -> str:
    kept = []
    for item in text.split(","):
        try:
            parse_options(item)
        except MountOptionError as err:
            if str(err).startswith("unknown mount option"):
                continue
        kept.append(item)
    return ",".join(kept)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    positional: list[str] = []
    options: list[str] = []
    flags: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-o":
            if i + 1 >= len(args):
                print(f"mount.objfs: -o needs a value\n{USAGE}", file=sys.stderr)
                return 2
            options.append(args[i + 1])
            i += 2
            continue
        if arg.startswith("-o"):
            options.append(arg[2:])
        elif arg in ("-h", "--help"):
            print(USAGE)
            return 0
        elif arg.startswith("-") and len(arg) > 1:
            unknown = set(arg[1:]) - set("sfnv")
            if unknown:
                print(
                    f"mount.objfs: unknown flag -{''.join(sorted(unknown))}\n{USAGE}",
                    file=sys.stderr,
                )
                return 2
            flags.update(arg[1:])
        else:
            positional.append(arg)
        i += 1
    if len(positional) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    spec, mountpoint = positional
    text = ",".join(o for o in options if o)
    if "s" in flags:
        text = _sloppy_filter(text)
    bucket, _, prefix = spec.partition("/")
    try:
        parsed = parse_options(text)
        if prefix:
            if parsed.prefix:
                raise MountOptionError("prefix given both in BUCKET/PREFIX and -o prefix=")
            normalize_prefix(prefix)
            text = ",".join(filter(None, [text, f"prefix={prefix}"]))
    except MountOptionError as err:
        print(f"mount.objfs: {err}", file=sys.stderr)
        return err.exit_status
    if not bucket:
        print(f"mount.objfs: empty bucket name in {spec!r}\n{USAGE}", file=sys.stderr)
        return 2
    if "f" in flags:
        return 0
    from objfs.fs.daemon import mount_command

    return mount_command(None, bucket, mountpoint, text, foreground=False)


if __name__ == "__main__":
    sys.exit(main())
