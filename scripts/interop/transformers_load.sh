#!/usr/bin/env bash
# Runs transformers' from_pretrained on an exported HF folder.
#   transformers_load.sh MODEL_DIR REFERENCE.safetensors TOLERANCE           (transformers_load.py)
#   transformers_load.sh --fp8 FP8_DIR BF16_SOURCE_DIR REFERENCE.safetensors [LOGITS_OUT]  (fp8_transformers.py)
# The venv (torch, transformers, accelerate, safetensors, numpy from the machine's local package index) lives in
# $MEGABRIDGE_HF_VENV (default <repo>/cli/target/hf-venv) and is reused when present; transformers' FP8
# loading needs accelerate.
# Exit status 3 means "no python3 on this machine".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${MEGABRIDGE_HF_VENV:-$repo/cli/target/hf-venv}"
if ! [[ -x "$venv/bin/python" ]] \
    || ! "$venv/bin/python" -c 'import torch, transformers, safetensors, accelerate' 2>/dev/null; then
  if ! command -v python3 >/dev/null 2>&1; then
    echo "transformers_load.sh: no python3 on PATH" >&2
    exit 3
  fi
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  PIP_INDEX_URL="${PIP_INDEX_URL:-file:///opt/pypi/simple}" \
    "$venv/bin/pip" install --disable-pip-version-check --no-input torch transformers accelerate safetensors numpy >&2
fi
if [[ "${1:-}" == "--fp8" ]]; then
  shift
  exec "$venv/bin/python" "$here/fp8_transformers.py" "$@"
fi
exec "$venv/bin/python" "$here/transformers_load.py" "$@"
