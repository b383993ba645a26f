#!/usr/bin/env bash
# Lints and format-checks the public contract in proto/ with buf (STANDARD
# rules, proto/buf.yaml). buf comes from the npm registry (@bufbuild/buf) and
# is cached under ${TMPDIR:-/tmp}/hotline-buf.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUF_DIR="${HOTLINE_BUF_DIR:-${TMPDIR:-/tmp}/hotline-buf}"
BUF="$BUF_DIR/node_modules/.bin/buf"

log() { printf 'buf: %s\n' "$*"; }

if [[ ! -x "$BUF" ]]; then
  command -v npm >/dev/null || { log "error: npm not found (apt-get install npm)"; exit 1; }
  log "installing @bufbuild/buf into $BUF_DIR"
  mkdir -p "$BUF_DIR"
  (cd "$BUF_DIR" && npm install --silent --no-audit --no-fund "@bufbuild/buf@^1" >/dev/null)
fi
cd "$ROOT/proto"
log "$("$BUF" --version) lint"
"$BUF" lint
log "format check"
"$BUF" format --diff --exit-code
log "ok"
