"""A real browser against ``objfs serve``: Debian's headless Chromium, driven by
selenium through chromedriver.

A page served from one origin (a tiny http.server on 127.0.0.1:PORT1) uses
``fetch()`` on objects of ``objfs serve`` on another (127.0.0.1:PORT2): the
browser enforces CORS, objfs only answers. Allowed with a matching rule,
blocked without one; a PUT makes the browser send a preflight first. A
``<video>`` plays a WebM from a pre-signed URL (the media stack reads it with
Range requests); the WebM is made in the same browser (canvas +
MediaRecorder), so no video tool is needed.

Without Chromium, chromedriver or selenium the tests skip on a developer's
machine and fail in CI (``CI`` set), where ``make test`` installs them.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from objfs.store import OWNER, Store

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync "
    "--disable-dev-shm-usage --autoplay-policy=no-user-gesture-required"
).split()
PAGE = (
    "<!doctype html><html><head><title>objfs cors</title></head><body><p id=out></p></body></html>"
)

# fetch(url, init) in the page: {text, etag} or {error}; the body is shown in #out.
FETCH = """
const [url, init, done] = arguments;
fetch(url, init).then(async r => {
  const text = await r.text();
  document.getElementById('out').textContent = text;
  done({status: r.status, text: text, etag: r.headers.get('ETag')});
}, e => done({error: String(e)}));
"""

MAKE_WEBM = """
const done = arguments[arguments.length - 1];
const c = document.createElement('canvas'); c.width = 64; c.height = 48;
const g = c.getContext('2d');
const rec = new MediaRecorder(c.captureStream(25), {mimeType: 'video/webm;codecs=vp8'});
const parts = [];
rec.ondataavailable = e => parts.push(e.data);
rec.onstop = async () => {
  const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
  let s = ''; for (const b of bytes) s += String.fromCharCode(b);
  done(btoa(s));
};
let i = 0;
const timer = setInterval(() => { g.fillStyle = `hsl(${i++ * 40}, 80%, 50%)`; g.fillRect(0, 0, 64, 48); }, 40);
rec.start(100);
setTimeout(() => { clearInterval(timer); rec.stop(); }, 600);
"""

PLAY = """
const [url, done] = arguments;
const v = document.createElement('video');
v.muted = true; v.preload = 'auto';
const report = what => done({event: what, readyState: v.readyState, width: v.videoWidth,
                             error: v.error && v.error.message});
v.addEventListener('loadeddata', () => report('loadeddata'));
v.addEventListener('error', () => report('error'));
document.body.appendChild(v);
v.src = url;
"""


def _require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    if missing:
        why = f"the browser tests need {', '.join(missing)}"
        if os.environ.get("CI") or os.environ.get("OBJFS_REQUIRE_FUSE") == "1":
            pytest.fail(f"{why}: CI must run them (make test installs chromium, chromium-driver)")
        pytest.skip(why)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # network events
    os.environ.setdefault("SE_AVOID_STATS", "true")
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The origin the page is served from: http://127.0.0.1:PORT1 (objfs has another port)."""
    root = tmp_path_factory.mktemp("page")
    (root / "index.html").write_text(PAGE)
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _network(browser) -> list[dict]:  # type: ignore[no-untyped-def]
    """DevTools network events since the last call (what the browser really sent)."""
    events = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
    return [e for e in events if e["method"].startswith("Network.")]


def _open(browser, page: str) -> None:  # type: ignore[no-untyped-def]
    browser.get(page + "/index.html")
    assert browser.title == "objfs cors"


def test_fetch_across_origins_needs_a_matching_rule(browser, page, server, alice, bkt, s3env):  # type: ignore[no-untyped-def]
    assert page.rsplit(":", 1)[1] != server.endpoint.rsplit(":", 1)[1]  # two origins
    alice.put_object(
        Bucket=bkt, Key="hello.txt", Body=b"hello from objfs", ContentType="text/plain"
    )
    url = alice.generate_presigned_url(
        "get_object", Params={"Bucket": bkt, "Key": "hello.txt"}, ExpiresIn=300
    )
    _open(browser, page)

    # No configuration: objfs answers, but without Access-Control-Allow-Origin
    # the browser refuses the page the response.
    result = browser.execute_async_script(FETCH, url, {})
    assert "Failed to fetch" in result.get("error", ""), result
    assert browser.find_element("id", "out").text == ""

    # A rule for another origin (same host, other port) does not help.
    other = page.rsplit(":", 1)[0] + ":1"
    alice.put_bucket_cors(
        Bucket=bkt,
        CORSConfiguration={"CORSRules": [{"AllowedOrigins": [other], "AllowedMethods": ["GET"]}]},
    )
    assert "error" in browser.execute_async_script(FETCH, url, {})

    # A matching rule: the page reads the body and the exposed ETag.
    alice.put_bucket_cors(
        Bucket=bkt,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [page],
                    "AllowedMethods": ["GET", "PUT"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 60,
                }
            ]
        },
    )
    result = browser.execute_async_script(FETCH, url, {})
    assert result.get("text") == "hello from objfs", result
    assert result["etag"] and result["etag"].strip('"')
    assert browser.find_element("id", "out").text == "hello from objfs"

    # PUT is not a "simple" method: the browser sends a preflight OPTIONS
    # first, and the upload lands in the store only because objfs allowed it.
    put_url = alice.generate_presigned_url(
        "put_object", Params={"Bucket": bkt, "Key": "from-browser.txt"}, ExpiresIn=300
    )
    _network(browser)  # forget earlier events
    result = browser.execute_async_script(FETCH, put_url, {"method": "PUT", "body": "uploaded"})
    assert result.get("status") == 200, result
    preflights = [
        e["params"]["response"]["status"]
        for e in _network(browser)
        if e["method"] == "Network.responseReceived" and e["params"].get("type") == "Preflight"
    ]
    assert preflights == [200]  # the browser asked first, objfs allowed it
    with Store.open(s3env["store"]) as store, store.get_object(OWNER, bkt, "from-browser.txt") as r:
        assert r.read() == b"uploaded"

    # The rule allows GET and PUT only: a DELETE's preflight is refused and
    # the object stays.
    del_url = alice.generate_presigned_url(
        "delete_object", Params={"Bucket": bkt, "Key": "from-browser.txt"}, ExpiresIn=300
    )
    result = browser.execute_async_script(FETCH, del_url, {"method": "DELETE"})
    assert "Failed to fetch" in result.get("error", ""), result
    assert alice.get_object(Bucket=bkt, Key="from-browser.txt")["Body"].read() == b"uploaded"


def test_video_plays_from_a_presigned_url(browser, page, alice, bkt, tmp_path: Path):  # type: ignore[no-untyped-def]
    _open(browser, page)
    webm = base64.b64decode(browser.execute_async_script(MAKE_WEBM))
    assert webm[:4] == b"\x1a\x45\xdf\xa3" and len(webm) > 200  # an EBML (WebM) file
    alice.put_object(Bucket=bkt, Key="clip.webm", Body=webm, ContentType="video/webm")
    url = alice.generate_presigned_url(
        "get_object", Params={"Bucket": bkt, "Key": "clip.webm"}, ExpiresIn=300
    )
    # A <video> needs no CORS rule (it does not let the page read the bytes).
    _network(browser)
    result = browser.execute_async_script(PLAY, url)
    assert result["event"] == "loadeddata", result
    assert result["readyState"] >= 2 and result["width"] == 64, result
    media = [e["params"] for e in _network(browser) if "clip.webm" in json.dumps(e)]
    sent = [p["request"] for p in media if "request" in p and p.get("type") == "Media"]
    assert sent and all("Range" in r["headers"] for r in sent), sent  # a ranged read...
    got = [p["response"]["status"] for p in media if "response" in p]
    assert got and set(got) == {206}, got  # ...answered with 206 Partial Content

    # A tampered URL is refused: the element reports an error, it never plays.
    result = browser.execute_async_script(PLAY, url.replace("Signature=", "Signature=0"))
    assert result["event"] == "error" and result["readyState"] == 0, result
