"""Encryption: the master key ring and encryption domains (``keyring``)."""

from objfs.crypto.keyring import Domain, Keyring

__all__ = ["Domain", "Keyring"]
