#!/usr/bin/env bash
# Contract check of the native path ops use: deploy/local/up.sh starts the
# whole system on its default ports (debug build here, the one the tests
# already made), a Python client generated from proto/ drives a request
# through it (tests/contract/outside_client.py), closes the loop with
# visits and ratings (tests/contract/outside_loop.py), drives supervision's
# workflows (tests/contract/outside_supervision.py), request types and the
# knowledge base (tests/contract/outside_intake.py), and deploy/local/down.sh
# stops it. A database of its own, dropped afterwards.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=tests/contract/venv.sh
source "$ROOT/tests/contract/venv.sh"

die() { printf 'native path: error: %s\n' "$*" >&2; exit 1; }

contract_venv || die "could not prepare the python venv"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/hotline-native.XXXXXX")"
DB="hotline_native_$$"
cleanup() {
  deploy/local/down.sh >/dev/null 2>&1 || true
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$OUT"
}
trap cleanup EXIT

(cd proto && "$PY" -m grpc_tools.protoc -I . --python_out="$OUT" --grpc_python_out="$OUT" \
  $(find . -name '*.proto' | sed 's|^\./||')) || die "stubs"

psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $DB" >/dev/null || die "cannot create $DB"
keys="$OUT/keys.toml"
cargo build -q --bins
(umask 077 && target/debug/hotline-token --new-key "native-ci" >"$keys")

HOTLINE_PROFILE=debug HOTLINE_DB_NAME="$DB" HOTLINE_AUTH_KEYS_FILE="$keys" deploy/local/up.sh ||
  die "up.sh failed"
PYTHONPATH="$OUT" HOTLINE_KEYS="$keys" HOTLINE_TOKEN_TOOL=target/debug/hotline-token \
  "$PY" tests/contract/outside_client.py || die "the outside client failed (logs in .run/logs/)"
PYTHONPATH="$OUT" HOTLINE_KEYS="$keys" HOTLINE_TOKEN_TOOL=target/debug/hotline-token \
  "$PY" tests/contract/outside_loop.py || die "the outside loop failed (logs in .run/logs/)"
PYTHONPATH="$OUT" HOTLINE_KEYS="$keys" HOTLINE_TOKEN_TOOL=target/debug/hotline-token \
  "$PY" tests/contract/outside_supervision.py || die "the outside supervision client failed (logs in .run/logs/)"
PYTHONPATH="$OUT" HOTLINE_KEYS="$keys" HOTLINE_TOKEN_TOOL=target/debug/hotline-token \
  "$PY" tests/contract/outside_intake.py || die "the outside intake client failed (logs in .run/logs/)"
deploy/local/down.sh
echo "native path: ok"
