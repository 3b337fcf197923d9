"""CLI principals: ``objfs user create|ls|rm``, ``user keys ...``, ``user policy ...``.

Owns how users, access keys and identity policies are shown and how a new
key is handed to a client. Invariants: a secret is printed once, when the
key is created (or only written to a credentials profile with
``--write-profile``, mode 0600, other profiles kept); every rule (names, two
keys per user, policy grammar) is the store's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from objfs.auth.credentials import default_credentials_file
from objfs.auth.keys import Credentials, write_profile
from objfs.cli.app import CliApp
from objfs.cli.args import CliError
from objfs.cli.builder import Builder
from objfs.cli.output import dump_json, iso_time, local_time
from objfs.store.types import AccessKeyInfo, UserInfo


def read_document(source: str | None) -> str:
    """A policy document from a file or ``-`` (stdin)."""
    if source in (None, "-"):
        if sys.stdin.isatty():
            raise CliError("give the policy as a FILE, or pipe it in with -")
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as err:
        raise CliError(f"cannot read policy file {source}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"policy file {source} is not UTF-8 text") from None


def user_record(u: UserInfo) -> dict[str, Any]:
    return {
        "name": u.name,
        "display_name": u.display_name,
        "canonical_id": u.canonical_id,
        "created": iso_time(u.created_ns),
    }


def key_record(k: AccessKeyInfo) -> dict[str, Any]:
    return {
        "access_key_id": k.key_id,
        "user": k.user,
        "status": k.status,
        "created": iso_time(k.created_ns),
    }


# -- users ------------------------------------------------------------------------


def cmd_user_create(app: CliApp, args: argparse.Namespace) -> int:
    user = app.store.create_user(app.ctx, args.name, display_name=args.display_name)
    if app.json:
        dump_json(user_record(user))
    else:
        app.say(f"created user {user.name} (canonical id {user.canonical_id})")
    return 0


def cmd_user_ls(app: CliApp, args: argparse.Namespace) -> int:
    users = app.store.list_users(app.ctx)
    if app.json:
        dump_json([user_record(u) for u in users])
        return 0
    for u in users:
        print(f"{local_time(u.created_ns)}  {u.name:<24} {u.display_name}")
    return 0


def cmd_user_rm(app: CliApp, args: argparse.Namespace) -> int:
    app.store.delete_user(app.ctx, args.name)
    app.say(f"removed user {args.name} (its access keys and policies are gone)")
    return 0


# -- access keys ----------------------------------------------------------------------


def cmd_keys_create(app: CliApp, args: argparse.Namespace) -> int:
    new = app.store.create_access_key(app.ctx, args.name)
    key_id = new.info.key_id
    written = None
    if args.write_profile:
        path = app.credentials_file or default_credentials_file()
        write_profile(path, args.write_profile, Credentials(key_id, new.secret))
        written = path
    if app.json:
        record = key_record(new.info)
        if written is None:
            record["secret_access_key"] = new.secret
        else:
            record["profile"], record["credentials_file"] = args.write_profile, str(written)
        dump_json(record)
        return 0
    if written is not None:
        app.say(f"access key {key_id} for {args.name} written as profile [{args.write_profile}]")
        app.say(f"  in {written}; use it with: objfs --profile {args.write_profile} ...")
        return 0
    print(f"AccessKeyId:     {key_id}")
    print(f"SecretAccessKey: {new.secret}")
    app.say("the secret is shown this once: store it now (or use --write-profile NAME)")
    return 0


def cmd_keys_ls(app: CliApp, args: argparse.Namespace) -> int:
    keys = app.store.list_access_keys(app.ctx, args.name)
    if app.json:
        dump_json([key_record(k) for k in keys])
        return 0
    for k in keys:
        print(f"{k.key_id}  {k.status:<8}  {local_time(k.created_ns)}")
    return 0


def _set_status(app: CliApp, args: argparse.Namespace, active: bool) -> int:
    info = app.store.set_access_key_status(app.ctx, args.name, args.key_id, active=active)
    app.say(f"access key {info.key_id} of {info.user} is now {info.status}")
    return 0


def cmd_keys_disable(app: CliApp, args: argparse.Namespace) -> int:
    return _set_status(app, args, False)


def cmd_keys_enable(app: CliApp, args: argparse.Namespace) -> int:
    return _set_status(app, args, True)


def cmd_keys_rm(app: CliApp, args: argparse.Namespace) -> int:
    app.store.delete_access_key(app.ctx, args.name, args.key_id)
    app.say(f"removed access key {args.key_id} of {args.name}")
    return 0


# -- identity policies ---------------------------------------------------------------


def cmd_policy_put(app: CliApp, args: argparse.Namespace) -> int:
    text = app.store.put_user_policy(app.ctx, args.name, args.policy, read_document(args.file))
    if app.json:
        print(text)
    else:
        app.say(f"policy {args.policy} attached to user {args.name}")
    return 0


def cmd_policy_get(app: CliApp, args: argparse.Namespace) -> int:
    print(app.store.get_user_policy(app.ctx, args.name, args.policy))
    return 0


def cmd_policy_ls(app: CliApp, args: argparse.Namespace) -> int:
    names = app.store.list_user_policies(app.ctx, args.name)
    if app.json:
        dump_json(names)
    else:
        for name in names:
            print(name)
    return 0


def cmd_policy_rm(app: CliApp, args: argparse.Namespace) -> int:
    app.store.delete_user_policy(app.ctx, args.name, args.policy)
    app.say(f"policy {args.policy} removed from user {args.name}")
    return 0


# -- command line -----------------------------------------------------------------------


def register(build: Builder) -> None:
    user = build.add(
        "user",
        cmd_user_ls,
        "manage users, their access keys and identity policies (store owner only)",
        "objfs user create alice --display-name 'Alice A.'\n"
        "objfs user keys create alice --write-profile alice\n"
        "objfs user policy put alice read-photos policy.json\n"
        "objfs --profile alice ls s3://photos/",
    )
    inner = build.group(user, "user_command")
    p = inner.add("create", cmd_user_create, "create a user", "objfs user create alice")
    p.add_argument("name", metavar="NAME", help="1-64 characters of letters, digits and +=,.@_-")
    p.add_argument("--display-name", metavar="D", help="shown in listings and ACLs")
    inner.add("ls", cmd_user_ls, "list users", "objfs user ls --json")
    p = inner.add("rm", cmd_user_rm, "remove a user, its keys and policies", "objfs user rm alice")
    p.add_argument("name", metavar="NAME")
    _register_keys(inner)
    _register_policies(inner)


def _register_keys(inner: Builder) -> None:
    keys = inner.add(
        "keys",
        cmd_keys_ls,
        "a user's access keys (at most two): create, ls, disable, enable, rm",
        "objfs user keys create alice --write-profile alice\nobjfs user keys ls alice",
    )
    sub = inner.group(keys, "keys_command")
    p = sub.add(
        "create",
        cmd_keys_create,
        "create an access key; the secret is shown once (or written to a profile)",
        "objfs user keys create alice\n"
        "objfs user keys create alice --write-profile alice "
        "--credentials-file ~/.aws/credentials",
    )
    p.add_argument("name", metavar="USER")
    p.add_argument(
        "--write-profile",
        metavar="PROFILE",
        help="write the key to this profile of the credentials file (--credentials-file, "
        "default ~/.config/objfs/credentials) instead of printing it",
    )
    p = sub.add("ls", cmd_keys_ls, "list a user's access keys", "objfs user keys ls alice")
    p.add_argument("name", metavar="USER")
    for name, handler, summary in (
        ("disable", cmd_keys_disable, "make a key inactive (it authenticates nothing)"),
        ("enable", cmd_keys_enable, "make an inactive key active again"),
        ("rm", cmd_keys_rm, "remove an access key for good"),
    ):
        p = sub.add(name, handler, summary, f"objfs user keys {name} alice OBJFEXAMPLEKEY123456")
        p.add_argument("name", metavar="USER")
        p.add_argument("key_id", metavar="KEYID")


def _register_policies(inner: Builder) -> None:
    pol = inner.add(
        "policy",
        cmd_policy_ls,
        "a user's identity policies (IAM JSON): put, get, ls, rm",
        "objfs user policy put alice read-photos policy.json\nobjfs user policy ls alice",
    )
    sub = inner.group(pol, "policy_command")
    p = sub.add(
        "put",
        cmd_policy_put,
        "attach (or replace) a named identity policy; malformed JSON is refused",
        "objfs user policy put alice read-photos policy.json\n"
        "echo '{...}' | objfs user policy put alice inline -",
    )
    p.add_argument("name", metavar="USER")
    p.add_argument("policy", metavar="NAME")
    p.add_argument("file", metavar="FILE", nargs="?", help="the JSON document, or - for stdin")
    for name, handler, summary in (
        ("get", cmd_policy_get, "print a policy (normalised JSON)"),
        ("rm", cmd_policy_rm, "detach a policy"),
    ):
        p = sub.add(name, handler, summary, f"objfs user policy {name} alice read-photos")
        p.add_argument("name", metavar="USER")
        p.add_argument("policy", metavar="NAME")
    p = sub.add("ls", cmd_policy_ls, "list a user's policy names", "objfs user policy ls alice")
    p.add_argument("name", metavar="USER")
