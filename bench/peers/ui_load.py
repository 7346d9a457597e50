"""Times the MLflow web UI of one tracking server in headless Chromium; prints JSON.

Used by `bench all` (bench/src/web_ui.rs), which seeds the experiment first. For each
of `--loads` cold loads (a new browser context: empty cache), the time from navigation
to the runs table showing the newest run's name and bytes transferred; then a repeat
load in the last context (warm cache) counting the static files fetched again from
the network with a full answer (a 304 or a cache hit is not one). Last, the run page:
its `GetRun` GraphQL request is captured as the UI sends it, and replayed
sequentially over one keep-alive connection for the p50 latency.

Chromium is Debian's (`--chromium`); playwright only drives it (no browser download).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

# Without the background-networking flags Chromium keeps trying hosts this closed
# network refuses; they do not change how a page loads.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Traffic:
    """Network events of one page, from the DevTools protocol (bytes on the wire and
    whether an answer came from the cache, which playwright's API does not tell)."""

    def __init__(self, context, page):
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.urls: dict[str, str] = {}
        self.status: dict[str, int] = {}
        self.cached: set[str] = set()
        self.bytes = 0
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.responseReceived", self._received)
        self.cdp.on("Network.requestServedFromCache", lambda e: self.cached.add(e["requestId"]))
        self.cdp.on("Network.loadingFinished", self._finished)
        # The status on the wire: a revalidated file is a 304 there, while
        # responseReceived reports the cached 200 it revived.
        self.cdp.on("Network.responseReceivedExtraInfo", self._wire)
        self.wire_status: dict[str, int] = {}
        self.cdp.on("Network.loadingFailed", lambda e: self.pending.discard(e["requestId"]))
        self.pending: set[str] = set()

    def _sent(self, e):
        self.urls[e["requestId"]] = e["request"]["url"]
        self.pending.add(e["requestId"])

    def _received(self, e):
        r = e["response"]
        self.status[e["requestId"]] = r["status"]
        if r.get("fromDiskCache") or r.get("fromPrefetchCache") or r.get("fromServiceWorker"):
            self.cached.add(e["requestId"])

    def _wire(self, e):
        self.wire_status[e["requestId"]] = e["statusCode"]

    def _finished(self, e):
        self.bytes += int(e.get("encodedDataLength", 0))
        self.pending.discard(e["requestId"])

    def settle(self, page, quiet_ms: float = 1000.0, cap_ms: float = 15000.0):
        """Waits until no request has been in flight for `quiet_ms` (the UI polls, so
        playwright's "networkidle" may never come), at most `cap_ms`."""
        quiet = 0.0
        waited = 0.0
        while quiet < quiet_ms and waited < cap_ms:
            page.wait_for_timeout(100)
            waited += 100
            quiet = quiet + 100 if not self.pending else 0.0

    def reset(self):
        self.pending.clear()
        self.urls.clear()
        self.wire_status.clear()
        self.status.clear()
        self.cached.clear()
        self.bytes = 0

    def static_fetched_again(self) -> list[str]:
        """Static files answered in full from the network (not 304, not from cache)."""
        return [
            url
            for rid, url in self.urls.items()
            if "/static-files/" in url
            and rid not in self.cached
            and self.wire_status.get(rid, self.status.get(rid)) == 200
        ]


def load_runs_table(page, url: str, run_name: str, timeout_ms: float) -> float:
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.get_by_text(run_name, exact=True).first.wait_for(state="visible", timeout=timeout_ms)
    return (time.perf_counter() - start) * 1000.0


def capture_get_run(page, base: str, experiment_id: str, run_id: str, timeout_ms: float) -> bytes:
    """The body of the run page's `GetRun` GraphQL request, as the UI sends it."""
    with page.expect_request(
        lambda r: r.url.endswith("/graphql")
        and r.method == "POST"
        and '"GetRun"' in (r.post_data or ""),
        timeout=timeout_ms,
    ) as request:
        page.goto(f"{base}/#/experiments/{experiment_id}/runs/{run_id}")
    return request.value.post_data_buffer


def graphql_p50(base: str, body: bytes, warmup: int, requests: int) -> dict:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    times = []
    for i in range(warmup + requests):
        start = time.perf_counter()
        conn.request("POST", "/graphql", body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        elapsed = (time.perf_counter() - start) * 1000.0
        if answer.status != 200 or json.loads(data).get("errors"):
            raise SystemExit(f"/graphql answered {answer.status}: {data[:300]!r}")
        if i >= warmup:
            times.append(elapsed)
    conn.close()
    return {"p50_ms": statistics.median(times), "requests": requests}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="base URL of the server, http://127.0.0.1:PORT")
    ap.add_argument("--experiment-id", required=True)
    ap.add_argument("--run-id", required=True, help="a run of the experiment, for the run page")
    ap.add_argument("--run-name", required=True, help="the newest run's name (first row)")
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--graphql-requests", type=int, default=200)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--timeout-s", type=float, default=120.0)
    args = ap.parse_args()
    base = args.url.rstrip("/")
    table_url = f"{base}/#/experiments/{args.experiment_id}/runs"
    timeout_ms = args.timeout_s * 1000.0

    out: dict = {"cold_ms": [], "cold_bytes": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        for _ in range(args.loads):
            context = browser.new_context(viewport={"width": 1600, "height": 1000})
            page = context.new_page()
            traffic = Traffic(context, page)
            out["cold_ms"].append(load_runs_table(page, table_url, args.run_name, timeout_ms))
            # Requests still in flight after the table shows (charts, counts) are part
            # of the first load's bytes.
            traffic.settle(page)
            out["cold_bytes"].append(traffic.bytes)
            last = (context, page, traffic)
            if len(out["cold_ms"]) < args.loads:
                context.close()
        context, page, traffic = last
        # A new document (as a user opening the UI again), not a reload, which would
        # revalidate more than a new visit does.
        page.goto("about:blank")
        traffic.reset()
        out["warm_ms"] = load_runs_table(page, table_url, args.run_name, timeout_ms)
        traffic.settle(page)
        out["warm_bytes"] = traffic.bytes
        out["warm_static_fetched_again"] = traffic.static_fetched_again()
        body = capture_get_run(page, base, args.experiment_id, args.run_id, timeout_ms)
        context.close()
        browser.close()
    out["graphql_get_run"] = graphql_p50(base, body, warmup=20, requests=args.graphql_requests)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
