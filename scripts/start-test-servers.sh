#!/usr/bin/env bash
# Makes sure the PostgreSQL and MariaDB servers that `make test` uses by default are running
# (CI machines start them before the run; this restarts one that stopped). Does nothing for a
# server whose URL is set empty, or that is not installed here.
set -uo pipefail

wait_for() { # name, check command…
  local name=$1; shift
  for _ in $(seq 1 60); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "==> $name did not come up" >&2
  return 1
}

if [ -n "${STASK_TEST_PG_URL-x}" ] && command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "==> starting PostgreSQL"
    for version in $(ls /etc/postgresql 2>/dev/null); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432
  fi
fi

if [ -n "${STASK_TEST_MYSQL_URL-x}" ] && command -v mysqladmin >/dev/null 2>&1; then
  if ! mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && [ -x /usr/sbin/mariadbd ]; then
    echo "==> starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    wait_for MariaDB mysqladmin -h 127.0.0.1 -u root ping
  fi
fi
exit 0
