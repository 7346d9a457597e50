# spinflow: the two commands of the README are `make up` and `make test`.
SHELL := /bin/bash
SPINFLOW := target/release/spinflow
VENV := .venv
PY := $(VENV)/bin/python
# The MLflow 2.9 client of the reference deployment (py-test-mlflow29, and the 2.9 paging check).
VENV29 := .venv-mlflow29

.PHONY: up build host components components-p3 test test-deps venv rust-test py-test py-test-mlflow29 py-test-postgres test-postgres py-test-s3 test-s3 test-reliability lint

## Build everything and run the whole app on 127.0.0.1:3000 (runtime-config.toml:
## iris-api's key-value store in memory, tracking data on disk under .spin/).
up: build
	$(SPINFLOW) up --runtime-config-file runtime-config.toml

build: components

host:
	cargo build --release -p spinflow

## Build every component of spin.toml, as `spin build` would. mlflow-ui's build downloads
## the pinned mlflow wheel once with `python3 -m pip` (components/mlflow-ui/ui-wheel.txt;
## PYTHON=... for another interpreter) and reuses it and the built site afterwards.
components: host
	@# rust-toolchain.toml names the target, but an already-installed toolchain may lack it.
	@command -v rustup >/dev/null && rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
	$(SPINFLOW) build

## iris-api also as a WASIp3 component (spin-wasip3.toml): the tests run it, `make up` does not.
components-p3: components
	$(SPINFLOW) build -f spin-wasip3.toml

## Run every test: Rust unit and end-to-end tests, then the Python suites.
test: test-deps build components-p3 venv rust-test py-test py-test-mlflow29 py-test-postgres

test-deps:
	bash scripts/install-test-deps.sh

venv: $(VENV)/.installed

$(VENV)/.installed: tests/python/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r tests/python/requirements.txt
	touch $@

rust-test: build components-p3
	cargo test --release --workspace

py-test: build components-p3 venv $(VENV29)/.installed test-postgres test-s3
	$(VENV)/bin/pytest tests/python -q

## The tests' own S3 server (crates/test-s3: s3s-fs, the S3 API over a directory).
test-s3:
	cargo build --release -p test-s3

## mlflow-server's artifacts in S3 (artifacts_destination = s3://...) against test-s3,
## through the official client; `make test` runs the same file in py-test.
py-test-s3: build venv test-s3
	$(VENV)/bin/pytest tests/python/test_artifacts_s3.py -q

## The tests' own PostgreSQL server (crates/test-postgres), for the Python suites on PostgreSQL.
test-postgres:
	cargo build --release -p test-postgres

## The tracking and registry suites again with mlflow-server's data in PostgreSQL: one server
## for the session (target/release/test-postgres), a database of its own per app, and the
## session's app as two `spinflow up` replicas on one database behind a round-robin proxy.
PG_SUITES := $(addprefix tests/python/,test_tracking.py test_tracking_artifacts.py \
	test_tracking_concurrency.py test_registry_client.py test_registry_loop.py \
	test_iris_registry.py test_graphql.py test_reliability_tracking.py)
py-test-postgres: build components-p3 venv test-postgres
	SPINFLOW_TEST_STORE=postgres SPINFLOW_TEST_REPLICAS=2 $(VENV)/bin/pytest $(PG_SUITES) -q

## The reliability suite alone (issue 21): stalled and idle clients, kill -9 mid-upload and
## mid-log-batch, oversized requests, user errors, and the property tests of the input
## parsers and artifact paths. `make test` runs all of it too (rust-test and py-test).
test-reliability: build components-p3 venv
	cargo test --release -p spinflow --test reliability_connections
	cargo test --release -p mlflow-server -p iris-api properties
	$(VENV)/bin/pytest tests/python/test_reliability_*.py -q

## The tracking suites again with the MLflow 2.9 client of the reference deployment.
$(VENV29)/.installed: tests/python/requirements-mlflow29.txt
	python3 -m venv $(VENV29)
	$(VENV29)/bin/python -m pip install --quiet --upgrade pip
	$(VENV29)/bin/python -m pip install --quiet -r tests/python/requirements-mlflow29.txt
	touch $@

py-test-mlflow29: build $(VENV29)/.installed
	$(VENV29)/bin/pytest tests/python/test_tracking*.py tests/python/test_registry_mlflow29.py -q

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --release -- -D warnings

## Kubernetes (docs/kubernetes.md): the app as an OCI image, deployed with kustomize.
## K8S_OVERLAY=local (k3d/kind/minikube) or production; IMAGE names the image.
K8S_OVERLAY ?= local
IMAGE ?= spinflow:dev
KUBECTL ?= kubectl
K8S_NS := mlops

.PHONY: k8s-image k8s-image-docker k8s-deploy k8s-local-tls k8s-status k8s-mlflow-ui k8s-delete

## OCI image archive target/oci/spinflow.tar (/spin.toml + the .wasm files), no engine needed.
## BAKE_MODEL=models:/iris@champion (fetched from MLFLOW_TRACKING_URI) bakes that registry
## version into iris-api, which then serves it from its first request (docs/kubernetes.md).
BAKE_MODEL ?=
BAKED_IRIS := target/oci/iris_api.baked.wasm
OCI_SOURCES := $(if $(BAKE_MODEL),--component-source iris-api=$(BAKED_IRIS))
k8s-image: build
	@mkdir -p target/oci
	$(if $(BAKE_MODEL),$(SPINFLOW) preinit target/wasm32-wasip2/wasm-release/iris_api.preinit.wasm --output $(BAKED_IRIS) --model $(BAKE_MODEL))
	python3 deploy/oci_image.py -t $(IMAGE) -o target/oci/spinflow.tar $(OCI_SOURCES)

## The same image with a container engine (docker build of a context staged from spin.toml).
k8s-image-docker: k8s-image
	python3 deploy/oci_image.py -t $(IMAGE) -o target/oci/spinflow.tar --rootfs target/oci/rootfs $(OCI_SOURCES)
	docker build -f deploy/Dockerfile -t $(IMAGE) target/oci/rootfs

k8s-deploy:
	@if [ "$(K8S_OVERLAY)" = production ]; then for f in iris-api-secrets.env mlflow-server-store.env; do \
	  [ -f k8s/overlays/production/$$f ] || { echo "k8s/overlays/production/$$f is missing: copy the .example next to it and set real values" >&2; exit 1; }; done; fi
	$(KUBECTL) apply -f runtimeclass.yaml
	$(KUBECTL) apply -k k8s/overlays/$(K8S_OVERLAY)
	@if [ "$(K8S_OVERLAY)" = local ]; then $(MAKE) --no-print-directory k8s-local-tls; fi
	$(KUBECTL) -n $(K8S_NS) rollout status deployment/mlflow-server --timeout=180s
	$(KUBECTL) -n $(K8S_NS) rollout status deployment/iris-api --timeout=180s

## A self-signed certificate for iris-api.example.com in the Ingress's TLS secret (local clusters).
k8s-local-tls:
	@$(KUBECTL) -n $(K8S_NS) get secret iris-api-tls >/dev/null 2>&1 || { \
	  mkdir -p target/k8s-tls && \
	  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=iris-api.example.com \
	    -addext subjectAltName=DNS:iris-api.example.com \
	    -keyout target/k8s-tls/tls.key -out target/k8s-tls/tls.crt 2>/dev/null && \
	  $(KUBECTL) -n $(K8S_NS) create secret tls iris-api-tls \
	    --cert=target/k8s-tls/tls.crt --key=target/k8s-tls/tls.key; }

k8s-status:
	$(KUBECTL) get runtimeclass wasmtime-spin-v2
	$(KUBECTL) get pods,services -n ingress-nginx
	$(KUBECTL) get all,ingress,configmap,secret,pvc,hpa,pdb,networkpolicy -n $(K8S_NS)

## MLflow web UI (mlflow-ui) and REST API on http://127.0.0.1:5000 (kubectl port-forward; Ctrl-C to stop).
k8s-mlflow-ui:
	$(KUBECTL) -n $(K8S_NS) port-forward service/mlflow-server-service 5000:5000

## Removes what k8s-deploy applied (the namespace with its data; the RuntimeClass stays).
k8s-delete:
	$(KUBECTL) delete -k k8s/overlays/$(K8S_OVERLAY) --ignore-not-found
