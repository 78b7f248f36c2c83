#!/usr/bin/env bash
# Builds (once) wasmtime's C API as a static library and installs it with its headers into a
# cache directory outside the clone, keyed by version and features, so that repeated builds
# and CI runs on the same machine reuse it. Prints the install prefix on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
crate_dir="$here/deps/wasmtime"
c_api_line="$(grep 'package = "wasmtime-c-api-impl"' "$crate_dir/Cargo.toml")"
version="$(echo "$c_api_line" | sed -n 's/.*version = "=\([0-9.]*\)".*/\1/p')"
features="$(echo "$c_api_line" | sed -n 's/.*features = \[\(.*\)\] }/\1/p' | tr -d '" ' | tr ',' '+')"
[ -n "$version" ] && [ -n "$features" ] || { echo "build-wasmtime: cannot read version/features from $crate_dir/Cargo.toml" >&2; exit 1; }
# Any change to the wrapper crate (manifest, lock, its Rust sources: the shims and the TypeScript
# stripper) makes a new cache entry.
lock_sum="$(cat "$crate_dir/Cargo.toml" "$crate_dir/Cargo.lock" "$crate_dir"/*.rs | sha256sum | cut -c1-12)"
cache_root="${QUICKBOX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/quickbox}"
prefix="$cache_root/wasmtime-$version-$features-$lock_sum"
if [ -f "$prefix/lib/libwasmtime.a" ] && [ -f "$prefix/include/wasmtime/conf.h" ]; then
  echo "$prefix"; exit 0
fi
echo "build-wasmtime: building wasmtime $version ($features) into $prefix (one time; takes minutes)" >&2
target="$cache_root/cargo-target-wasmtime-$version-$features"
mkdir -p "$cache_root"
( cd "$crate_dir" && CARGO_TARGET_DIR="$target" cargo build --release --locked >&2 )
shopt -s nullglob
includes=("$target"/release/build/wasmtime-c-api-impl-*/out/include)
[ "${#includes[@]}" -ge 1 ] || { echo "build-wasmtime: wasmtime headers not found under $target" >&2; exit 1; }
include_dir="$(ls -td "${includes[@]}" | head -n1)"
tmp="$prefix.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp/lib"
cp -r "$include_dir" "$tmp/include"
cp "$target/release/libquickbox_wasmtime.a" "$tmp/lib/libwasmtime.a"
rm -rf "$prefix" && mv "$tmp" "$prefix"
echo "$prefix"
