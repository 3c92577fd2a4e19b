#!/usr/bin/env bash
# Builds the Azure Functions deployment package for the custom handler.
#
# Output: $POLARIS_DIST/polaris-functions.zip (default dist/) holding, at the zip root,
# host.json, the `polaris` executable (mode 755) and one folder per function with its
# function.json, and nothing else. The same tree is left unzipped in $POLARIS_DIST/app for
# `func start`.
#
# Environment:
#   POLARIS_BINARY  package this prebuilt Linux x86_64 binary instead of building one
#   POLARIS_DIST    output folder (default: <repo>/dist)
#   POLARIS_ZIP     zip | python | auto (default auto: `zip` if installed, else python3)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dist="${POLARIS_DIST:-$repo_root/dist}"
app_dir="$dist/app"
zip_path="$dist/polaris-functions.zip"
zip_tool="${POLARIS_ZIP:-auto}"

fail() {
  echo "package.sh: $*" >&2
  exit 1
}

# Prefer the static musl target when it is installed (no glibc version coupling with the
# Functions worker image); never download a toolchain here.
pick_target() {
  local sysroot
  sysroot="$(rustc --print sysroot)"
  if [[ -d "$sysroot/lib/rustlib/x86_64-unknown-linux-musl" ]]; then
    echo x86_64-unknown-linux-musl
  else
    echo x86_64-unknown-linux-gnu
  fi
}

build_binary() {
  local target
  target="$(pick_target)"
  echo "package.sh: building polaris for $target" >&2
  (cd "$repo_root" && cargo build --release --bin polaris --target "$target" >&2)
  echo "$repo_root/target/$target/release/polaris"
}

stage_app() {
  local binary="$1" dir name
  rm -rf "$app_dir"
  mkdir -p "$app_dir"

  cp "$repo_root/host.json" "$app_dir/host.json"

  for dir in "$repo_root"/functions/*/; do
    name="$(basename "$dir")"
    [[ -f "$dir/function.json" ]] || fail "functions/$name has no function.json"
    mkdir "$app_dir/$name"
    cp "$dir/function.json" "$app_dir/$name/function.json"
  done

  install -m 0755 "$binary" "$app_dir/polaris"
}

zip_with_zip() {
  # -X drops uid/gid extras; the Unix mode still travels in the external attributes.
  # -D leaves out directory entries, so the zip lists exactly the files.
  (cd "$app_dir" && zip -q -r -X -D "$zip_path" .)
}

zip_with_python() {
  python3 - "$app_dir" "$zip_path" <<'PY'
import os
import sys
import zipfile

root, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = os.path.join(folder, name)
            info = zipfile.ZipInfo.from_file(path, os.path.relpath(path, root))
            info.compress_type = zipfile.ZIP_DEFLATED
            # Keep the Unix mode (and so the executable bit) in the external attributes.
            info.external_attr = (os.stat(path).st_mode & 0xFFFF) << 16
            info.create_system = 3
            with open(path, "rb") as source:
                archive.writestr(info, source.read())
PY
}

write_zip() {
  rm -f "$zip_path"
  case "$zip_tool" in
    zip) zip_with_zip ;;
    python) zip_with_python ;;
    auto)
      if command -v zip >/dev/null 2>&1; then
        zip_with_zip
      else
        zip_with_python
      fi
      ;;
    *) fail "POLARIS_ZIP must be zip, python or auto, not '$zip_tool'" ;;
  esac
}

main() {
  local binary="${POLARIS_BINARY:-}"
  mkdir -p "$dist"
  dist="$(cd "$dist" && pwd)"
  app_dir="$dist/app"
  zip_path="$dist/polaris-functions.zip"

  if [[ -z "$binary" ]]; then
    binary="$(build_binary)"
  fi
  [[ -f "$binary" ]] || fail "binary not found: $binary"

  stage_app "$binary"

  write_zip

  echo "$zip_path"
}

main "$@"
