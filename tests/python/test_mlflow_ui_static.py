"""The MLflow web UI (component mlflow-ui) over real HTTP, in the whole app.

The UI's files come from the pinned mlflow wheel at build time
(components/mlflow-ui/ui-wheel.txt -> target/mlflow-ui/site, with brotli/gzip
variants and the manifest of content hashes); the component serves them from its
files mount. These tests read the built site to know what to expect.
"""

import gzip
import http.client
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "target" / "mlflow-ui" / "site"
IMMUTABLE = "public, max-age=31536000, immutable"
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture(scope="module")
def site():
    """The built site's manifest: path -> (hash, variants)."""
    manifest = SITE / ".assets.tsv"
    if not manifest.is_file():
        pytest.fail(f"{manifest} is missing: build the app first (make build)")
    entries = {}
    for line in manifest.read_text().splitlines():
        if line and not line.startswith("#"):
            path, digest, variants = line.split("\t")
            entries[path] = (digest, set() if variants == "-" else set(variants.split(",")))
    return entries


@pytest.fixture(scope="module")
def ui(spinflow_app):
    return spinflow_app.url


@pytest.fixture(scope="module")
def main_js(site):
    """The UI's main bundle (several MiB), whose name carries its content hash."""
    (name,) = [p for p in site if re.fullmatch(r"static/js/main\.[0-9a-f]+\.js", p)]
    return name


def raw(url: str, method: str, target: str, headers=None):
    """One request with the target sent byte for byte (no client-side normalisation
    of `..` or percent-escapes, which requests/urllib3 would do)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


# ------------------------------------------------------------ the page and its assets


def test_root_is_the_ui_index_page(ui, site):
    r = requests.get(ui + "/", headers=IDENTITY)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.content == (SITE / "index.html").read_bytes()
    assert b'<div id="root"' in r.content
    assert r.headers["etag"] == f'"{site["index.html"][0]}"'
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert int(r.headers["content-length"]) == len(r.content)
    assert "content-encoding" not in r.headers


def test_every_file_the_index_references_is_served_with_its_type(ui):
    index = requests.get(ui + "/").text
    refs = re.findall(r'(?:href|src)="([^"]+)"', index)
    assert len(refs) >= 4  # favicon, web manifest, main script, main stylesheet
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
             ".ico": "image/vnd.microsoft.icon", ".json": "application/json"}
    for ref in refs:
        # Relative to the page at `/`, as the browser resolves them.
        path = "/" + ref.removeprefix("./")
        assert path.startswith("/static-files/"), ref
        r = requests.get(ui + path, headers=IDENTITY)
        assert r.status_code == 200, path
        assert r.content == (SITE / path.removeprefix("/static-files/")).read_bytes(), path
        assert r.headers["content-type"] == types[Path(path).suffix], path


def test_every_file_of_the_build_is_served(ui, site):
    """asset-manifest.json lists what the UI loads on demand (chunks, workers, media);
    HEAD each, and every other file of the site too."""
    assets = requests.get(ui + "/static-files/asset-manifest.json").json()["files"].values()
    paths = {p for p in assets if p.startswith("/static-files/")}
    assert len(paths) > 100
    paths |= {"/static-files/" + p for p in site}

    def status(path):
        r = requests.head(ui + path, headers=IDENTITY)
        return path, r.status_code, int(r.headers.get("content-length", -1))

    with ThreadPoolExecutor(8) as pool:
        for path, code, length in pool.map(status, sorted(paths)):
            assert code == 200, path
            assert length == (SITE / path.removeprefix("/static-files/")).stat().st_size, path


def test_the_main_bundle_streams_whole(ui, main_js):
    """Several MiB, several downloads at once: each body is the file, byte for byte."""
    expected = (SITE / main_js).read_bytes()
    assert len(expected) > 2 << 20

    def fetch(_):
        return requests.get(f"{ui}/static-files/{main_js}", headers=IDENTITY).content

    with ThreadPoolExecutor(6) as pool:
        assert all(body == expected for body in pool.map(fetch, range(6)))


# ------------------------------------------------------------ caching


def test_hashed_names_are_immutable_the_rest_revalidate(ui, site, main_js):
    assert requests.head(f"{ui}/static-files/{main_js}").headers["cache-control"] == IMMUTABLE
    css = next(p for p in site if re.fullmatch(r"static/css/main\.[0-9a-f]+\.css", p))
    assert requests.head(f"{ui}/static-files/{css}").headers["cache-control"] == IMMUTABLE
    for path in ("/", "/static-files/favicon.ico", "/static-files/manifest.json"):
        assert requests.head(ui + path).headers["cache-control"] == "no-cache", path


@pytest.mark.parametrize("encoding,suffix", [("identity", ""), ("gzip", "-gz"), ("br", "-br")])
def test_if_none_match_answers_304_per_representation(ui, site, main_js, encoding, suffix):
    url = f"{ui}/static-files/{main_js}"
    etag = f'"{site[main_js][0]}{suffix}"'
    first = requests.get(url, headers={"Accept-Encoding": encoding}, stream=True)
    assert first.headers["etag"] == etag
    first.close()
    for tag in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        for method in ("GET", "HEAD"):
            status, headers, body = raw(ui, method, f"/static-files/{main_js}",
                                        {"Accept-Encoding": encoding, "If-None-Match": tag})
            assert (status, body) == (304, b""), (tag, method)
            assert headers["etag"] == etag
            assert headers["cache-control"] == IMMUTABLE
            assert headers["vary"] == "Accept-Encoding"
    # Another representation's tag, or a stale one, gets the file again.
    other = '"0000"' if encoding == "identity" else f'"{site[main_js][0]}"'
    status, _, body = raw(ui, "GET", "/static-files/favicon.ico", {"If-None-Match": other})
    assert status == 200 and body


def test_index_revalidates_to_304(ui):
    etag = requests.get(ui + "/").headers["etag"]
    r = requests.get(ui + "/", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""


# ------------------------------------------------------------ content negotiation


def test_brotli_is_preferred_and_is_the_stored_variant(ui, site, main_js):
    assert site[main_js][1] == {"br", "gz"}
    status, headers, body = raw(ui, "GET", f"/static-files/{main_js}", {"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200
    assert headers["content-encoding"] == "br"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert body == (SITE / f"{main_js}.br").read_bytes()
    assert int(headers["content-length"]) == len(body) < (SITE / main_js).stat().st_size // 3


@pytest.mark.parametrize("accept", ["gzip", "br;q=0, gzip", "gzip;q=0.9, br;q=0.5", "x-gzip"])
def test_gzip_when_brotli_is_not_wanted(ui, main_js, accept):
    status, headers, body = raw(ui, "GET", f"/static-files/{main_js}", {"Accept-Encoding": accept})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == (SITE / main_js).read_bytes()


@pytest.mark.parametrize("accept", [None, "identity", "deflate, zstd", "br;q=0, gzip;q=0"])
def test_identity_otherwise(ui, main_js, accept):
    status, headers, body = raw(ui, "GET", f"/static-files/{main_js}",
                                {"Accept-Encoding": accept} if accept else {})
    assert status == 200
    assert "content-encoding" not in headers
    assert body == (SITE / main_js).read_bytes()


def test_files_without_variants_have_no_vary(ui, site):
    plain = next(p for p, (_, v) in site.items() if not v and p.endswith(".png"))
    status, headers, body = raw(ui, "GET", f"/static-files/{plain}", {"Accept-Encoding": "br, gzip"})
    assert status == 200 and headers["content-type"] == "image/png"
    assert "content-encoding" not in headers and "vary" not in headers
    assert body == (SITE / plain).read_bytes()


# ------------------------------------------------------------ HEAD, methods, refusals


def test_head_has_the_headers_of_get_and_no_body(ui, main_js):
    for accept, length in (("identity", (SITE / main_js).stat().st_size),
                           ("br", (SITE / f"{main_js}.br").stat().st_size)):
        status, headers, body = raw(ui, "HEAD", f"/static-files/{main_js}", {"Accept-Encoding": accept})
        assert status == 200 and body == b""
        assert int(headers["content-length"]) == length
        assert headers["content-type"] == "text/javascript; charset=utf-8"
        assert headers["etag"]


@pytest.mark.parametrize("method,path", [("POST", "/"), ("PUT", "/static-files/favicon.ico"),
                                         ("DELETE", "/static-files/index.html"), ("PATCH", "/"),
                                         ("OPTIONS", "/static-files/manifest.json")])
def test_other_methods_are_405(ui, method, path):
    status, headers, _ = raw(ui, method, path)
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("target", [
    "/static-files/../spin.toml",
    "/static-files/../../etc/passwd",
    "/static-files/static/../../spin.toml",
    "/static-files/%2e%2e/spin.toml",
    "/static-files/%2E%2E/%2e%2e/spin.toml",
    "/static-files/.%2e/spin.toml",
    "/static-files/static%2f..%2f..%2fspin.toml",
    "/static-files/static%2Fjs%2Fmain.js",
    "/static-files/..%5c..%5cspin.toml",
    "/static-files/static\\..\\..\\spin.toml",
    "/static-files/index.html%00.js",
    "/static-files//etc/passwd",
    "/static-files/./index.html",
    "/static-files/.assets.tsv",
    "/static-files/%2eassets.tsv",
    "/static-files/index.html.br",
    "/static-files/index.html.gz",
    "/static-files/static/js/",
    "/static-files/static",
    "/static-files/",
    "/static-files",
    "/static-files/%zz",
    "/static-files/no-such-file.js",
])
def test_traversal_and_unknown_files_are_404(ui, target):
    status, headers, body = raw(ui, "GET", target)
    assert status == 404, target
    assert b"[component" not in body and b"spin_manifest_version" not in body
    assert headers["content-type"] == "text/plain; charset=utf-8"


# ------------------------------------------------------------ the rest of the app


def test_the_api_and_the_other_components_keep_their_paths(ui):
    r = requests.post(ui + "/api/2.0/mlflow/experiments/search", json={"max_results": 10})
    assert r.status_code == 200
    assert any(e["name"] == "Default" for e in r.json()["experiments"])
    # The UI's own API prefix goes to mlflow-server too.
    r = requests.post(ui + "/ajax-api/2.0/mlflow/experiments/search", json={"max_results": 10})
    assert r.status_code == 200 and "experiments" in r.json()
    assert requests.get(ui + "/health").status_code == 200  # iris-api
    # Only `/` is the page: /index.html is one of mlflow-server's paths, as in MLflow.
    assert requests.get(ui + "/index.html").content != (SITE / "index.html").read_bytes()
