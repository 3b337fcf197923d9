"""Who may do what: identities, policies, ACLs, MFA and request signing (pure logic)."""
