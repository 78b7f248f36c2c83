#!/usr/bin/env bash
# Downloads (once) the pinned ada sources from crates.io through cargo, which verifies the checksum
# recorded in deps/ada-url/Cargo.lock, and prints the directory holding ada.cpp and ada.h.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$here/deps/ada-url/Cargo.toml"
cargo fetch --locked --manifest-path "$manifest" >&2
crate_manifest="$(cargo metadata --locked --offline --format-version 1 --manifest-path "$manifest" \
  | grep -o '"manifest_path":"[^"]*/ada-url-[0-9.]*/Cargo.toml"' | head -n1 | cut -d'"' -f4)"
src="$(dirname "$crate_manifest")/deps"
[ -f "$src/ada.cpp" ] && [ -f "$src/ada.h" ] || { echo "fetch-ada: ada.cpp not found under $src" >&2; exit 1; }
echo "$src"
