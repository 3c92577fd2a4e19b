#!/usr/bin/env bash
# Runs `polaris bench` in release mode and prints every figure as `name: value`.
#
# The Python SDK baseline needs azure-mgmt-resource and azure-core; set POLARIS_PYTHON to an
# interpreter that has them (e.g. a venv made with
#   python3 -m venv .venv-bench && .venv-bench/bin/pip install azure-mgmt-resource \
#     azure-mgmt-network azure-mgmt-keyvault azure-mgmt-containerinstance azure-mgmt-msi \
#     azure-mgmt-authorization azure-core
# ), otherwise that figure prints as skipped. Everything runs against the simulated Azure on
# loopback. Extra arguments go to `polaris bench` (e.g. `--only throughput`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${POLARIS_PYTHON:-}" && -x .venv-bench/bin/python ]]; then
    export POLARIS_PYTHON=.venv-bench/bin/python
fi
cargo build --release --quiet --bin polaris
exec ./target/release/polaris bench "$@"
