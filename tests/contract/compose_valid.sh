#!/usr/bin/env bash
# Contract check: deploy/docker-compose.yml conforms to the Compose
# Specification JSON schema, and declares the four hotline services plus
# postgres and rabbitmq, each with a health check. No Docker engine needed.
#
# The schema is read from ../shared/data/compose-spec/compose-spec.json
# beside the repository, or from $COMPOSE_SPEC_JSON.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# shellcheck source=tests/contract/venv.sh
source "$ROOT/tests/contract/venv.sh"

die() { printf 'compose: error: %s\n' "$*" >&2; exit 1; }

COMPOSE_FILE="$ROOT/deploy/docker-compose.yml"
SCHEMA="${COMPOSE_SPEC_JSON:-$ROOT/../shared/data/compose-spec/compose-spec.json}"

[[ -f "$COMPOSE_FILE" ]] || die "compose file not found: $COMPOSE_FILE"
[[ -f "$SCHEMA" ]] || die "compose schema not found: $SCHEMA (set COMPOSE_SPEC_JSON to its path)"
SCHEMA="$(cd "$(dirname "$SCHEMA")" && pwd)/$(basename "$SCHEMA")"

contract_venv || die "could not prepare the python venv"

echo "compose: validating deploy/docker-compose.yml against $SCHEMA"
"$PY" "$ROOT/tests/contract/check_compose.py" "$COMPOSE_FILE" "$SCHEMA" \
  intake dispatch undertaking supervision ||
  die "deploy/docker-compose.yml failed the checks (see above)"
echo "compose: ok"
