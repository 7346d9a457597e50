#!/usr/bin/env bash
# Installs the system packages the tests use, when they are missing (Debian).
set -euo pipefail

# command -> Debian package
declare -A needed=(
    [nginx]=nginx
    [openssl]=openssl
    [curl]=curl
    [promtool]=prometheus
    [chromium]=chromium
    # Outbound Redis and MQTT tests of the host (crates/spinflow/tests/spin_compat.rs).
    [redis-server]=redis-server
    [mosquitto]=mosquitto
    # Outbound PostgreSQL tests (crates/spinflow/tests/outbound_pg.rs) run the
    # server as nobody through setpriv, and make its TLS certificates with openssl.
    [setpriv]=util-linux
)

missing=()
for cmd in "${!needed[@]}"; do
    # Debian installs some servers (mosquitto) to /usr/sbin.
    PATH="$PATH:/usr/sbin:/usr/local/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${needed[$cmd]}")
done
# PostgreSQL's programs are not on the PATH: Debian puts them in
# /usr/lib/postgresql/<version>/bin, where the tests look for them.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
# The MLflow web UI's build downloads its pinned wheel with `python3 -m pip download`.
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
rustup target add wasm32-wasip2 wasm32-wasip1 >/dev/null

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing packages: ${missing[*]} (install them with apt-get as root)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
