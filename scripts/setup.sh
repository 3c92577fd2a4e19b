#!/usr/bin/env bash
# Installs what the tests need besides the Rust toolchain, from the package registries only:
# Azurite (the Blob Storage emulator) into node_modules/, and checkov (the Terraform scanner)
# into .venv-tools/. Idempotent, and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

AZURITE_VERSION=3.37.0   # 3.36.0 fixed `If-Match: *` on a missing blob (field report B23)
CHECKOV_VERSION=3.3.30

installed_azurite() {
  node -e 'console.log(require("./node_modules/azurite/package.json").version)' 2>/dev/null
}

if [ "$(installed_azurite)" != "$AZURITE_VERSION" ]; then
  echo "==> installing Azurite $AZURITE_VERSION (npm)"
  npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION"
fi

if ! .venv-tools/bin/checkov --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
  echo "==> installing checkov $CHECKOV_VERSION (PyPI)"
  python3 -m venv .venv-tools
  .venv-tools/bin/pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi

# The fuzz smoke run needs cargo-fuzz and the nightly toolchain the machine image ships;
# without nightly it is skipped (scripts/test.sh says so).
if rustup toolchain list 2>/dev/null | grep -q '^nightly' && ! command -v cargo-fuzz >/dev/null; then
  echo "==> installing cargo-fuzz (crates.io)"
  cargo install --quiet --locked cargo-fuzz --version 0.13.2
fi
