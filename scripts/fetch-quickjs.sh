#!/usr/bin/env bash
# Downloads (once) the pinned quickjs-ng sources from crates.io through cargo, which verifies the
# checksum recorded in deps/quickjs-ng/Cargo.lock, and prints the directory holding quickjs.c.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$here/deps/quickjs-ng/Cargo.toml"
cargo fetch --locked --manifest-path "$manifest" >&2
crate_manifest="$(cargo metadata --locked --offline --format-version 1 --manifest-path "$manifest" \
  | grep -o '"manifest_path":"[^"]*/libquickjs-ng-sys-[0-9.]*/Cargo.toml"' | head -n1 | cut -d'"' -f4)"
src="$(dirname "$crate_manifest")/embed/quickjs"
[ -f "$src/quickjs.c" ] || { echo "fetch-quickjs: quickjs.c not found under $src" >&2; exit 1; }
echo "$src"
