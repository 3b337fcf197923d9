"""``objfs bucket cors put|get|rm`` as a person types it (the installed ``objfs``),
with the JSON shape ``aws s3api put-bucket-cors --cors-configuration`` takes."""

from __future__ import annotations

import json
from pathlib import Path

from objfs.store import OWNER, Store
from tests.test_cli import assert_user_error
from tests.test_cli_access import Shell, sh  # noqa: F401 - the fixture

CONFIG = {
    "CORSRules": [
        {
            "AllowedOrigins": ["https://app.example.com"],
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3000,
        }
    ]
}


def test_put_get_rm(sh: Shell, tmp_path: Path) -> None:  # noqa: F811
    assert_user_error(sh("bucket", "cors", "get", "photos"), "CORS configuration")
    path = tmp_path / "cors.json"
    path.write_text(json.dumps(CONFIG))
    assert (
        "1 CORS rule(s) set on bucket photos"
        in sh.ok("bucket", "cors", "put", "photos", str(path)).out
    )
    assert json.loads(sh.ok("bucket", "cors", "get", "photos").out) == CONFIG
    with Store.open(sh.store) as store:  # the store holds what the CLI set
        rule = store.get_bucket_cors(OWNER, "photos")[0]
        assert rule.allowed_origins == ("https://app.example.com",)
        assert store.cors_match(OWNER, "photos", "https://app.example.com", "GET") == rule
    two = {
        "CORSRules": CONFIG["CORSRules"] + [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]
    }
    sh.ok("bucket", "cors", "put", "photos", "-", input=json.dumps(two).encode())
    assert len(json.loads(sh.ok("bucket", "cors", "get", "photos").out)["CORSRules"]) == 2
    assert "removed" in sh.ok("bucket", "cors", "rm", "photos").out
    assert_user_error(sh("bucket", "cors", "get", "photos"), "CORS configuration")


def test_bad_input_is_one_line(sh: Shell, tmp_path: Path) -> None:  # noqa: F811
    bad = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}
    result = sh("bucket", "cors", "put", "photos", "-", input=json.dumps(bad).encode())
    assert_user_error(result, "Unsupported method is PATCH")
    assert_user_error(sh("bucket", "cors", "put", "photos", "-", input=b"{nope"), "not JSON")
    result = sh("bucket", "cors", "put", "photos", "-", input=b'[{"AllowedOrigins": ["*"]}]')
    assert_user_error(result, "CORSRules")
    assert_user_error(
        sh("bucket", "cors", "put", "photos", str(tmp_path / "none.json")), "cannot read"
    )
    assert_user_error(sh("bucket", "cors", "put", "nope", "-", input=json.dumps(CONFIG).encode()))
