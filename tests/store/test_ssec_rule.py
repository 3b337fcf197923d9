"""SSE-C keys only for SSE-C data (S3-SEMANTICS.md "Encryption").

S3 answers 400 InvalidRequest ("The encryption parameters are not applicable
to this object") when a read names a customer key for an object that is not
SSE-C encrypted; the store applies the rule to every read path.
"""

from __future__ import annotations

import os

import pytest

from objfs.errors import InvalidRequest
from objfs.store import SSERequest


@pytest.mark.parametrize("mode", ["none", "AES256"])
def test_customer_key_for_other_data_refused(store, ctx, bucket, mode):
    key = SSERequest(customer_key=os.urandom(32))
    store.put_object(ctx, bucket, "obj", b"plain data", sse=SSERequest(mode=mode))
    calls = [
        lambda: store.head_object(ctx, bucket, "obj", sse=key),
        lambda: store.get_object(ctx, bucket, "obj", sse=key),
        lambda: store.read_range(ctx, bucket, "obj", 0, 4, sse=key),
        lambda: store.copy_object(ctx, bucket, "obj", bucket, "copy", src_sse=key),
    ]
    for call in calls:
        with pytest.raises(InvalidRequest, match="not applicable to this object") as caught:
            call()
        assert caught.value.status == 400 and caught.value.details["ssec_not_applicable"]
    # twice: the second read finds the domain cached and must refuse all the same
    with pytest.raises(InvalidRequest):
        store.read_range(ctx, bucket, "obj", 0, 4, sse=key)
    assert store.read_range(ctx, bucket, "obj", 0, 5) == b"plain"
    assert store.list_objects(ctx, bucket).key_count == 1


def test_customer_key_for_ssec_data_still_reads(store, ctx, bucket):
    key = SSERequest(customer_key=os.urandom(32))
    store.put_object(ctx, bucket, "c", b"customer data", sse=key)
    assert store.read_range(ctx, bucket, "c", 0, 8, sse=key) == b"customer"
    assert store.head_object(ctx, bucket, "c", sse=key).sse == "SSE-C"
    with pytest.raises(InvalidRequest):  # and without the key, as before
        store.head_object(ctx, bucket, "c")
