#!/usr/bin/env bash
# The test command: everything CI runs. Installs Azurite and checkov first if they are
# missing (scripts/setup.sh), then checks formatting and lints, runs every test and scans the
# Terraform in infra/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "==> rustfmt"
cargo fmt --all -- --check

echo "==> clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> tests"
cargo test --workspace --locked

echo "==> infra scan (checkov, offline)"
# --skip-download keeps checkov from contacting its vendor: nothing leaves this machine.
.venv-tools/bin/checkov -d infra --framework terraform --quiet --compact --skip-download
