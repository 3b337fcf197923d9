"""The chunk backend tests use ``seaweedfs`` and ``s3_bucket`` of tests/conftest.py."""
