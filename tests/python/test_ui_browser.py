"""The MLflow web UI (3.17.2) in headless Chromium against the whole app, as `spinflow up`
serves spin.toml (mlflow-ui at / and /static-files/, mlflow-server for everything else).

Data is seeded with the official client (ui_seed.py). Each test opens one page, checks
that it shows that data, saves a screenshot under target/ui-screenshots/ (overwritten each
run), and checks that every API request the page made answered 2xx, but for the
exceptions in ALLOWED, each with its reason.

Needs Debian's chromium (/usr/bin/chromium; scripts/install-test-deps.sh installs it) and
the playwright package (no browser download: the system Chromium is launched).
"""

import json
import time
import urllib.parse
from pathlib import Path

import mlflow
import pytest
import requests
from conftest import REPO, SpinflowApp
from playwright.sync_api import expect, sync_playwright

import ui_seed

CHROMIUM = "/usr/bin/chromium"
# No network here: nothing in the background may try to reach one.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SHOTS = REPO / "target" / "ui-screenshots"
TIMEOUT_MS = 30_000

# (method, path) -> (status, reason): the API answers a page may get that are not 2xx.
ALLOWED = {
    ("GET", "/ajax-api/2.0/mlflow/users/current"): (
        404,
        "no sign-in: MLflow 3.17.2 without basic-auth has no such route, and the UI "
        "reads the 404 as 'no authentication'",
    ),
}

# Paths of API requests (everything else the page loads is the UI's own files, or media
# from the internet that the page links to and that this machine cannot reach).
API_PREFIXES = ("/api/", "/ajax-api/", "/graphql", "/get-artifact", "/model-versions/")


@pytest.fixture(scope="module")
def ui_app(tmp_path_factory):
    """The whole app on its own state directory, seeded."""
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (scripts/install-test-deps.sh)"
    app = SpinflowApp(tmp_path_factory.mktemp("ui-state") / ".spin").start()
    previous_uri = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        mp.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
        seeded = ui_seed.seed(app.url)
    mlflow.set_tracking_uri(previous_uri)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield app, seeded
    app.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Visit:
    """One page in a fresh browser context, with every API answer it received."""

    def __init__(self, browser, base, fragment, local_storage=None):
        self.base = base
        self.calls = []  # (method, path with query, status)
        self.failed = []
        self.bodies = {}  # path without query -> last JSON answer, for a few endpoints
        self.context = browser.new_context(viewport={"width": 1920, "height": 1080})
        # On a first visit the assistant panel opens by itself (a third of the page) and
        # the registry shows a promotion over its pages: both marked seen and closed, as
        # the UI stores it when a person closes them.
        storage = {
            "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": "true",
            "mlflow.assistant.panelOpen_v1": "false",
            "_mlflow_model_registry_promo_modal_dismissed_v1": "true",
            **(local_storage or {}),
        }
        self.context.add_init_script(
            "for (const [k, v] of Object.entries(%s)) localStorage.setItem(k, v);"
            % json.dumps(storage)
        )
        self.context.on("response", self._response)
        self.context.on("requestfailed", self._failed)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.goto(base + "/#" + fragment)

    def _path(self, url):
        if not url.startswith(self.base):
            return None
        path = url[len(self.base):]
        return path if path.startswith(API_PREFIXES) else None

    def _response(self, response):
        path = self._path(response.url)
        if path is None:
            return
        self.calls.append((response.request.method, path, response.status))
        if "get-history-bulk-interval" in path:
            try:
                self.bodies["get-history-bulk-interval"] = response.json()
            except Exception:  # the page may be gone already
                pass

    def _failed(self, request):
        if self._path(request.url) is not None:
            self.failed.append((request.method, request.url, request.failure))

    def shows(self, text, exact=False):
        """The first element with `text`, scrolled into view and visible."""
        loc = self.page.get_by_text(text, exact=exact).first
        loc.wait_for(state="attached")
        loc.scroll_into_view_if_needed()
        expect(loc).to_be_visible()
        return loc

    def settle(self, quiet_s=1.5, limit_s=15):
        """Waits until no API answer arrived for `quiet_s` (the runs page polls, so the
        network is never idle for long)."""
        deadline = time.monotonic() + limit_s
        seen = -1
        while time.monotonic() < deadline and seen != len(self.calls):
            seen = len(self.calls)
            self.page.wait_for_timeout(quiet_s * 1000)

    def finish(self, name):
        """Screenshot, then the check of every API answer."""
        self.settle()
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))
        self.context.close()
        assert self.calls, f"{name}: the page made no API request"
        assert not self.failed, f"{name}: API requests failed: {self.failed}"
        bad = []
        for method, path, status in self.calls:
            allowed = ALLOWED.get((method, path.split("?")[0]))
            if 200 <= status < 300 or (allowed and allowed[0] == status):
                continue
            bad.append((status, method, path))
        assert not bad, f"{name}: API answers that are not 2xx: {bad}"

    def called(self, method, prefix):
        return [c for c in self.calls if c[0] == method and c[1].startswith(prefix)]


def test_experiments_list(ui_app, browser):
    app, seeded = ui_app
    v = Visit(browser, app.url, "/experiments")
    v.shows(ui_seed.EXPERIMENT, exact=True)
    assert v.called("GET", "/ajax-api/2.0/mlflow/experiments/search")
    v.finish("experiments")


def test_runs_table_with_metric_and_param_columns(ui_app, browser):
    app, seeded = ui_app
    exp = seeded.experiment_id
    # The columns a person would pick in "Columns", stored as the UI stores its choice.
    state = {"selectedColumns": [
        "metrics.`loss`", "metrics.`accuracy`", "params.`learning_rate`", "params.`max_depth`",
    ]}
    v = Visit(browser, app.url, f"/experiments/{exp}/runs", {
        f'MLflowLocalStorage-1.1-ExperimentPage-["{exp}"]-ReactComponentState': json.dumps(state),
    })
    for name in seeded.run_names:
        v.shows(name, exact=True)
    for group in ["Metrics", "Parameters"]:
        expect(v.page.locator(".ag-header-group-text", has_text=group)).to_be_visible()
    for column in state["selectedColumns"]:
        header = v.page.locator(f'.ag-header-cell[col-id="{column}"]')
        expect(header).to_be_visible()
        expect(header).to_contain_text(column.split("`")[1])
    # The grid draws the pinned name column and the other columns as separate rows of
    # one index.
    index = v.page.locator(".ag-row", has_text="run-one").first.get_attribute("row-index")
    run_one = v.page.locator(f'.ag-center-cols-container .ag-row[row-index="{index}"]')
    # The run's last loss (0.25), its accuracy and both params, in its row.
    for value in ["0.25", "0.91", "0.01", "3"]:
        expect(run_one.get_by_text(value, exact=True).first).to_be_visible()
    assert v.called("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets")
    v.finish("runs-table")


def test_run_page_overview(ui_app, browser):
    app, seeded = ui_app
    run_id = seeded.run_ids[0]
    v = Visit(browser, app.url, f"/experiments/{seeded.experiment_id}/runs/{run_id}")
    v.shows("run-one", exact=True)
    v.shows(run_id, exact=True)
    v.shows(f"{ui_seed.RUN_DESCRIPTION} (run-one)")
    tag = v.shows("team", exact=True)
    expect(tag.locator("xpath=..")).to_contain_text("spinflow")
    for text in ["learning_rate", "max_depth", "accuracy", "loss"]:
        v.shows(text, exact=True)
    v.shows("0.01", exact=True)
    v.shows("0.91", exact=True)
    assert v.called("POST", "/graphql")
    v.finish("run-overview")


def test_run_metric_chart_draws_the_history(ui_app, browser):
    app, seeded = ui_app
    run_id = seeded.run_ids[0]
    v = Visit(browser, app.url, f"/experiments/{seeded.experiment_id}/runs/{run_id}/model-metrics")
    card = v.page.locator('[data-testid="experiment-view-compare-runs-card"]', has_text="loss").first
    card.scroll_into_view_if_needed()
    # Plotly draws one marker per step of the 5-step history.
    points = card.locator(".js-plotly-plot .scatterlayer path.point")
    expect(points).to_have_count(len(ui_seed.LOSS_HISTORY))
    expect(card.locator(".scatterlayer path.js-line").first).to_be_visible()
    v.settle()
    history = v.bodies.get("get-history-bulk-interval")
    assert history, "the chart's history was not fetched"
    assert [m["value"] for m in history["metrics"]] == ui_seed.LOSS_HISTORY
    v.finish("run-metric-chart")


def test_compare_two_runs(ui_app, browser):
    app, seeded = ui_app
    runs = urllib.parse.quote(json.dumps(seeded.run_ids))
    exps = urllib.parse.quote(json.dumps([seeded.experiment_id]))
    v = Visit(browser, app.url, f"/compare-runs?runs={runs}&experiments={exps}")
    v.shows("Comparing 2 Runs")
    for run_id in seeded.run_ids:
        v.shows(run_id, exact=True)
    # Run details list both runs' params side by side.
    v.shows("learning_rate", exact=True)
    details = v.page.locator("tr", has_text="learning_rate").last
    expect(details).to_contain_text("0.01")
    expect(details).to_contain_text("0.1")
    v.finish("compare-runs")


def test_artifact_text_preview(ui_app, browser):
    app, seeded = ui_app
    run_id = seeded.run_ids[0]
    v = Visit(browser, app.url,
              f"/experiments/{seeded.experiment_id}/runs/{run_id}/artifacts/{ui_seed.TEXT_ARTIFACT}")
    v.shows(ui_seed.TEXT_CONTENT)
    fetched = v.called("GET", "/get-artifact?")
    assert fetched and all(status == 200 for _, _, status in fetched)
    v.finish("artifact-text")


def test_artifact_png_preview(ui_app, browser):
    app, seeded = ui_app
    run_id = seeded.run_ids[0]
    v = Visit(browser, app.url,
              f"/experiments/{seeded.experiment_id}/runs/{run_id}/artifacts/{ui_seed.PNG_ARTIFACT}")
    image = v.page.locator('img[src^="blob:"]').first
    expect(image).to_be_visible()
    # The PNG decoded: the browser knows its real size (32x32).
    v.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [32, 32]
    assert v.called("GET", "/get-artifact?")
    v.finish("artifact-png")


def test_registered_models_list(ui_app, browser):
    app, seeded = ui_app
    v = Visit(browser, app.url, "/models")
    row = v.page.get_by_role("row", name=ui_seed.MODEL_NAME)
    expect(row.get_by_role("link", name=ui_seed.MODEL_NAME, exact=True)).to_be_visible()
    expect(row).to_contain_text(f"Version {seeded.version}")
    expect(row).to_contain_text(ui_seed.ALIAS)
    v.finish("registered-models")


def test_model_version_page_with_alias(ui_app, browser):
    app, seeded = ui_app
    v = Visit(browser, app.url, f"/models/{ui_seed.MODEL_NAME}/versions/{seeded.version}")
    v.shows(f"Version {seeded.version}", exact=True)
    v.shows(ui_seed.ALIAS)
    v.shows(seeded.model_name, exact=True)  # the logged model it came from
    v.shows("run-one", exact=True)  # its source run
    # The version's MLmodel (for its schema), served although artifacts are proxied.
    fetched = v.called("GET", "/model-versions/get-artifact?")
    assert fetched and fetched[0][2] == 200
    v.finish("model-version")


def test_logged_model_page(ui_app, browser):
    app, seeded = ui_app
    v = Visit(browser, app.url, f"/experiments/{seeded.experiment_id}/models/{seeded.model_id}")
    v.shows(seeded.model_name, exact=True)
    v.shows(seeded.model_id, exact=True)
    v.shows("Ready", exact=True)
    v.shows("model_accuracy", exact=True)
    v.shows("0.97", exact=True)
    v.finish("logged-model")


def test_logged_model_artifacts(ui_app, browser):
    app, seeded = ui_app
    v = Visit(browser, app.url,
              f"/experiments/{seeded.experiment_id}/models/{seeded.model_id}/artifacts")
    v.shows("MLmodel", exact=True).click()
    v.shows("flavors:")
    fetched = v.called("GET", f"/ajax-api/2.0/mlflow/logged-models/{seeded.model_id}/artifacts/files")
    assert fetched and fetched[0][2] == 200
    v.finish("logged-model-artifacts")


@pytest.mark.parametrize("name, fragment, empty_state", [
    ("traces", "/experiments/{exp}/traces", "Start tracing your LLM"),
    ("gateway", "/gateway", "Set up MLflow AI Gateway"),
    ("mcp-registry", "/mcp-registry", "Register and catalog MCP servers"),
])
def test_features_we_lack_show_their_empty_pages(ui_app, browser, name, fragment, empty_state):
    """Traces, the AI gateway and the MCP registry are not served: their pages show
    MLflow's own "nothing here yet" state, not an error."""
    app, seeded = ui_app
    v = Visit(browser, app.url, fragment.format(exp=seeded.experiment_id))
    v.shows(empty_state)
    v.finish(f"empty-{name}")


def test_ui_telemetry_is_off(ui_app):
    """The UI's telemetry worker asks from a web worker, whose requests the page events
    do not show: checked here directly."""
    app, _ = ui_app
    config = requests.get(f"{app.url}/ajax-api/3.0/mlflow/ui-telemetry", timeout=30)
    assert config.status_code == 200 and config.json()["disable_ui_telemetry"] is True
    sent = requests.post(f"{app.url}/ajax-api/3.0/mlflow/ui-telemetry",
                         json={"records": [{"event_name": "x"}]}, timeout=30)
    assert sent.status_code == 200 and sent.json() == {"status": "disabled"}
