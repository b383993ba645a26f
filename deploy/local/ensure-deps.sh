#!/usr/bin/env bash
# Makes PostgreSQL (127.0.0.1:5432) and RabbitMQ (127.0.0.1:5672) reachable
# for the hotline services and their tests, then creates the database.
#
# For each server: if its port answers already it is left alone; otherwise
# the installed server is started; otherwise it is installed from Debian's
# packages, configured for local development and started.
#
# Environment:
#   HOTLINE_DB_NAME        database to create if missing (default: hotline)
#   HOTLINE_DEPS_TIMEOUT   seconds to wait for each server (default: 120)
#
# Safe to run any number of times.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

DB_NAME="${HOTLINE_DB_NAME:-hotline}"
TIMEOUT="${HOTLINE_DEPS_TIMEOUT:-120}"
PG_HOST=127.0.0.1
PG_PORT=5432
AMQP_HOST=127.0.0.1
AMQP_PORT=5672

log() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

if [[ ! "$DB_NAME" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
  die "HOTLINE_DB_NAME must be a plain identifier (letters, digits, _), got '$DB_NAME'"
fi
if [[ ! "$TIMEOUT" =~ ^[0-9]+$ ]]; then
  die "HOTLINE_DEPS_TIMEOUT must be a number of seconds, got '$TIMEOUT'"
fi

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

port_open() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" >/dev/null 2>&1
}

pg_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3 >/dev/null 2>&1
  else
    port_open "$PG_HOST" "$PG_PORT"
  fi
}

amqp_ready() {
  port_open "$AMQP_HOST" "$AMQP_PORT"
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "cannot install $* here: apt-get not found (install it by hand)"
  if [[ "$APT_UPDATED" -eq 0 ]]; then
    log "updating the apt package lists"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing $* from debian packages"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" \
    </dev/null
}

# ---------------------------------------------------------------- postgresql

# Newest PostgreSQL major version whose server binaries are installed.
pg_installed_version() {
  local dir ver best=""
  for dir in /usr/lib/postgresql/*/bin/postgres; do
    [[ -x "$dir" ]] || continue
    ver="$(basename "$(dirname "$(dirname "$dir")")")"
    best="$(printf '%s\n%s\n' "$best" "$ver" | sed '/^$/d' | sort -V | tail -n 1)"
  done
  printf '%s' "$best"
}

# Let the postgres user connect over loopback TCP without a password.
pg_configure_trust() {
  local ver="$1" hba="/etc/postgresql/$1/main/pg_hba.conf" marker="# hotline: local trust"
  [[ -f "$hba" ]] || die "pg_hba.conf not found at $hba"
  if grep -qF "$marker" "$hba"; then
    return 0
  fi
  log "allowing passwordless loopback connections for user postgres ($hba)"
  local tmp
  tmp="$(mktemp)"
  {
    echo "$marker"
    echo "host    all    postgres    127.0.0.1/32    trust"
    echo "host    all    postgres    ::1/128         trust"
    cat "$hba"
  } >"$tmp"
  as_root cp "$tmp" "$hba"
  rm -f "$tmp"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >/dev/null 2>&1 || true
}

pg_start_installed() {
  local ver="$1"
  if [[ ! -d "/etc/postgresql/$ver/main" ]]; then
    log "creating postgresql $ver cluster 'main'"
    as_root pg_createcluster "$ver" main >/dev/null
  fi
  log "starting postgresql $ver"
  if ! as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start; then
    log "pg_ctlcluster start reported an error; waiting in case it is starting already"
  fi
}

ensure_postgres() {
  if pg_ready; then
    log "postgresql answers on $PG_HOST:$PG_PORT"
  else
    local ver fresh=0
    ver="$(pg_installed_version)"
    if [[ -z "$ver" ]]; then
      apt_install postgresql postgresql-client
      ver="$(pg_installed_version)"
      [[ -n "$ver" ]] || die "postgresql was installed but no server binary was found"
      fresh=1
    fi
    if [[ "$fresh" -eq 1 ]]; then
      [[ -d "/etc/postgresql/$ver/main" ]] || as_root pg_createcluster "$ver" main >/dev/null
      pg_configure_trust "$ver"
    fi
    pg_ready || pg_start_installed "$ver"
    log "waiting for postgresql (up to ${TIMEOUT}s)"
    local deadline=$((SECONDS + TIMEOUT))
    until pg_ready; do
      if ((SECONDS >= deadline)); then
        die "postgresql did not answer on $PG_HOST:$PG_PORT within ${TIMEOUT}s (see /var/log/postgresql/)"
      fi
      sleep 1
    done
    log "postgresql is ready"
  fi
  if ! command -v psql >/dev/null 2>&1; then
    apt_install postgresql-client
  fi
}

psql_admin() {
  PGCONNECT_TIMEOUT=5 psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
    -X -v ON_ERROR_STOP=1 -q -t -A "$@" </dev/null
}

db_exists() {
  [[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" == "1" ]]
}

ensure_database() {
  local out
  if ! out="$(psql_admin -c "SELECT 1" 2>&1)"; then
    die "cannot connect to postgresql as user postgres on $PG_HOST:$PG_PORT without a password: $out"
  fi
  if db_exists; then
    log "database '$DB_NAME' exists"
    return 0
  fi
  log "creating database '$DB_NAME'"
  if ! out="$(psql_admin -c "CREATE DATABASE \"$DB_NAME\"" 2>&1)"; then
    # Another run may have created it meanwhile.
    db_exists || die "could not create database '$DB_NAME': $out"
  fi
  log "database '$DB_NAME' created"
}

# ------------------------------------------------------------------ rabbitmq

rabbit_start_installed() {
  log "starting rabbitmq"
  if ! as_root rabbitmq-server -detached >/dev/null 2>&1; then
    log "rabbitmq-server -detached reported an error; waiting in case it is starting already"
  fi
}

ensure_rabbitmq() {
  if amqp_ready; then
    log "rabbitmq answers on $AMQP_HOST:$AMQP_PORT"
    return 0
  fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    apt_install rabbitmq-server
    # The package may have started the node already.
    amqp_ready || rabbit_start_installed
  else
    rabbit_start_installed
  fi
  log "waiting for rabbitmq (up to ${TIMEOUT}s)"
  local deadline=$((SECONDS + TIMEOUT))
  until amqp_ready; do
    if ((SECONDS >= deadline)); then
      die "rabbitmq did not answer on $AMQP_HOST:$AMQP_PORT within ${TIMEOUT}s (see /var/log/rabbitmq/)"
    fi
    # await_startup exits at once (69) while the node has not registered
    # yet, and blocks until boot has finished once it has.
    local left=$((deadline - SECONDS))
    if command -v rabbitmqctl >/dev/null 2>&1 && ((left > 2)); then
      ((left > 30)) && left=30
      as_root timeout "$left" rabbitmqctl -q await_startup -t "$left" >/dev/null 2>&1 || true
    fi
    amqp_ready || sleep 2
  done
  log "rabbitmq is ready"
}

ensure_postgres
ensure_database
ensure_rabbitmq
log "ok"
