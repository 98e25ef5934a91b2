#!/usr/bin/env bash
# Installs everything the build, the demo and the tests need on a fresh Debian 12 machine.
# Idempotent: packages already present are skipped quickly.
set -euo pipefail

APT_PACKAGES=(
  php8.2-cli php8.2-dev php8.2-sqlite3 php8.2-mbstring php8.2-xml php8.2-pgsql php8.2-mysql
  clang libclang-dev libsqlite3-dev pkg-config
  phpunit php-laravel-framework composer
  chromium
)
# Node.js runs the browser test and the CSS build; Debian's is enough when none is installed.
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
# Tools only one target needs, named on the command line: `install-deps.sh valgrind` (make memcheck).
for extra in "$@"; do
  case "$extra" in
    valgrind) APT_PACKAGES+=(valgrind) ;;
    *) echo "install-deps.sh: unknown extra '$extra' (known: valgrind)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "==> installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi

# cargo-php generates the IDE stubs from a debug build of the extension (make stubs / test).
if ! cargo php --version >/dev/null 2>&1; then
  echo "==> installing cargo-php"
  cargo install --quiet --locked cargo-php --version 0.2.2
fi
