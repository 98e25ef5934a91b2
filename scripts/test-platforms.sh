#!/usr/bin/env bash
# make test-platforms: builds the extension against each platform's PHP and runs the whole PHPUnit
# suite there (native API, the package on SQLite/PostgreSQL/MariaDB, the HTTP tests):
#
#   bookworm  Debian 12     PHP 8.2  Laravel 8   PHPUnit 9   (this machine, no chroot)
#   trixie    Debian 13     PHP 8.4  Laravel 10  PHPUnit 11  (a debootstrap root, entered with chroot)
#   forky     Debian forky  PHP 8.4  Laravel 13  PHPUnit 13  (idem)
#
# The roots are built once with debootstrap into $STASK_PLATFORMS_DIR (default
# /var/cache/stask-platforms/<name>) and reused while their stamp (a hash of the suite and the
# package list) matches, so a second run spends its time on tests. Inside a root the extension is
# built with the host's Rust toolchain (its sysroot bind-mounted read-only, crates from a cargo home
# under $STASK_PLATFORMS_DIR) into the root's own target dir; the host's target/release is never
# touched. The PostgreSQL and MariaDB servers are the host's (127.0.0.1, their unix sockets
# bind-mounted). One line per platform at the end: PHP, Laravel and PHPUnit versions and the counts.
#
#   STASK_PLATFORMS="trixie forky"   run only these (default: all three)
#   STASK_PLATFORMS_DIR=/somewhere   where roots, targets and logs live
#   STASK_PLATFORMS_BUILD_ONLY=1     build (or refresh) the roots and stop
#   STASK_DEBIAN_MIRROR=http://…     the Debian mirror debootstrap and apt use
#   extra arguments go to phpunit, e.g. scripts/test-platforms.sh --filter ProviderTest
set -euo pipefail

# One brace group, read whole before it runs: editing this file during a run cannot change it.
{
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${STASK_PLATFORMS_DIR:-/var/cache/stask-platforms}
MIRROR=${STASK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SELECTED=${STASK_PLATFORMS:-bookworm trixie forky}
PHPUNIT_ARGS=("$@")
export STASK_TEST_PG_URL=${STASK_TEST_PG_URL-postgres://postgres@127.0.0.1:5432/test}
export STASK_TEST_MYSQL_URL=${STASK_TEST_MYSQL_URL-mysql://root@127.0.0.1:3306/test}

# name: debootstrap suite, debootstrap script, PHP version. bookworm is the host itself.
declare -A SUITE=([trixie]=trixie [forky]=forky)
declare -A SCRIPT=([trixie]=trixie [forky]=sid)
declare -A PHPV=([bookworm]=8.2 [trixie]=8.4 [forky]=8.4)

# What a root needs: PHP and its extensions, Debian's Laravel and PHPUnit, the extension's build
# tools (ext-php-rs: php-dev, libclang; the linker driver: gcc), and what the tests shell out to.
root_packages() { # php version
  local v=$1
  echo "php$v-cli php$v-dev php$v-sqlite3 php$v-mbstring php$v-xml php$v-pgsql php$v-mysql php$v-intl" \
       "php-laravel-framework phpunit composer" \
       "clang libclang-dev gcc libc6-dev libsqlite3-dev pkg-config make" \
       "tzdata ca-certificates procps nodejs"
}

log() { echo "==> $*" >&2; }
die() { echo "test-platforms: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and bind mounts)"
mkdir -p "$CACHE" "$REPO/var/platforms"

MOUNTS=()
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -l "${MOUNTS[$i]}" 2>/dev/null || true
  done
  MOUNTS=()
}
trap cleanup EXIT INT TERM

# Mounts left under a root by a run that was killed (SIGKILL skips the trap): unmounted before
# the root is used or removed, so that removing a root can never reach the repository.
unmount_under() { # dir
  local dir m
  dir=$(realpath -m "$1")
  awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

bind() { # source, target inside the root, [ro]
  mkdir -p "$2"
  mount --bind "$1" "$2"
  MOUNTS+=("$2")
  if [ "${3:-}" = ro ]; then
    mount -o remount,bind,ro "$2"
  fi
}

# Builds $CACHE/<name> unless its stamp matches the suite and package list.
ensure_root() { # name
  local name=$1 root="$CACHE/$1" packages stamp
  packages=$(root_packages "${PHPV[$name]}")
  stamp=$(printf '%s\n' "recipe 1" "${SUITE[$name]}" "$MIRROR" "$packages" | sha256sum | cut -c1-16)
  if [ -f "$root/.stask-root" ] && [ "$(cat "$root/.stask-root")" = "$stamp" ]; then
    return 0
  fi
  command -v debootstrap >/dev/null 2>&1 || {
    log "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  local script="/usr/share/debootstrap/scripts/${SCRIPT[$name]}"
  [ -e "$script" ] || die "debootstrap has no script $script"
  local started=$SECONDS tmp="$root.new"
  log "$name: building the root in $root (debootstrap ${SUITE[$name]})"
  unmount_under "$tmp"
  rm -rf --one-file-system "$tmp"
  debootstrap --variant=minbase "${SUITE[$name]}" "$tmp" "$MIRROR" "$script" >"$CACHE/$name.debootstrap.log" 2>&1 \
    || die "debootstrap failed, see $CACHE/$name.debootstrap.log"
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  # testing's Release files expire within days; a mirror that lags must still install.
  echo 'Acquire::Check-Valid-Until "false";' >"$tmp/etc/apt/apt.conf.d/99stask"
  chmod +x "$tmp/usr/sbin/policy-rc.d"
  bind /proc "$tmp/proc"
  bind /dev "$tmp/dev"
  # shellcheck disable=SC2086
  if ! chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
      sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $packages && apt-get clean" \
      >"$CACHE/$name.apt.log" 2>&1; then
    cleanup
    die "installing packages in the $name root failed, see $CACHE/$name.apt.log"
  fi
  cleanup
  unmount_under "$root"
  rm -rf --one-file-system "$root"
  mv "$tmp" "$root"
  echo "$stamp" >"$root/.stask-root"
  log "$name: root ready in $((SECONDS - started)) s"
}

# The host's Rust toolchain (used inside the roots read-only) and a cargo home with every crate
# of Cargo.lock, so builds inside a root run offline.
SYSROOT=""
prepare_cargo() {
  [ -n "$SYSROOT" ] && return 0
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust first"
  SYSROOT=$(cd "$REPO" && rustc --print sysroot)
  local home="$CACHE/cargo-home"
  if [ ! -d "$home/registry" ] && [ -d "${CARGO_HOME:-$HOME/.cargo}/registry" ]; then
    mkdir -p "$home"
    cp -a "${CARGO_HOME:-$HOME/.cargo}/registry" "$home/"
  fi
  (cd "$REPO" && CARGO_HOME="$home" cargo fetch --locked -q) || die "cargo fetch failed"
}

# PHPUnit 9 reads phpunit.xml.dist; 10 and later its own schema (tests/php/phpunit10.xml).
phpunit_config() { # phpunit major version
  if [ "$1" -ge 10 ]; then echo "$REPO/tests/php/phpunit10.xml"; else echo "$REPO/phpunit.xml.dist"; fi
}

# The summary line of a PHPUnit log ("OK (n tests, m assertions)" or "Tests: n, …").
counts() { # log file
  local line
  line=$(grep -aE '^(OK \(|OK, but|Tests: [0-9]+|No tests executed)' "$1" | tail -1 | sed 's/\x1b\[[0-9;]*m//g; s/[[:space:]]*$//')
  echo "${line:-no PHPUnit summary (see $1)}"
}

SUMMARY=()
FAILED=0

run_host() {
  local name=bookworm started=$SECONDS target="$CACHE/targets/bookworm" logf="$REPO/var/platforms/bookworm.log"
  log "$name: building the extension (host PHP $(php -r 'echo PHP_VERSION;')) into $target"
  (cd "$REPO" && CARGO_TARGET_DIR="$target" cargo build --release -q -p stask) || die "$name: build failed"
  local ext="$target/release/libstask.so" major code=0
  major=$(/usr/bin/phpunit --version | grep -oE '[0-9]+' | head -1)
  log "$name: PHPUnit (log: $logf)"
  (cd "$REPO" && STASK_EXTENSION="$ext" php -d "extension=$ext" /usr/bin/phpunit -c "$(phpunit_config "$major")" \
    --colors=never "${PHPUNIT_ARGS[@]}") >"$logf" 2>&1 || code=$?
  report "$name" "$code" "$logf" "$(php -r 'echo PHP_VERSION;')" \
    "$(laravel_version /usr/share/php)" "$(/usr/bin/phpunit --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1)" $((SECONDS - started))
}

run_root() { # name
  local name=$1 root="$CACHE/$1" started=$SECONDS
  exec 9>"$CACHE/$name.lock"
  flock 9 # one run at a time per root
  unmount_under "$root"
  ensure_root "$name"
  [ -n "${STASK_PLATFORMS_BUILD_ONLY:-}" ] && return 0
  prepare_cargo
  bind /proc "$root/proc"
  bind /dev "$root/dev"
  bind /sys "$root/sys" ro
  bind "$REPO" "$root$REPO"
  bind "$SYSROOT" "$root$SYSROOT" ro
  bind "$CACHE/cargo-home" "$root/var/cache/stask-cargo"
  for sock in /run/postgresql /run/mysqld; do
    [ -d "$sock" ] && bind "$sock" "$root$sock"
  done
  local envs=(PATH="$SYSROOT/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root LANG=C.UTF-8
    CARGO_HOME=/var/cache/stask-cargo CARGO_TARGET_DIR=/var/cache/stask-target RUSTC="$SYSROOT/bin/rustc"
    STASK_TEST_PG_URL="$STASK_TEST_PG_URL" STASK_TEST_MYSQL_URL="$STASK_TEST_MYSQL_URL"
    STASK_EXTENSION=/var/cache/stask-target/release/libstask.so)
  [ -n "${STASK_TEST_KNOWN_BUGS:-}" ] && envs+=(STASK_TEST_KNOWN_BUGS="$STASK_TEST_KNOWN_BUGS")
  local in=(chroot "$root" /usr/bin/env -i "${envs[@]}")
  local php_version laravel phpunit major logf="$REPO/var/platforms/$name.log" code=0
  php_version=$("${in[@]}" php -r 'echo PHP_VERSION;')
  laravel=$(laravel_version "$root/usr/share/php")
  phpunit=$("${in[@]}" phpunit --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1)
  major=${phpunit%%.*}
  log "$name: building the extension (PHP $php_version) into $root/var/cache/stask-target"
  if ! (cd "$REPO" && "${in[@]}" sh -c "cd '$REPO' && cargo build --release --offline -q -p stask") >"$CACHE/$name.build.log" 2>&1; then
    cat "$CACHE/$name.build.log" >&2
    cleanup
    SUMMARY+=("$name: PHP $php_version, Laravel $laravel, PHPUnit $phpunit: the extension did not build (see $CACHE/$name.build.log)")
    FAILED=1
    return 0
  fi
  log "$name: PHPUnit $phpunit (log: $logf)"
  "${in[@]}" sh -c 'cd "$1" && shift && exec php -d extension=/var/cache/stask-target/release/libstask.so /usr/bin/phpunit "$@"' \
    sh "$REPO" -c "$(phpunit_config "$major")" --colors=never "${PHPUNIT_ARGS[@]}" >"$logf" 2>&1 || code=$?
  cleanup
  exec 9>&-
  report "$name" "$code" "$logf" "$php_version" "$laravel" "$phpunit" $((SECONDS - started))
}

laravel_version() { # /usr/share/php of the platform
  grep -hoE "const VERSION = '[^']+'" "$1/Illuminate/Foundation/Application.php" 2>/dev/null | cut -d"'" -f2 || echo unknown
}

report() { # name, exit code, log, php, laravel, phpunit, seconds
  local verdict=passed
  if [ "$2" -ne 0 ]; then
    verdict="FAILED (exit $2, log $3)"
    FAILED=1
    # What failed, for a CI log that keeps only the output (the whole log stays in var/platforms).
    { echo "---- $1: $3 (from its first problem, at most 300 lines)"
      awk '/^There w(as|ere) |^[0-9]+ tests? triggered|Fatal error/ { on = 1 } on' "$3" | head -300
      echo "----"; } >&2
  fi
  SUMMARY+=("$1: PHP $4, Laravel $5, PHPUnit $6: $(counts "$3") — $verdict, $7 s")
  echo "${SUMMARY[-1]}" >&2
}

for name in $SELECTED; do
  case $name in
    bookworm) [ -n "${STASK_PLATFORMS_BUILD_ONLY:-}" ] || run_host ;;
    trixie | forky) run_root "$name" ;;
    *) die "unknown platform $name (bookworm, trixie, forky)" ;;
  esac
done

[ -n "${STASK_PLATFORMS_BUILD_ONLY:-}" ] && exit 0
echo
echo "Platforms:"
printf '  %s\n' "${SUMMARY[@]}"
exit $FAILED
}
