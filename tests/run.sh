#!/usr/bin/env bash
# Runs the whole test suite: makes PostgreSQL and RabbitMQ reachable, builds
# the service binaries (the end-to-end tests start them as processes), runs
# `cargo test --workspace`, then the contract checks under tests/contract/.
#
# Extra arguments go to cargo test, e.g. `tests/run.sh -- --nocapture`.
# HOTLINE_SKIP_CONTRACT_CHECKS=1 skips the contract checks.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'tests: %s\n' "$*"; }

log "checking postgresql and rabbitmq"
deploy/local/ensure-deps.sh

log "building the service binaries (cargo build --workspace --bins)"
cargo build --workspace --bins

log "running cargo test --workspace $*"
cargo test --workspace "$@"

# Restarts PostgreSQL and RabbitMQ under load, so it runs alone, after the
# rest (ignored in the workspace run for that reason).
log "running the faults-under-load test on its own (tests/e2e/faults.rs)"
cargo test -p hotline-tests --test faults -- --ignored "$@"

if [[ "${HOTLINE_SKIP_CONTRACT_CHECKS:-0}" == "1" ]]; then
  log "skipping the contract checks (HOTLINE_SKIP_CONTRACT_CHECKS=1)"
else
  log "contract check: buf lint and format of proto/"
  tests/contract/buf_lint.sh
  log "contract check: python stubs from proto/"
  tests/contract/python_stubs.sh
  log "contract check: the native path (deploy/local/up.sh, a python client, down.sh)"
  tests/contract/native_path.sh
  log "contract check: deploy/docker-compose.yml against the compose schema"
  tests/contract/compose_valid.sh
  log "contract checks passed"
fi
log "all tests passed"
