"""The mount's ``user_map=`` file: parsing, precedence, refusals (no mount needed)."""

from __future__ import annotations

import pytest

from objfs.auth.identity import Identity, PrincipalKind
from objfs.errors import AccessDenied
from objfs.fs.identity import MountIdentities, UserMapError, parse_user_map


def resolver(known: set[str]):
    def resolve(name: str) -> Identity:
        if name not in known:
            raise UserMapError(f"no such objfs user {name!r}")
        return Identity.user(name, name[0] * 64)

    return resolve


def test_precedence_user_then_groups_in_order_then_star() -> None:
    umap = parse_user_map(
        """
        # who = objfs user
        0 = owner
        1001 = alice      # a uid
        @50 = readers
        @60 = writers
        * = anonymous
        """
    )
    ids = MountIdentities(user_map=umap, resolve=resolver({"alice", "readers", "writers"}))
    assert ids.for_caller(0, 0).identity.kind is PrincipalKind.OWNER
    assert ids.for_caller(1001, 50).identity.name == "alice"  # the user rule wins
    assert ids.for_caller(2000, 60).identity.name == "writers"
    # Group rules apply in file order: a member of 50 and 60 is a reader.
    assert umap.principal_for(2000, {60, 50}) == "readers"
    assert ids.for_caller(3000, 3000).identity.kind is PrincipalKind.ANONYMOUS
    assert ids.for_caller(3000, 3000).interface == "mount"


def test_without_a_star_rule_others_are_refused() -> None:
    ids = MountIdentities(user_map=parse_user_map("1001 = alice"), resolve=resolver({"alice"}))
    assert ids.for_caller(1001, 1001).identity.name == "alice"
    with pytest.raises(AccessDenied, match="uid 1002"):
        ids.for_caller(1002, 1002)


def test_names_resolve_through_the_system_databases() -> None:
    umap = parse_user_map("root = owner\n@root = owner\n")
    assert umap.users == {0: "owner"} and umap.groups == ((0, "owner"),)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("alice alice", "line 1"),
        ("= alice", "line 1"),
        ("\n\nnosuchuser-objfs = alice", "line 3: no Unix user"),
        ("@nosuchgroup-objfs = alice", "no Unix group"),
        ("1001 = two words", "line 1"),
    ],
)
def test_bad_maps_name_the_line(text: str, needle: str) -> None:
    with pytest.raises(UserMapError, match=needle):
        parse_user_map(text)


def test_unknown_objfs_users_refuse_the_mount() -> None:
    with pytest.raises(UserMapError, match="bob"):
        MountIdentities(user_map=parse_user_map("1001 = bob"), resolve=resolver({"alice"}))


def test_without_a_map_every_request_is_the_mount_identity() -> None:
    alice = Identity.user("alice", "a" * 64)
    ids = MountIdentities(fixed=alice)
    assert not ids.per_caller
    assert ids.for_caller(1234, 1234).identity == alice
    assert ids.for_caller(0, 0).durable is False
