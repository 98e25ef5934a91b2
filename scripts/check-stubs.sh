#!/usr/bin/env bash
# Fails when stubs/stask.stubs.php no longer matches what the extension declares.
# `make stubs` regenerates it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
./scripts/gen-stubs.sh > "$tmp"
if ! diff -u stubs/stask.stubs.php "$tmp"; then
    echo "stubs/stask.stubs.php is out of date: run 'make stubs' and commit the result." >&2
    exit 1
fi
php -n -l stubs/stask.stubs.php >/dev/null
echo "stubs are up to date"
