#!/usr/bin/env bash
# Installs (once) the guest's compiler, zig's bundled clang from the hash-pinned PyPI package in
# python/requirements/guest-compiler.txt, into a cache directory outside the clone keyed by that
# lock, so repeated builds and CI runs on one machine reuse it. Prints the path of `zig` on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
lock="$here/python/requirements/guest-compiler.txt"
lock_sum="$(cat "$lock" "$here/python/requirements/pip.txt" | sha256sum | cut -c1-12)"
cache_root="${QUICKBOX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/quickbox}"
prefix="$cache_root/guest-compiler-$lock_sum"
zig_path() { "$1/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))'; }
if [ -x "$prefix/bin/python" ] && zig="$(zig_path "$prefix" 2>/dev/null)" && [ -x "$zig" ]; then
  echo "$zig"; exit 0
fi
echo "guest-compiler: installing zig (clang) from $lock into $prefix (one time)" >&2
mkdir -p "$cache_root"
tmp="$prefix.tmp.$$"
rm -rf "$tmp"
python3 -m venv "$tmp"
"$tmp/bin/python" -m pip install -q --require-hashes -r "$here/python/requirements/pip.txt" >&2
"$tmp/bin/python" -m pip install -q --require-hashes --no-deps -r "$lock" >&2
rm -rf "$prefix" && mv "$tmp" "$prefix"
# a venv's scripts name their interpreter by path: the moved one is called through bin/python only
zig="$(zig_path "$prefix")"
chmod +x "$zig"
echo "$zig"
