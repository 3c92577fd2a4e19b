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

echo "==> fuzz smoke run (cargo fuzz, 20 s per target)"
if rustup toolchain list 2>/dev/null | grep -q '^nightly' && command -v cargo-fuzz >/dev/null; then
  for target in spec_parser host_payload; do
    (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time=20 -print_final_stats=0)
  done
else
  echo "skipped: no nightly toolchain or cargo-fuzz here; tests/fuzz_parsers.rs covers the same"
fi
