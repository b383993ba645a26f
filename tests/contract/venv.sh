# Sourced by the contract checks: provides contract_venv, which makes (once,
# then reuses) a Python virtualenv under ${TMPDIR:-/tmp} holding the tools
# they need, and sets PY to its python.
#
# HOTLINE_CONTRACT_VENV overrides the venv folder.
# shellcheck shell=bash

# Major versions pinned; pip picks the newest release inside each range.
CONTRACT_REQUIREMENTS=(
  "grpcio-tools>=1.84,<2"
  "grpcio-reflection>=1.84,<2"
  "googleapis-common-protos>=1.66,<2"
  "jsonschema>=4.23,<5"
  "pyyaml>=6.0.1,<7"
)

contract_venv() {
  local base_py
  base_py="$(command -v python3 || true)"
  if [[ -z "$base_py" ]]; then
    echo "contract: error: python3 not found (apt-get install python3 python3-venv)" >&2
    return 1
  fi
  local pyver
  pyver="$("$base_py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  local venv="${HOTLINE_CONTRACT_VENV:-${TMPDIR:-/tmp}/hotline-contract-venv-py$pyver}"
  local stamp="$venv/.hotline-requirements"
  local wanted
  wanted="$(printf '%s\n' "${CONTRACT_REQUIREMENTS[@]}")"

  mkdir -p "$(dirname "$venv")"
  (
    # One run at a time may create or update the venv.
    flock -w 600 9 || { echo "contract: error: timed out waiting for $venv.lock" >&2; exit 1; }
    if [[ -x "$venv/bin/python" ]] && ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
      echo "contract: venv $venv is broken; recreating it"
      rm -rf "$venv"
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
      echo "contract: creating python venv $venv"
      if ! "$base_py" -m venv "$venv" >/dev/null 2>&1; then
        rm -rf "$venv"
        if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
          echo "contract: python venv support missing; installing python3-venv"
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv </dev/null >/dev/null
        fi
        "$base_py" -m venv "$venv" || { echo "contract: error: cannot create a venv at $venv" >&2; exit 1; }
      fi
    fi
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]]; then
      echo "contract: installing ${CONTRACT_REQUIREMENTS[*]}"
      rm -f "$stamp"
      if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        "${CONTRACT_REQUIREMENTS[@]}" </dev/null; then
        echo "contract: error: pip install failed in $venv" >&2
        exit 1
      fi
      printf '%s' "$wanted" >"$stamp"
    fi
  ) 9>"$venv.lock" || return 1
  PY="$venv/bin/python"
  export PY
}
