#!/usr/bin/env bash
# Stops the services started by deploy/local/up.sh: SIGTERM first (they shut
# down gracefully), SIGKILL for any still alive after 20 seconds.
# PostgreSQL and RabbitMQ are left running.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

SERVICES=(intake dispatch undertaking supervision)
PID_DIR="$ROOT/.run/pids"
GRACE_SECONDS=20

log() { printf 'down: %s\n' "$*"; }

# Prints the pid from the service's pid file when that process is alive and
# still runs the service's binary (a recycled pid is left alone).
live_pid() {
  local svc="$1" pid comm
  pid="$(cat "$PID_DIR/$svc.pid" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  comm="$(ps -o comm= -p "$pid" 2>/dev/null || true)"
  [[ "$comm" == "$svc" ]] || return 1
  printf '%s' "$pid"
}

alive() {
  kill -0 "$1" 2>/dev/null && [[ "$(ps -o stat= -p "$1" 2>/dev/null || true)" != Z* ]]
}

declare -A PIDS=()
for svc in "${SERVICES[@]}"; do
  if [[ ! -f "$PID_DIR/$svc.pid" ]]; then
    log "$svc is not running (no pid file)"
    continue
  fi
  if pid="$(live_pid "$svc")"; then
    log "stopping $svc (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    PIDS[$svc]="$pid"
  else
    log "$svc is not running (stale pid file)"
    rm -f "$PID_DIR/$svc.pid"
  fi
done

status=0
for svc in "${SERVICES[@]}"; do
  [[ -n "${PIDS[$svc]:-}" ]] || continue
  pid="${PIDS[$svc]}"
  deadline=$((SECONDS + GRACE_SECONDS))
  while alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if alive "$pid"; then
    log "$svc did not stop within ${GRACE_SECONDS}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
    if alive "$pid"; then
      log "error: $svc (pid $pid) is still alive"
      status=1
      continue
    fi
  fi
  log "$svc stopped"
  rm -f "$PID_DIR/$svc.pid"
done

if ((status == 0)); then
  log "done"
fi
exit "$status"
