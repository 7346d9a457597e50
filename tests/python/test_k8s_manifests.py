"""The Kubernetes manifests, checked offline.

Every object of the base and of each rendered overlay validates strictly
against the Kubernetes OpenAPI schema, and the references that no schema sees
hold (Services -> pods, Ingress -> Services, pods -> RuntimeClass, ConfigMaps,
Secrets, spin.toml components, routes and variables, the tracking store's
settings and the network policies that let it reach them). Each check is also
fed a deliberately broken manifest, to prove it can fail.
"""

import base64
import copy
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingress"))
import k8s_manifests as km  # noqa: E402

TARGETS = ["base", "overlays/local", "overlays/production"]
SQLITE_TARGETS = ["base", "overlays/local"]
PRODUCTION = "overlays/production"

# mlflow-server's store settings (spin.toml variables), all from the Secret
# mlflow-server-store in production.
STORE_VARIABLES = {"database_url", "database_host", "artifacts_destination", "s3_endpoint_url",
                   "s3_region", "s3_access_key_id", "s3_secret_access_key"}


@pytest.fixture(scope="module")
def k8s_tree(tmp_path_factory):
    return km.copy_k8s_tree(tmp_path_factory.mktemp("k8s"))


@pytest.fixture(scope="module")
def rendered(k8s_tree):
    return {t: km.render(k8s_tree / t) for t in TARGETS}


@pytest.fixture(scope="module")
def runtime_classes():
    return km.load_yaml_file(km.RUNTIMECLASS)


@pytest.fixture(scope="module")
def spin():
    return km.load_spin_manifest()


@pytest.fixture
def base(rendered):
    """A fresh, mutable copy of the rendered base."""
    return copy.deepcopy(rendered["base"])


@pytest.fixture
def production(rendered):
    """A fresh, mutable copy of the rendered production overlay."""
    return copy.deepcopy(rendered[PRODUCTION])


def obj(docs, kind, name):
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def container(docs, deployment):
    return obj(docs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]


def env(c, name):
    return next(e for e in c["env"] if e["name"] == name)


def pod_spec(docs, deployment):
    return obj(docs, "Deployment", deployment)["spec"]["template"]["spec"]


def runtime_config(docs, name):
    return tomllib.loads(obj(docs, "ConfigMap", name)["data"]["runtime-config.toml"])


def env_file(path: Path) -> dict:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def egress_ports(docs, deployment) -> set[tuple[str, int | str]] | None:
    """(protocol, port) pairs the Deployment's pods may open; None when no policy limits egress."""
    labels = obj(docs, "Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy" and "Egress" in d["spec"]["policyTypes"]
                and km.selector_matches(d["spec"]["podSelector"], labels)]
    if not policies:
        return None
    any_port = [{"protocol": "any", "port": "any"}]
    return {(p.get("protocol", "TCP"), p.get("port", "any"))
            for pol in policies for rule in pol["spec"].get("egress") or [] for p in rule.get("ports") or any_port}


# ------------------------------------------------------------ the real manifests


@pytest.mark.parametrize("target", TARGETS)
def test_every_object_validates_strictly_against_the_schema(rendered, runtime_classes, target):
    assert km.schema_errors(rendered[target] + runtime_classes) == []


@pytest.mark.parametrize("target", TARGETS)
def test_cross_references_hold(rendered, runtime_classes, spin, target):
    assert km.all_cross_reference_errors(rendered[target], runtime_classes, spin) == []


@pytest.mark.parametrize("target", TARGETS)
def test_the_reference_deployment_is_there(rendered, target):
    docs = rendered[target]
    ns = obj(docs, "Namespace", "mlops")
    assert ns
    iris = obj(docs, "Deployment", "iris-api")
    assert iris["spec"]["replicas"] >= 2
    assert obj(docs, "Service", "iris-api-service")["spec"]["ports"][0]["port"] == 8000
    assert obj(docs, "Service", "mlflow-server-service")["spec"]["ports"][0]["port"] == 5000
    assert env(container(docs, "iris-api"), "SPIN_COMPONENTS_TO_RETAIN")["value"] == "iris-api"
    assert env(container(docs, "mlflow-server"), "SPIN_COMPONENTS_TO_RETAIN")["value"] == "mlflow-server,mlflow-ui"
    cfg = obj(docs, "ConfigMap", "iris-api-config")
    assert cfg["data"]["mlflow_tracking_uri"] == "http://mlflow-server-service:5000"
    assert obj(docs, "Secret", "iris-api-secrets")["data"]["api_keys"]
    ing = obj(docs, "Ingress", "iris-api-ingress")
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"][0]["hosts"] == ["iris-api.example.com"]
    assert obj(docs, "HorizontalPodAutoscaler", "iris-api-hpa")
    assert obj(docs, "PodDisruptionBudget", "iris-api-pdb")


@pytest.mark.parametrize("target", SQLITE_TARGETS)
def test_one_tracking_replica_keeps_sqlite_on_the_mlruns_volume(rendered, target):
    docs = rendered[target]
    mlflow = obj(docs, "Deployment", "mlflow-server")
    assert mlflow["spec"]["replicas"] == 1 and mlflow["spec"]["strategy"]["type"] == "Recreate"
    c = container(docs, "mlflow-server")
    assert not [e["name"] for e in c["env"] if e["name"].startswith("SPIN_VARIABLE_")]
    assert {m["mountPath"]: m["name"] for m in c["volumeMounts"]}["/mlruns"] == "mlruns-volume"
    rc = runtime_config(docs, "mlflow-server-runtime-config")
    assert rc["sqlite_database"]["default"] == {"type": "spin", "path": "/mlruns/mlflow.db"}
    assert not [d for d in docs if d["kind"] == "PodDisruptionBudget" and "mlflow" in d["metadata"]["name"]]


def test_overlays_put_mlruns_where_they_say(rendered):
    vols = pod_spec(rendered["overlays/local"], "mlflow-server")["volumes"]
    mlruns = next(v for v in vols if v["name"] == "mlruns-volume")
    assert mlruns["hostPath"]["path"] == "/tmp/mlruns"
    assert "emptyDir" not in mlruns
    assert not [v for v in pod_spec(rendered[PRODUCTION], "mlflow-server")["volumes"]
                if v["name"] == "mlruns-volume"]
    ns = obj(rendered[PRODUCTION], "Namespace", "mlops")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_production_secrets_come_from_the_uncommitted_files(k8s_tree, rendered):
    prod = k8s_tree / PRODUCTION
    for name, file in (("iris-api-secrets", "iris-api-secrets.env"), ("mlflow-server-store", "mlflow-server-store.env")):
        secret = obj(rendered[PRODUCTION], "Secret", name)
        decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert decoded == env_file(prod / file)
    assert sorted((km.K8S / PRODUCTION / ".gitignore").read_text().split()) == [
        "iris-api-secrets.env", "mlflow-server-store.env"]


# ------------------------------------------------------------ production: tracking scaled out


def test_production_runs_tracking_replicas_on_postgres_and_s3_without_volumes(rendered):
    docs = rendered[PRODUCTION]
    spec = obj(docs, "Deployment", "mlflow-server")["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    pod = spec["template"]["spec"]
    assert {v["name"] for v in pod["volumes"]} == {"runtime-config", "spin-state"}
    assert not [v for v in pod["volumes"] if "persistentVolumeClaim" in v or "hostPath" in v]
    assert "/mlruns" not in {m["mountPath"] for m in container(docs, "mlflow-server")["volumeMounts"]}
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert "sqlite_database" not in runtime_config(docs, "mlflow-server-runtime-config")
    settings = km.resolved_env(docs, "mlops", container(docs, "mlflow-server"))
    assert settings["SPIN_VARIABLE_DATABASE_URL"].startswith("postgres://")
    assert settings["SPIN_VARIABLE_ARTIFACTS_DESTINATION"].startswith("s3://")


def test_production_spreads_tracking_replicas_over_nodes(rendered):
    docs = rendered[PRODUCTION]
    labels = obj(docs, "Deployment", "mlflow-server")["spec"]["template"]["metadata"]["labels"]
    spread = pod_spec(docs, "mlflow-server")["topologySpreadConstraints"]
    by_node = [t for t in spread if t["topologyKey"] == "kubernetes.io/hostname"]
    assert len(by_node) == 1 and by_node[0]["maxSkew"] == 1
    assert km.selector_matches(by_node[0]["labelSelector"], labels)


def test_production_pdb_keeps_one_tracking_replica(rendered):
    docs = rendered[PRODUCTION]
    pdb = obj(docs, "PodDisruptionBudget", "mlflow-server-pdb")
    assert pdb["spec"]["minAvailable"] == 1
    selected = km.pods_selected(docs, "mlops", pdb["spec"]["selector"])
    assert [p.owner["metadata"]["name"] for p in selected] == ["mlflow-server"]


def test_every_store_setting_reaches_mlflow_server_as_a_spin_variable(rendered):
    docs = rendered[PRODUCTION]
    secret = obj(docs, "Secret", "mlflow-server-store")
    assert set(secret["data"]) == STORE_VARIABLES
    c = container(docs, "mlflow-server")
    for key in STORE_VARIABLES:
        assert env(c, f"SPIN_VARIABLE_{key.upper()}")["valueFrom"] == {
            "secretKeyRef": {"name": "mlflow-server-store", "key": key}}
    assert not [e for e in container(docs, "iris-api")["env"]
                if (e.get("valueFrom") or {}).get("secretKeyRef", {}).get("name") == "mlflow-server-store"]


def test_production_readiness_asks_the_store_and_liveness_only_spin(rendered):
    c = container(rendered[PRODUCTION], "mlflow-server")
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    # Spin answers this path itself: a database outage makes replicas unready, never restarts them.
    assert c["livenessProbe"]["httpGet"]["path"] == "/.well-known/spin/health"
    assert c["startupProbe"]["httpGet"]["path"] == "/.well-known/spin/health"
    liveness, readiness = c["livenessProbe"], c["readinessProbe"]
    assert (liveness["failureThreshold"] * liveness["periodSeconds"]
            > readiness["failureThreshold"] * readiness["periodSeconds"])


def test_only_production_lets_mlflow_server_reach_its_store_and_dns(rendered):
    assert egress_ports(rendered[PRODUCTION], "mlflow-server") == {
        ("TCP", 5432), ("TCP", 443), ("UDP", 53), ("TCP", 53)}
    for target in SQLITE_TARGETS:
        assert egress_ports(rendered[target], "mlflow-server") == set()
    for target in TARGETS:
        assert egress_ports(rendered[target], "iris-api") == {("TCP", 80), ("UDP", 53), ("TCP", 53)}


def test_the_optional_cloudnative_pg_cluster_is_the_one_the_example_settings_name(k8s_tree, rendered):
    docs = km.render(k8s_tree / "optional/cloudnative-pg")
    assert [d["kind"] for d in docs] == ["Cluster"]
    cluster = obj(docs, "Cluster", "mlflow-db")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1" and km.namespace_of(cluster) == "mlops"
    assert cluster["spec"]["instances"] >= 2
    settings = env_file(k8s_tree / PRODUCTION / "mlflow-server-store.env.example")
    url = urlsplit(settings["database_url"])
    # The operator serves the primary as <cluster>-rw, and initdb's owner owns the database.
    assert (url.hostname, url.port) == (f"mlflow-db-rw.{km.namespace_of(cluster)}", 5432)
    assert settings["database_host"] == f"{url.hostname}:{url.port}"
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    assert (url.username, url.path) == (initdb["owner"], "/" + initdb["database"])
    for target in TARGETS:
        assert not [d for d in rendered[target] if d["kind"] == "Cluster"]


def test_route_component_follows_spin_precedence(spin):
    both = ["iris-api", "mlflow-server"]
    assert km.route_component(spin, "/health", both) == "iris-api"
    assert km.route_component(spin, "/health", ["mlflow-server"]) == "mlflow-server"
    assert km.route_component(spin, "/v2/health/ready", both) == "iris-api"
    assert km.route_component(spin, "/api/2.0/mlflow/experiments/get", both) == "mlflow-server"
    assert km.route_component(spin, "/api/2.0/mlflow/experiments/get", ["iris-api"]) is None
    assert km.route_component(spin, "/predict/extra", ["iris-api"]) is None
    mlflow = ["mlflow-server", "mlflow-ui"]
    assert km.route_component(spin, "/", mlflow) == "mlflow-ui"
    assert km.route_component(spin, "/static-files/static/js/main.js", mlflow) == "mlflow-ui"
    assert km.route_component(spin, "/ajax-api/2.0/mlflow/runs/search", mlflow) == "mlflow-server"
    assert km.route_component(spin, "/", ["mlflow-server"]) == "mlflow-server"


def ui_errors(docs: list[dict], spin: dict) -> list[str]:
    """`make k8s-mlflow-ui` forwards mlflow-server-service: the pods behind it must
    route the UI's paths to mlflow-ui and the API to mlflow-server. The shim splits
    SPIN_COMPONENTS_TO_RETAIN on commas without trimming, so spaces name no component."""
    problems = []
    for d in docs:
        if d["kind"] != "Deployment":
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            value = km.env_value(c, "SPIN_COMPONENTS_TO_RETAIN") or ""
            if value != value.strip() or any(p != p.strip() or not p for p in value.split(",")):
                problems.append(f"Deployment/{d['metadata']['name']} SPIN_COMPONENTS_TO_RETAIN {value!r} has spaces or gaps")
    svc = obj(docs, "Service", "mlflow-server-service")
    pods = km.pods_selected(docs, km.namespace_of(svc), svc["spec"]["selector"])
    for pod in pods:
        for c in pod.spec["containers"]:
            retained = km._retained(c, spin)
            for path, want in (("/", "mlflow-ui"), ("/static-files/static/js/main.js", "mlflow-ui"),
                               ("/api/2.0/mlflow/experiments/search", "mlflow-server")):
                got = km.route_component(spin, path, retained)
                if got != want:
                    problems.append(f"{km.ident(pod.owner)}: {path} goes to {got}, not {want}")
    if not pods:
        problems.append("mlflow-server-service selects no pods")
    return problems


@pytest.mark.parametrize("target", TARGETS)
def test_the_web_ui_is_behind_the_mlflow_server_service(rendered, spin, target):
    assert ui_errors(rendered[target], spin) == []


def test_a_pod_without_the_ui_or_with_spaced_components_is_caught(base, spin):
    retain = env(container(base, "mlflow-server"), "SPIN_COMPONENTS_TO_RETAIN")
    retain["value"] = "mlflow-server"
    assert any("/ goes to mlflow-server, not mlflow-ui" in e for e in ui_errors(base, spin))
    retain["value"] = "mlflow-server, mlflow-ui"
    assert any("has spaces or gaps" in e for e in ui_errors(base, spin))


# ------------------------------------------------------------ each check can fail


def test_schema_rejects_a_misspelled_field(base):
    container(base, "iris-api")["readynessProbe"] = container(base, "iris-api").pop("readinessProbe")
    errors = km.schema_errors(base)
    assert any("Deployment/iris-api" in e and "readynessProbe" in e for e in errors), errors


def test_schema_rejects_a_wrong_type(base):
    obj(base, "Service", "iris-api-service")["spec"]["ports"][0]["port"] = "8000"
    errors = km.schema_errors(base)
    assert any("Service/iris-api-service" in e and "8000" in e for e in errors), errors


def test_object_without_namespace_is_caught(base):
    del obj(base, "ConfigMap", "iris-api-config")["metadata"]["namespace"]
    assert any("ConfigMap/iris-api-config has no namespace" in e for e in km.namespace_errors(base))


def test_service_selector_that_matches_no_pod_is_caught(base):
    obj(base, "Service", "iris-api-service")["spec"]["selector"]["app.kubernetes.io/name"] = "iris"
    assert any("Service/iris-api-service selector" in e for e in km.service_errors(base))


def test_service_target_port_missing_on_pods_is_caught(base):
    obj(base, "Service", "mlflow-server-service")["spec"]["ports"][0]["targetPort"] = 5000
    assert any("targets 5000" in e for e in km.service_errors(base))


def test_ingress_backend_to_missing_service_or_port_is_caught(base):
    path = obj(base, "Ingress", "iris-api-ingress")["spec"]["rules"][0]["http"]["paths"][0]
    path["backend"]["service"]["port"]["number"] = 80
    assert any("backend port" in e for e in km.ingress_errors(base))
    path["backend"]["service"]["name"] = "iris-api"
    assert any("names Service iris-api, which does not exist" in e for e in km.ingress_errors(base))


def test_ingress_host_without_tls_is_caught(base):
    obj(base, "Ingress", "iris-api-ingress")["spec"]["rules"][0]["host"] = "api.example.com"
    assert any("not covered by its tls" in e for e in km.ingress_errors(base))


def test_runtime_class_mismatch_is_caught(base, runtime_classes):
    obj(base, "Deployment", "iris-api")["spec"]["template"]["spec"]["runtimeClassName"] = "wasmtime-spin"
    errors = km.runtime_class_errors(base, runtime_classes)
    assert any("runtimeClassName 'wasmtime-spin' is not in runtimeclass.yaml" in e for e in errors), errors


def test_missing_runwasi_command_is_caught(base, runtime_classes):
    del container(base, "mlflow-server")["command"]
    assert any('command: ["/"]' in e for e in km.runtime_class_errors(base, runtime_classes))


def test_unknown_retained_component_is_caught(base, runtime_classes, spin):
    env(container(base, "iris-api"), "SPIN_COMPONENTS_TO_RETAIN")["value"] = "iris_api"
    errors = km.retained_component_errors(base, runtime_classes, spin)
    assert any("retains 'iris_api'" in e for e in errors), errors


def test_probe_path_not_routed_to_retained_component_is_caught(base, runtime_classes, spin):
    # /metrics is iris-api's; with only mlflow-server retained it goes to mlflow-server's /...,
    # so use a retained component whose routes do not cover the path.
    c = container(base, "iris-api")
    c["readinessProbe"]["httpGet"]["path"] = "/api/2.0/mlflow/experiments/search"
    errors = km.probe_errors(base, runtime_classes, spin)
    assert any("readinessProbe path /api/2.0/mlflow/experiments/search is routed to no retained" in e
               for e in errors), errors


def test_probe_on_wrong_port_is_caught(base, runtime_classes, spin):
    container(base, "iris-api")["livenessProbe"]["httpGet"]["port"] = 8000
    assert any("livenessProbe port 8000" in e for e in km.probe_errors(base, runtime_classes, spin))


def test_unknown_spin_variable_is_caught(base, runtime_classes, spin):
    env(container(base, "iris-api"), "SPIN_VARIABLE_MODEL_URI")["name"] = "SPIN_VARIABLE_MODEL_URL"
    errors = km.variable_errors(base, runtime_classes, spin)
    assert any("no variable 'model_url'" in e for e in errors), errors


def test_variable_for_a_component_not_retained_is_caught(base, runtime_classes, spin):
    container(base, "mlflow-server")["env"].append({"name": "SPIN_VARIABLE_API_KEYS", "value": "x"})
    errors = km.variable_errors(base, runtime_classes, spin)
    assert any("Deployment/mlflow-server" in e and "no retained component uses" in e for e in errors), errors


def test_missing_configmap_and_secret_keys_are_caught(base):
    del obj(base, "ConfigMap", "iris-api-config")["data"]["model_uri"]
    del obj(base, "Secret", "iris-api-secrets")["data"]["api_keys"]
    errors = km.reference_errors(base)
    assert any("key 'model_uri' of ConfigMap iris-api-config" in e for e in errors), errors
    assert any("key 'api_keys' of Secret iris-api-secrets" in e for e in errors), errors


def test_missing_runtime_config_key_is_caught(base):
    cm = obj(base, "ConfigMap", "mlflow-server-runtime-config")
    cm["data"] = {"runtime.toml": cm["data"]["runtime-config.toml"]}
    errors = km.reference_errors(base)
    assert any("key 'runtime-config.toml' of ConfigMap mlflow-server-runtime-config" in e for e in errors), errors


def test_selectors_of_pdb_policy_and_hpa_are_checked(base):
    obj(base, "PodDisruptionBudget", "iris-api-pdb")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "x"
    obj(base, "HorizontalPodAutoscaler", "iris-api-hpa")["spec"]["scaleTargetRef"]["name"] = "iris"
    pol = obj(base, "NetworkPolicy", "mlflow-server-from-iris-api")
    pol["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] = "iris"
    errors = km.selector_errors(base)
    assert any("PodDisruptionBudget/iris-api-pdb selector" in e for e in errors), errors
    assert any("scales Deployment/iris, which does not exist" in e for e in errors), errors
    assert any("NetworkPolicy/mlflow-server-from-iris-api peer" in e for e in errors), errors


def test_store_off_the_volume_is_caught(base, runtime_classes, spin):
    cm = obj(base, "ConfigMap", "mlflow-server-runtime-config")
    cm["data"]["runtime-config.toml"] = cm["data"]["runtime-config.toml"].replace("/mlruns/mlflow.db", "/data/mlflow.db")
    errors = km.storage_errors(base, runtime_classes, spin)
    assert any("sqlite_database.default path /data/mlflow.db is on no volume" in e for e in errors), errors


def test_default_store_on_read_only_root_is_caught(base, runtime_classes, spin):
    # Without its runtime config, iris-api's store falls back to the state dir.
    c = container(base, "iris-api")
    c["volumeMounts"] = [m for m in c["volumeMounts"]
                         if m["mountPath"] not in ("/.spin", "/runtime-config.toml")]
    errors = km.storage_errors(base, runtime_classes, spin)
    assert any("iris-api's key_value_store 'default' defaults to /.spin" in e for e in errors), errors


def test_tracking_replicas_on_sqlite_or_a_volume_are_caught(production, runtime_classes, spin):
    c = container(production, "mlflow-server")
    c["env"] = [e for e in c["env"] if e["name"] != "SPIN_VARIABLE_DATABASE_URL"]
    pod_spec(production, "mlflow-server")["volumes"].append(
        {"name": "mlruns-volume", "persistentVolumeClaim": {"claimName": "mlruns-pvc"}})
    c["volumeMounts"].append({"name": "mlruns-volume", "mountPath": "/mlruns"})
    errors = km.replica_store_errors(production, runtime_classes, spin)
    assert any("mlflow-server (2 replicas) keeps mlflow-server's store in per-pod SQLite" in e for e in errors), errors
    assert any("mounts PersistentVolumeClaim volume mlruns-volume at /mlruns" in e for e in errors), errors


def test_rolling_update_on_sqlite_is_caught(base, runtime_classes, spin):
    obj(base, "Deployment", "mlflow-server")["spec"]["strategy"] = {"type": "RollingUpdate"}
    errors = km.replica_store_errors(base, runtime_classes, spin)
    assert any("on SQLite rolls out with RollingUpdate" in e for e in errors), errors


def set_secret(docs, key, value):
    obj(docs, "Secret", "mlflow-server-store")["data"][key] = base64.b64encode(value.encode()).decode()


def test_database_url_outside_database_host_is_caught(production, runtime_classes, spin):
    set_secret(production, "database_host", "mlflow-db-rw.mlops:6432")
    errors = km.store_setting_errors(production, runtime_classes, spin)
    assert any("database_url names mlflow-db-rw.mlops:5432 but database_host allows mlflow-db-rw.mlops:6432" in e
               for e in errors), errors


def test_s3_artifacts_without_an_endpoint_are_caught(production, runtime_classes, spin):
    set_secret(production, "s3_endpoint_url", "")
    set_secret(production, "artifacts_destination", "mlflow-artifacts/spinflow")
    errors = km.store_setting_errors(production, runtime_classes, spin)
    assert any("artifacts_destination 'mlflow-artifacts/spinflow' is not s3://" in e for e in errors), errors
    assert any("s3_endpoint_url '' is no http(s) URL" in e for e in errors), errors


def test_store_unreachable_through_the_network_policies_is_caught(production, runtime_classes, spin):
    set_secret(production, "database_host", "mlflow-db-rw.mlops:6432")
    set_secret(production, "s3_endpoint_url", "http://minio.minio:9000")
    policy = obj(production, "NetworkPolicy", "mlflow-server-to-store")
    policy["spec"]["egress"] = [r for r in policy["spec"]["egress"] if "to" not in r]  # no DNS
    errors = km.store_egress_errors(production, runtime_classes, spin)
    assert any("may not open TCP port 6432 (database_host mlflow-db-rw.mlops)" in e for e in errors), errors
    assert any("may not open TCP port 9000 (s3_endpoint_url minio.minio)" in e for e in errors), errors
    assert any("may not resolve its store's host names" in e for e in errors), errors
