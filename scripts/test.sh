#!/usr/bin/env bash
# The test command: everything CI runs. Needs Azurite in node_modules (scripts/setup.sh) and
# checkov on PATH for the infra scan; both are installed by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> rustfmt"
cargo fmt --all -- --check

echo "==> clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> tests"
cargo test --workspace --locked

echo "==> infra scan (checkov, offline)"
if command -v checkov >/dev/null 2>&1; then
  # --skip-download keeps checkov from contacting its vendor: nothing leaves this machine.
  checkov -d infra --framework terraform --quiet --compact --skip-download
else
  echo "checkov not installed: run scripts/setup.sh (CI installs it)" >&2
  exit 1
fi
