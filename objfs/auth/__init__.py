"""Access control: who may do what. A pure decision core, no I/O on the store.

Security model
--------------
- Whoever can read the store directory holds the master key and the
  database: that is owner power, as root is on a disk. ``objfs init`` makes
  the store 0700; in production a service user owns it.
- Policies bind every request that arrives with an identity: a mount started
  with ``profile=`` or ``user_map=``, the CLI with ``--profile`` or access
  keys, the HTTP API with SigV4 (or anonymous). The CLI without credentials
  acts as the store owner.
- The store owner may always manage (bucket configuration, policies, ACLs),
  but a bucket policy's Deny still binds the owner's data access. Owner-only
  actions (fsck, gc, users, KMS, MFA) are never granted to anyone else.
- Each user is its own account (as in S3-compatible servers): a bucket or
  object belongs to whoever created it, and its owner has full control of it
  unless a policy denies.

Evaluation order (``evaluate.evaluate``)
----------------------------------------
1. owner-only action: allowed for the store owner only;
2. store owner + management action: allowed;
3. an explicit Deny in an identity policy or the bucket policy: denied;
4. allowed by: store owner (data), resource owner, an identity-policy Allow,
   a bucket-policy Allow, an ACL grant (first that applies is named);
5. otherwise implicit deny.

Modules: ``identity`` (who asks), ``actions`` (the S3 action table),
``policy`` (grammar, conditions, wildcard/variable strings), ``evaluate``
(the decision), ``acl`` (grants, canned ACLs), ``totp`` (MFA codes),
``keys`` (access keys, credentials files), ``sigv4`` (signature math).
Nothing here imports the store, the mount or the CLI.
"""

from objfs.auth.evaluate import Decision, Reason, Request, Source, evaluate, resource_arn
from objfs.auth.identity import Identity, PrincipalKind

__all__ = [
    "Decision",
    "Identity",
    "PrincipalKind",
    "Reason",
    "Request",
    "Source",
    "evaluate",
    "resource_arn",
]
