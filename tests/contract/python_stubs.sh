#!/usr/bin/env bash
# Contract check: the .proto files under proto/ compile with the stock Python
# gRPC generator (grpcio-tools), every generated module imports, and each of
# the four public services gets a client stub, a servicer base class and its
# registration function. Proves clients in other languages can be generated
# from proto/ alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# shellcheck source=tests/contract/venv.sh
source "$ROOT/tests/contract/venv.sh"

die() { printf 'python stubs: error: %s\n' "$*" >&2; exit 1; }

mapfile -t PROTOS < <(cd proto && find . -name '*.proto' -type f | sed 's|^\./||' | LC_ALL=C sort)
((${#PROTOS[@]} > 0)) || die "no .proto files found under proto/"
echo "python stubs: ${#PROTOS[@]} proto files under proto/"

contract_venv || die "could not prepare the python venv"

OUT="$(mktemp -d "${TMPDIR:-/tmp}/hotline-pystubs.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

echo "python stubs: generating with grpc_tools.protoc $("$PY" -c 'import importlib.metadata as m; print(m.version("grpcio-tools"))')"
if ! (cd proto && "$PY" -m grpc_tools.protoc -I . --python_out="$OUT" --grpc_python_out="$OUT" "${PROTOS[@]}"); then
  die "grpc_tools.protoc rejected the proto files"
fi

"$PY" "$ROOT/tests/contract/check_stubs.py" "$OUT" \
  IntakeService DispatchService UndertakingService SupervisionService ||
  die "generated python modules are incomplete (see above)"
echo "python stubs: ok"
