"""Random sequences of writes, deletes and versioning changes vs a tiny S3 model.

The model is S3's versioning rules (S3-SEMANTICS.md "Versioning") in a few
lines: per key, a newest-first list of (version id, is delete marker, body).
After every step the store's listings and bodies must equal the model's.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from objfs.errors import InvalidRequest, MethodNotAllowed, NoSuchKey
from objfs.store import NULL_VERSION, OWNER, Store, Versioning

CTX = OWNER.with_options(durable=False)
BUCKET = "model-bucket"
KEYS = st.sampled_from(["a", "a/b", "a/c/d", "b", "\u00e9"])
BODIES = st.sampled_from([b"", b"x", b"hello", b"hello world", bytes(range(256)) * 3])


class VersioningMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="objfs-model-"))
        self.store = Store.init(self.tmp / "store")
        self.store.create_bucket(CTX, BUCKET)
        self.state = Versioning.UNVERSIONED
        # key -> newest-first list of [version_id, is_marker, body]
        self.model: dict[str, list[tuple[str, bool, bytes | None]]] = {}
        self.issued: list[str] = []  # non-null version ids, in creation order

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- model helpers ---------------------------------------------------

    def _versioned(self) -> bool:
        return self.state == Versioning.ENABLED

    def _push(self, key: str, vid: str, marker: bool, body: bytes | None) -> None:
        history = self.model.setdefault(key, [])
        if vid == NULL_VERSION:
            history[:] = [v for v in history if v[0] != NULL_VERSION]
        else:
            assert vid not in self.issued, "version id reused"
            if self.issued:
                assert vid > self.issued[-1], "version ids must sort by creation"
            self.issued.append(vid)
        history.insert(0, (vid, marker, body))

    def _expect_vid(self, got: str) -> None:
        if self._versioned():
            assert got != NULL_VERSION
        else:
            assert got == NULL_VERSION

    def _latest_body(self, key: str) -> bytes | None:
        history = self.model.get(key)
        if not history or history[0][1]:
            return None
        return history[0][2]

    # --- rules ------------------------------------------------------------

    @initialize(enabled=st.booleans())
    def start(self, enabled: bool) -> None:
        if enabled:
            self.store.set_bucket_versioning(CTX, BUCKET, Versioning.ENABLED)
            self.state = Versioning.ENABLED

    @rule(key=KEYS, body=BODIES)
    def put(self, key: str, body: bytes) -> None:
        res = self.store.put_object(CTX, BUCKET, key, body)
        self._expect_vid(res.version_id)
        self._push(key, res.version_id, False, body)

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        res = self.store.delete_object(CTX, BUCKET, key)
        if self.state == Versioning.UNVERSIONED:
            assert not res.delete_marker
            history = self.model.get(key, [])
            history[:] = [v for v in history if v[0] != NULL_VERSION]
            return
        assert res.delete_marker
        self._expect_vid(res.version_id)
        self._push(key, res.version_id, True, None)

    @precondition(lambda self: any(self.model.values()))
    @rule(data=st.data())
    def delete_version(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(k for k, h in self.model.items() if h)))
        history = self.model[key]
        index = data.draw(st.integers(0, len(history) - 1))
        vid, marker, _body = history[index]
        res = self.store.delete_object(CTX, BUCKET, key, version_id=vid)
        assert res.version_id == vid and res.delete_marker == marker
        del history[index]

    @rule(src=KEYS, dst=KEYS, data=st.data())
    def copy(self, src: str, dst: str, data: st.DataObject) -> None:
        history = self.model.get(src, [])
        use_version = bool(history) and data.draw(st.booleans())
        src_vid = None
        if use_version:
            src_vid, marker, body = data.draw(st.sampled_from(history))
        else:
            body = self._latest_body(src)
            marker = body is None
        replace = src == dst  # a self-copy must change something (S3)
        kwargs = {"metadata_directive": "REPLACE", "user_meta": {"n": "1"}} if replace else {}
        if marker:
            expected = InvalidRequest if src_vid is not None else NoSuchKey
            try:
                self.store.copy_object(
                    CTX, BUCKET, src, BUCKET, dst, src_version_id=src_vid, **kwargs
                )
            except expected:
                return
            raise AssertionError(f"copy from a deleted source did not raise {expected.__name__}")
        res = self.store.copy_object(
            CTX, BUCKET, src, BUCKET, dst, src_version_id=src_vid, **kwargs
        )
        self._expect_vid(res.version_id)
        self._push(dst, res.version_id, False, body)

    @rule(target_state=st.sampled_from([Versioning.ENABLED, Versioning.SUSPENDED]))
    def set_versioning(self, target_state: Versioning) -> None:
        self.store.set_bucket_versioning(CTX, BUCKET, target_state)
        self.state = target_state

    # --- invariants --------------------------------------------------------

    @invariant()
    def listings_and_bodies_match(self) -> None:
        store = self.store
        assert store.head_bucket(CTX, BUCKET).versioning == self.state
        ordered = sorted((k for k, h in self.model.items() if h), key=lambda k: k.encode())
        live = [k for k in ordered if not self.model[k][0][1]]
        listed = store.list_objects(CTX, BUCKET).contents
        assert [(v.key, v.version_id) for v in listed] == [(k, self.model[k][0][0]) for k in live]
        expected_versions = [
            (k, vid, i == 0, marker)
            for k in ordered
            for i, (vid, marker, _b) in enumerate(self.model[k])
        ]
        got_versions = [
            (v.key, v.version_id, v.is_latest, v.is_delete_marker)
            for v in store.list_object_versions(CTX, BUCKET).versions
        ]
        assert got_versions == expected_versions
        for key in ["a", "a/b", "a/c/d", "b", "\u00e9"]:
            history = self.model.get(key, [])
            if not history:
                with pytest.raises(NoSuchKey):
                    store.head_object(CTX, BUCKET, key)
                continue
            if history[0][1]:
                with pytest.raises(NoSuchKey) as exc:
                    store.get_object(CTX, BUCKET, key)
                assert exc.value.details.get("delete_marker") is True
            else:
                with store.get_object(CTX, BUCKET, key) as reader:
                    assert reader.read() == history[0][2]
            for vid, marker, body in history:
                if marker:
                    with pytest.raises(MethodNotAllowed):
                        store.head_object(CTX, BUCKET, key, version_id=vid)
                else:
                    with store.get_object(CTX, BUCKET, key, version_id=vid) as reader:
                        assert reader.read() == body


VersioningMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestVersioningModel = VersioningMachine.TestCase
