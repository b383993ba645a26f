#!/usr/bin/env bash
# Starts the whole hotline system on this machine: PostgreSQL and RabbitMQ
# (through ensure-deps.sh), then the four services built in release mode,
# in the background. Stop everything with deploy/local/down.sh.
#
# Logs: .run/logs/<service>.log   pids: .run/pids/<service>.pid
#
# Environment (besides the services' own HOTLINE_* variables, passed on):
#   HOTLINE_DB_NAME          database name (default: hotline)
#   HOTLINE_START_TIMEOUT    seconds to wait for all services to be healthy
#                            (default: 120)
#   HOTLINE_PROFILE          release (default) or debug: which build to run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

SERVICES=(intake dispatch undertaking supervision)
declare -A PORTS=([intake]=50051 [dispatch]=50052 [undertaking]=50053 [supervision]=50054)
RUN_DIR="$ROOT/.run"
LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"
PROFILE="${HOTLINE_PROFILE:-release}"
case "$PROFILE" in
  release) BIN_DIR="$ROOT/target/release"; BUILD=(cargo build --release --bins) ;;
  debug) BIN_DIR="$ROOT/target/debug"; BUILD=(cargo build --bins) ;;
  *) printf 'up: error: HOTLINE_PROFILE must be release or debug, not %q\n' "$PROFILE" >&2; exit 2 ;;
esac
TIMEOUT="${HOTLINE_START_TIMEOUT:-120}"

log() { printf 'up: %s\n' "$*"; }
die() { printf 'up: error: %s\n' "$*" >&2; exit 1; }

[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "HOTLINE_START_TIMEOUT must be a number of seconds"

# True when the pid file names a live process running that service's binary.
service_running() {
  local svc="$1" pid_file="$PID_DIR/$1.pid" pid comm
  [[ -f "$pid_file" ]] || return 1
  pid="$(cat "$pid_file" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  comm="$(ps -o comm= -p "$pid" 2>/dev/null || true)"
  [[ "$comm" == "$svc" ]]
}

# True while the pid recorded for the service is alive (whatever it runs yet:
# right after the start it may still be the setsid/nohup wrapper).
pid_alive() {
  local pid
  pid="$(cat "$PID_DIR/$1.pid" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(ps -o stat= -p "$pid" 2>/dev/null || true)" != Z* ]]
}

port_open() {
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" >/dev/null 2>&1
}

# ------------------------------------------------------------ already up?
running=()
for svc in "${SERVICES[@]}"; do
  if service_running "$svc"; then
    running+=("$svc (pid $(cat "$PID_DIR/$svc.pid"))")
  fi
done
if ((${#running[@]} > 0)); then
  printf 'up: hotline is already running: %s\n' "${running[*]}" >&2
  printf 'up: stop it first with deploy/local/down.sh\n' >&2
  exit 1
fi
for svc in "${SERVICES[@]}"; do
  rm -f "$PID_DIR/$svc.pid"   # stale pid files of processes long gone
  if port_open "${PORTS[$svc]}"; then
    die "port ${PORTS[$svc]} ($svc) is already in use by another process"
  fi
done

# ------------------------------------------------------------ deps & build
log "checking postgresql and rabbitmq"
"$ROOT/deploy/local/ensure-deps.sh"

if [[ -n "${HOTLINE_DB_NAME:-}" && -z "${HOTLINE_DATABASE_URL:-}" ]]; then
  export HOTLINE_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$HOTLINE_DB_NAME"
fi

log "building $PROFILE binaries (${BUILD[*]})"
"${BUILD[@]}"

for svc in "${SERVICES[@]}" hotline-token; do
  [[ -x "$BIN_DIR/$svc" ]] || die "binary $BIN_DIR/$svc not found after the build"
done

# ------------------------------------------------------------ start
mkdir -p "$LOG_DIR" "$PID_DIR"

# Identities: without a key file of its own, a local system gets a
# development key (created once, kept in .run/) and a token for the centre's
# staff is printed at the end.
# Media bytes: a directory of the run unless another store is named.
export HOTLINE_MEDIA_STORE_URL="${HOTLINE_MEDIA_STORE_URL:-file://$RUN_DIR/media}"

if [[ -z "${HOTLINE_AUTH_KEYS_FILE:-}" ]]; then
  export HOTLINE_AUTH_KEYS_FILE="$RUN_DIR/dev-keys.toml"
  if [[ ! -s "$HOTLINE_AUTH_KEYS_FILE" ]]; then
    log "creating a development key in ${HOTLINE_AUTH_KEYS_FILE#"$ROOT/"}"
    (umask 077 && "$BIN_DIR/hotline-token" --new-key "dev-$(date +%Y%m%d)" >"$HOTLINE_AUTH_KEYS_FILE")
  fi
fi

stop_started() {
  log "stopping the services that did start"
  "$ROOT/deploy/local/down.sh" || true
}

for svc in "${SERVICES[@]}"; do
  log_file="$LOG_DIR/$svc.log"
  printf '\n=== %s starting at %s ===\n' "$svc" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$log_file"
  # setsid: own session, so the services outlive this shell and its terminal.
  HOTLINE_LISTEN_ADDR="0.0.0.0:${PORTS[$svc]}" \
    setsid nohup "$BIN_DIR/$svc" >>"$log_file" 2>&1 </dev/null &
  echo "$!" >"$PID_DIR/$svc.pid"
  log "started $svc (pid $!)"
done

# ------------------------------------------------------------ health
show_log_tail() {
  local svc="$1"
  printf 'up: last lines of %s:\n' "$LOG_DIR/$svc.log" >&2
  tail -n 40 "$LOG_DIR/$svc.log" >&2 || true
}

log "waiting for the services to report SERVING (up to ${TIMEOUT}s)"
deadline=$((SECONDS + TIMEOUT))
pending=("${SERVICES[@]}")
while ((${#pending[@]} > 0)); do
  still=()
  for svc in "${pending[@]}"; do
    if ! pid_alive "$svc"; then
      printf 'up: error: %s exited during start-up\n' "$svc" >&2
      show_log_tail "$svc"
      stop_started
      exit 1
    fi
    if HOTLINE_LISTEN_ADDR="0.0.0.0:${PORTS[$svc]}" \
      timeout 10 "$BIN_DIR/$svc" --health-check >/dev/null 2>&1; then
      log "$svc is healthy"
    else
      still+=("$svc")
    fi
  done
  pending=("${still[@]+"${still[@]}"}")
  ((${#pending[@]} == 0)) && break
  if ((SECONDS >= deadline)); then
    for svc in "${pending[@]}"; do
      printf 'up: error: %s did not become healthy within %ss\n' "$svc" "$TIMEOUT" >&2
      show_log_tail "$svc"
    done
    stop_started
    exit 1
  fi
  sleep 1
done

# ------------------------------------------------------------ summary
echo
log "hotline is up"
for svc in "${SERVICES[@]}"; do
  printf '  %-12s grpc 127.0.0.1:%s  (pid %s)\n' "$svc" "${PORTS[$svc]}" "$(cat "$PID_DIR/$svc.pid")"
done
echo "  logs:        ${LOG_DIR#"$ROOT/"}/"
echo "  keys:        $HOTLINE_AUTH_KEYS_FILE"
token="$("$BIN_DIR/hotline-token" --subject local-centre --roles operator,dispatcher,supervisor,leader,ops,auditor --hours 24)"
echo "  token:       $token"
echo "               (centre staff, 24 h: send as 'authorization: Bearer <token>';"
echo "                more with ${BIN_DIR#"$ROOT/"}/hotline-token, see docs/SECURITY.md)"
echo "  stop with:   deploy/local/down.sh"
