#!/usr/bin/env bash
# Installs what the build needs and is missing: Debian packages (as root, or through sudo) and a
# check that cargo is new enough for wasmtime 48. Idempotent and quiet when nothing is missing.
set -euo pipefail

packages=(clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 libclang-rt-14-dev cmake ninja-build pkg-config make
          libgtest-dev libgmock-dev libbenchmark-dev libzstd-dev libssl-dev libcbor-dev nlohmann-json3-dev
          libcurl4-openssl-dev openssl  # fetch(): the HTTP client; openssl makes the https tests' CA
          libc++-14-dev-wasm32 libc++abi-14-dev-wasm32  # URL in the guest: ada is C++, built against clang-14's libc++
          libedit-dev  # the repl's line editing (BSD licence; readline's GPL would not fit)
          binaryen     # wasm-opt, which optimises the linked guest (cmake/Guest.cmake)
          tmux         # the repl's tests type into a real terminal through it
          python3 python3-venv
          postgresql-15)  # the server binaries the LangChain integration tests start a throwaway cluster with
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

need_rust="1.95.0"
if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo not found; wasmtime ${need_rust%.*} needs Rust >= $need_rust (rustup)" >&2
  exit 1
fi
have_rust="$(rustc --version | awk '{print $2}')"
if [ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -n1)" != "$need_rust" ]; then
  echo "install-deps: Rust $have_rust is too old; wasmtime 48 needs >= $need_rust" >&2
  exit 1
fi
