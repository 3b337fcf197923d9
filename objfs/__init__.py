"""objfs: an object store with S3 semantics that you mount as a filesystem."""

__version__ = "0.1.0"
