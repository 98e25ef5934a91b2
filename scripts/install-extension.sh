#!/usr/bin/env bash
# make install: builds the stask extension for the PHP a site runs and enables it for the CLI and
# PHP-FPM.
#
#   make install                       the PHP that `php` runs
#   make install PHP=php8.4            another installed PHP (its php-config8.4 is used)
#   make install PHP_CONFIG=/opt/php/bin/php-config
#   DESTDIR=/tmp/stage make install    stage the files there, enable nothing (packaging, checks)
#
# The build goes to target/php-<version>/ (never target/release, which `make build` owns), the
# .so to the PHP's extension_dir as stask.so, the ini to Debian's mods-available (enabled for
# every SAPI with phpenmod) or, elsewhere, to the PHP's scan directory (conf.d).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}

die() {
  echo "make install: $*" >&2
  exit 1
}

# --- which PHP ---------------------------------------------------------------------------------
PHP_BIN=${PHP:-php}
if [ -n "${PHP_CONFIG:-}" ]; then
  [ -x "$PHP_CONFIG" ] || command -v "$PHP_CONFIG" >/dev/null 2>&1 \
    || die "PHP_CONFIG=$PHP_CONFIG is not an executable php-config"
  PHP_CONFIG=$(command -v "$PHP_CONFIG")
  PHP_BIN=$("$PHP_CONFIG" --php-binary)
else
  command -v "$PHP_BIN" >/dev/null 2>&1 || die "no PHP '$PHP_BIN' here: pass PHP=php8.x or PHP_CONFIG=/path/to/php-config"
  PHP_BIN=$(command -v "$PHP_BIN")
  short=$("$PHP_BIN" -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')
  # Debian installs php-config8.x beside php8.x; a single PHP has just php-config.
  for candidate in "$(dirname "$PHP_BIN")/php-config$short" "php-config$short" "$(dirname "$PHP_BIN")/php-config" php-config; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && [ "$("$candidate" --version 2>/dev/null | cut -d. -f1,2)" = "$short" ]; then
      PHP_CONFIG=$(command -v "$candidate")
      break
    fi
  done
  [ -n "${PHP_CONFIG:-}" ] || die "PHP $short's headers are missing (no php-config for $short): install php$short-dev (Debian/Ubuntu: apt-get install php$short-dev)"
fi
[ -x "$PHP_BIN" ] || die "the PHP binary of $PHP_CONFIG ($PHP_BIN) does not exist"

VERSION=$("$PHP_CONFIG" --version)
SHORT=$(echo "$VERSION" | cut -d. -f1,2)
EXT_DIR=$("$PHP_CONFIG" --extension-dir)
INCLUDE_DIR=$("$PHP_CONFIG" --include-dir)
[ -f "$INCLUDE_DIR/main/php.h" ] || die "PHP $VERSION's headers are missing ($INCLUDE_DIR/main/php.h): install php$SHORT-dev"
"$PHP_BIN" -r 'exit(version_compare(PHP_VERSION, "8.2.0", ">=") ? 0 : 1);' || die "PHP $VERSION is too old: sTask needs PHP 8.2 or newer"

# --- the toolchain -----------------------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || die "cargo is missing: install Rust (https://rustup.rs, or Debian's cargo if it is recent enough)"
command -v cc >/dev/null 2>&1 || die "no C compiler (cc): install gcc (Debian: apt-get install gcc)"
libclang=${LIBCLANG_PATH:-}
for f in /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/*/libclang*.so* /usr/lib64/libclang*.so*; do
  [ -z "$libclang" ] && [ -e "$f" ] && libclang=$f
done
if [ -z "$libclang" ]; then
  die "libclang is missing (ext-php-rs generates PHP's bindings with it): install libclang-dev and clang (Debian: apt-get install clang libclang-dev), or set LIBCLANG_PATH"
fi

# --- build -------------------------------------------------------------------------------------
TARGET="$REPO/target/php-$SHORT"
echo "==> building the extension for PHP $VERSION ($PHP_BIN) into $TARGET"
(cd "$REPO" && PHP="$PHP_BIN" PHP_CONFIG="$PHP_CONFIG" CARGO_TARGET_DIR="$TARGET" cargo build --release -p stask) \
  || die "the build failed (see above)"
SO="$TARGET/release/libstask.so"
"$PHP_BIN" -n -d "extension=$SO" -r 'exit(extension_loaded("stask") ? 0 : 1);' \
  || die "the built $SO does not load into $PHP_BIN"

# --- install -----------------------------------------------------------------------------------
if [ -z "$DESTDIR" ] && [ ! -w "$EXT_DIR" ]; then
  die "cannot write $EXT_DIR: run it as root (sudo make install PHP=$PHP_BIN)"
fi
install -d "$DESTDIR$EXT_DIR"
install -m 0644 "$SO" "$DESTDIR$EXT_DIR/stask.so"
echo "==> installed $DESTDIR$EXT_DIR/stask.so"

INI=$'; sTask: background tasks for Evolution CMS (the engine, written in Rust)\n; priority=20\nextension=stask.so\n'
MODS="/etc/php/$SHORT/mods-available"
if [ -d "/etc/php/$SHORT" ]; then
  # Debian and Ubuntu: one ini in mods-available, enabled for every SAPI (cli, fpm, apache2).
  install -d "$DESTDIR$MODS"
  printf '%s' "$INI" >"$DESTDIR$MODS/stask.ini"
  echo "==> wrote $DESTDIR$MODS/stask.ini"
  if [ -z "$DESTDIR" ]; then
    if command -v phpenmod >/dev/null 2>&1; then
      phpenmod -v "$SHORT" stask
    else
      for sapi in /etc/php/"$SHORT"/*/conf.d; do
        ln -sf "$MODS/stask.ini" "$sapi/20-stask.ini"
      done
    fi
    echo "==> enabled for: $(ls /etc/php/"$SHORT"/*/conf.d/20-stask.ini 2>/dev/null | cut -d/ -f5 | tr '\n' ' ')"
  fi
else
  # Elsewhere: the PHP's own scan directory (conf.d), which its CLI and FPM both read.
  SCAN=$("$PHP_BIN" -r 'echo PHP_CONFIG_FILE_SCAN_DIR;')
  [ -n "$SCAN" ] || die "PHP $VERSION has no conf.d scan directory: add extension=stask.so to its php.ini ($("$PHP_BIN" -r 'echo php_ini_loaded_file() ?: PHP_CONFIG_FILE_PATH . "/php.ini";'))"
  install -d "$DESTDIR$SCAN"
  printf '%s' "$INI" >"$DESTDIR$SCAN/20-stask.ini"
  echo "==> wrote $DESTDIR$SCAN/20-stask.ini"
fi

if [ -n "$DESTDIR" ]; then
  echo "==> staged under $DESTDIR; nothing enabled"
  exit 0
fi
echo
"$PHP_BIN" --ri stask || die "PHP $VERSION does not load stask after the install: check the ini above"
echo
echo "Check it any time:   $(basename "$PHP_BIN") --ri stask"
if ls /etc/php/"$SHORT"/fpm >/dev/null 2>&1 || command -v "php-fpm$SHORT" >/dev/null 2>&1; then
  echo "Reload PHP-FPM:      systemctl reload php$SHORT-fpm   (the manager runs there)"
fi
