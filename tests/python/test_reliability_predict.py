"""Reliability of iris-api's prediction inputs (issue 21), end to end through
`spinflow up` with the real .wasm and the default limits (1,000 rows, 1 MiB bodies):
each finding of the reliability battery, reproduced, with the fixed behaviour asserted.

- an OIP request repeating its `outputs` took gigabytes (a 310 MB answer, 1.17 GB RSS;
  a 500 past that): repeated outputs are answered once, and a body holding more JSON
  values than the row limit needs is refused with 400;
- OIP shapes wrapped at 32 bits (`[4294967297, 4]` with 4 values answered as `[1, 4]`);
- `/predict` took duplicate keys (last wins) and a top-level list; OIP took INT8 data
  holding 300: all refused with 400 and a message saying what is wrong;
- the same checks on MLflow scoring bodies (`/invocations`).

Every test asserts the server still answers `/health` afterwards.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import SpinflowApp, free_port
from test_iris_registry import KEY, SETOSA

AUTH = {"X-API-Key": KEY, "Content-Type": "application/json"}
ROW = list(SETOSA.values())
OUTPUTS = ["probabilities", "label", "class_index"]
INFER = "/v2/models/iris/infer"
MAX_BODY = 1 << 20


def iris_env():
    return {
        "SPIN_VARIABLE_API_KEYS": KEY,
        "SPIN_VARIABLE_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
    }


@pytest.fixture(scope="module")
def app(tmp_path_factory, iris_manifest):
    """iris-api alone with its default limits; the embedded model serves."""
    app = SpinflowApp(tmp_path_factory.mktemp("reliability") / ".spin", ["--component-id", "iris-api"],
                      iris_env(), manifest=iris_manifest).start()
    yield app
    app.stop()


@pytest.fixture(autouse=True)
def still_healthy(request):
    """After each test, the server it used still answers."""
    used = [request.getfixturevalue(n) for n in ("app", "fresh_app") if n in request.fixturenames]
    yield
    for served in used:
        r = requests.get(served.url + "/health", timeout=10)
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text


@pytest.fixture
def fresh_app(start_app, iris_manifest):
    """A host of its own, for a memory figure no earlier request has raised."""
    return start_app(args=["--component-id", "iris-api"], env=iris_env(), manifest=iris_manifest)


def post(app, path, body, cap=4 << 20, headers=AUTH):
    """POSTs `body` (text, or an object sent as JSON) and reads at most `cap` bytes of
    the answer: a server that answers too much fails the test without flooding it."""
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    with requests.post(app.url + path, data=data, headers=headers, timeout=60, stream=True) as r:
        content = b""
        for chunk in r.iter_content(64 << 10):
            content += chunk
            assert len(content) <= cap, f"answer over {cap} bytes (status {r.status_code})"
        return r.status_code, content


def bad_request(app, path, body, *needles):
    """Asserts a 400 BAD_REQUEST whose message contains every needle; returns it."""
    status, content = post(app, path, body)
    assert status == 400, (status, content[:300])
    error = json.loads(content)["error"]
    assert error["code"] == "BAD_REQUEST"
    for needle in needles:
        assert needle in error["message"], error["message"]
    return error["message"]


def matrix(rows, datatype="FP32", shape=None, data=None):
    data = data if data is not None else [v for _ in range(rows) for v in ROW]
    return {"name": "input", "shape": shape or [rows, 4], "datatype": datatype, "data": data}


def peak_rss_bytes(app):
    """The host process's peak resident memory (VmHWM)."""
    with open(f"/proc/{app.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


# --- OIP outputs: the answer is bounded by the rows ----------------------------------

def test_repeated_outputs_are_answered_once(app):
    """3,000 repetitions over 100 rows: one output of each name, the same answer as
    asking for each once (it was 1,000 times that)."""
    inputs = [matrix(100)]
    once = post(app, INFER, {"inputs": inputs, "outputs": [{"name": n} for n in OUTPUTS]})
    repeated = {"inputs": inputs, "outputs": [{"name": OUTPUTS[i % 3]} for i in range(3000)]}
    status, content = post(app, INFER, repeated, cap=2 * len(once[1]))
    assert once[0] == status == 200, content[:300]
    answer = json.loads(content)
    assert [o["name"] for o in answer["outputs"]] == OUTPUTS
    assert content == once[1]
    # Asked in another order, twice each: answered in the order first asked.
    status, content = post(app, INFER, {"inputs": inputs, "outputs": [{"name": "label"}] * 2 + [{"name": "probabilities"}] * 2})
    assert status == 200 and [o["name"] for o in json.loads(content)["outputs"]] == ["label", "probabilities"]


def test_the_batterys_repeated_outputs_request_stays_small(fresh_app):
    """The battery's request (5,000 repeated outputs over 1,000 rows, ~150 KB): it took a
    310 MB answer and 1.17 GB of RSS. It holds more JSON values than 1,000 rows need
    (10 a row plus 1,024), so it is refused before anything is built; the host's peak
    memory barely moves."""
    body = {"inputs": [matrix(1000)], "outputs": [{"name": OUTPUTS[i % 3]} for i in range(5000)]}
    assert len(json.dumps(body)) < MAX_BODY
    # A legitimate request of the same rows first, so that the figure below is the
    # extra of the oversized one.
    assert post(fresh_app, INFER, {"inputs": [matrix(1000)]})[0] == 200
    before = peak_rss_bytes(fresh_app)
    bad_request(fresh_app, INFER, body, "more values")
    assert peak_rss_bytes(fresh_app) - before < 64 << 20


def test_outputs_repeated_up_to_the_body_limit_are_a_400_not_a_500(app):
    """38,000 repetitions (~0.9 MB) trapped on allocation (500, empty body)."""
    body = {"inputs": [matrix(1)], "outputs": [{"name": OUTPUTS[i % 3]} for i in range(38000)]}
    assert len(json.dumps(body)) < MAX_BODY
    bad_request(app, INFER, body, "more values", "max_batch_rows")


def test_many_small_objects_are_refused_before_they_are_built(app):
    """A 1 MiB body of one-field objects: each is a map node, ~60x the JSON's size;
    refused as over the value limit, four at once, quickly."""
    item = '{"a":0},'
    body = "[" + item * ((MAX_BODY - 9) // len(item)) + '{"a":0}]'
    assert len(body) <= MAX_BODY
    for path in ("/predict", "/invocations", INFER):
        with ThreadPoolExecutor(4) as pool:
            for message in pool.map(lambda _: bad_request(app, path, body, "more values"), range(4)):
                assert "at most 11024, 10 per row of max_batch_rows" in message


def test_deep_nesting_is_a_400(app):
    deep = '{"features": ' + "[" * 126 + "]" * 126 + "}"
    status, content = post(app, "/predict", deep)
    assert status == 400, content[:300]
    too_deep = '{"features": ' + "[" * 5000 + "]" * 5000 + "}"
    bad_request(app, "/predict", too_deep, "nested too deeply")


# --- OIP shapes and datatypes ----------------------------------------------------------

@pytest.mark.parametrize("shape,needle", [
    ([4294967297, 4], "4294967297 rows"),
    ([1073741825, 4], "1073741825 rows"),
    ([1, 4294967300], "[1, 4294967300]"),
    ([18446744073709551615, 4], "rows"),
    ([4611686018427387905, 4], "rows"),
    ([2, 2], "shape [N, 4]"),
    ([2, 4], "holds 8"),
])
def test_shapes_do_not_wrap(app, shape, needle):
    """A shape whose product is not the data's length is a 400 (they answered 200 as
    shape [1, 4] when the product wrapped at 32 bits)."""
    bad_request(app, INFER, {"inputs": [matrix(1, shape=shape)]}, needle)


def test_column_shapes_do_not_wrap(app):
    columns = [{"name": f, "shape": [4294967297 if f == "sepal_length" else 1], "datatype": "FP32", "data": [v]}
               for f, v in SETOSA.items()]
    bad_request(app, INFER, {"inputs": columns}, "4294967297 rows")


@pytest.mark.parametrize("datatype,value,needle", [
    ("INT8", 300, "out of the range of datatype INT8"),
    ("INT8", -129, "INT8"),
    ("UINT8", 256, "UINT8"),
    ("UINT8", -1, "UINT8"),
    ("INT16", 32768, "INT16"),
    ("UINT16", 65536, "UINT16"),
    ("INT32", 2147483648, "INT32"),
    ("UINT32", 4294967296, "UINT32"),
    ("INT64", 9223372036854775808, "INT64"),
    ("UINT64", 18446744073709551616, "must be an integer"),
    ("INT32", 2.5, "must be an integer"),
    ("UINT8", 1.0, "must be an integer"),
    ("FP16", 70000, "FP16"),
    ("FP32", 1e39, "out of range"),
    ("FP64", 1e300, "out of range"),
    ("FP32", "5.1", "must be a number"),
    ("BOOL", True, "datatype \"BOOL\""),
    ("BYTES", "5.1", "datatype \"BYTES\""),
])
def test_data_out_of_its_datatype_is_a_400(app, datatype, value, needle):
    bad_request(app, INFER, {"inputs": [matrix(1, datatype, data=[value] * 4)]}, needle)


@pytest.mark.parametrize("datatype,value", [
    ("INT8", 127), ("INT8", -128), ("UINT8", 255), ("INT16", 32767), ("UINT16", 65535),
    ("INT32", -2147483648), ("UINT32", 4294967295), ("INT64", 9223372036854775807),
    ("UINT64", 18446744073709551615), ("FP16", 65504.0), ("FP32", 3.4e38), ("FP64", 0.5),
])
def test_data_at_its_datatypes_edges_is_accepted(app, datatype, value):
    status, content = post(app, INFER, {"inputs": [matrix(1, datatype, data=[value] * 4)]})
    assert status == 200, content[:300]


def test_oip_request_fields_of_the_wrong_type(app):
    bad_request(app, INFER, {"id": 7, "inputs": [matrix(1)]}, "id must be a string")
    bad_request(app, INFER, {"inputs": [matrix(1)], "parameters": [1]}, "parameters must be an object")
    unnamed = matrix(1)
    del unnamed["name"]
    bad_request(app, INFER, {"inputs": [unnamed]}, "needs a name")


# --- /predict: duplicate keys and the body's form --------------------------------------

@pytest.mark.parametrize("path,body,key", [
    ("/predict", '{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, "petal_width": 9}', "petal_width"),
    ("/predict", '{"features": [[5.1, 3.5, 1.4, 0.2]], "features": [[6.7, 3.0, 5.2, 2.3]]}', "features"),
    ("/predict", '{"instances": [{"sepal_length": 5.1, "sepal_length": 6, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}', "sepal_length"),
    ("/invocations", '{"dataframe_records": [{"sepal_length": 5.1, "sepal_width": 3.5, "sepal_width": 1, "petal_length": 1.4, "petal_width": 0.2}]}', "sepal_width"),
    ("/invocations", '{"inputs": {"sepal_length": [5.1], "sepal_width": [3.5], "petal_length": [1.4], "petal_width": [0.2], "petal_width": [9]}}', "petal_width"),
    (INFER, '{"inputs": [{"name": "input", "shape": [1, 4], "shape": [2, 2], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}', "shape"),
])
def test_duplicate_keys_are_refused(app, path, body, key):
    """They were taken, the last one winning."""
    bad_request(app, path, body, f'duplicate key "{key}"')


def test_a_top_level_list_is_not_a_predict_body(app):
    bad_request(app, "/predict", [ROW], "expected a JSON object", "a list")
    bad_request(app, "/predict", [SETOSA], "expected a JSON object")


def test_the_documented_forms_still_work(app):
    """What the refusals above must leave alone, including keys that repeat across
    rows (each in its own object)."""
    for body in (SETOSA, {"features": [ROW, ROW]}, {"instances": [SETOSA, SETOSA]}):
        status, content = post(app, "/predict", body)
        assert status == 200, content[:300]
    status, content = post(app, "/invocations", {"dataframe_records": [SETOSA, SETOSA], "params": {}})
    assert status == 200 and json.loads(content) == {"predictions": ["setosa", "setosa"]}


# --- MLflow scoring --------------------------------------------------------------------

def test_scoring_bodies_are_checked_before_rows_are_built(app):
    rows = [ROW] * 1001
    bad_request(app, "/invocations", {"instances": rows}, "1001 rows", "at most 1000")
    bad_request(app, "/invocations", {"dataframe_split": {"data": rows}}, "at most 1000")
    bad_request(app, "/invocations", {"inputs": {f: [v] * 1001 for f, v in SETOSA.items()}}, "at most 1000")
    csv = "sepal_length,sepal_width,petal_length,petal_width\n" + "5.1,3.5,1.4,0.2\n" * 1001
    status, content = post(app, "/invocations", csv, headers={**AUTH, "Content-Type": "text/csv"})
    assert status == 400 and "at most 1000" in json.loads(content)["error"]["message"]


def test_scoring_fields_of_the_wrong_shape(app):
    bad_request(app, "/invocations", {"dataframe_split": {"columns": list(SETOSA), "data": [ROW], "index": [0, 1]}},
                "2 labels for 1 rows")
    bad_request(app, "/invocations", {"instances": [ROW], "params": [1, 2]}, "params must be an object")
    bad_request(app, "/invocations", [ROW], "expected a JSON object")
    bad_request(app, "/invocations", {"instances": [[5.1, 3.5, 1.4, 1e39]]}, "out of range")
