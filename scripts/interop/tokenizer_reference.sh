#!/usr/bin/env bash
# Trains a byte-level BPE tokenizer with Hugging Face `tokenizers` (Qwen's pre-tokenizer and special tokens) and
# writes it with the ids `tokenizers` gives a few thousand generated strings (see tokenizer_reference.py).
#   tokenizer_reference.sh OUT_DIR
# The venv (tokenizers from the machine's local package index) lives in $MEGABRIDGE_TOKENIZERS_VENV
# (default <repo>/runtime/target/tokenizers-venv) and is reused when present.
# Exit status 3 means "no python3 on this machine".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${MEGABRIDGE_TOKENIZERS_VENV:-$repo/runtime/target/tokenizers-venv}"
if ! [[ -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import tokenizers' 2>/dev/null; then
  if ! command -v python3 >/dev/null 2>&1; then
    echo "tokenizer_reference.sh: no python3 on PATH" >&2
    exit 3
  fi
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  PIP_INDEX_URL="${PIP_INDEX_URL:-file:///opt/pypi/simple}" \
    "$venv/bin/pip" install --disable-pip-version-check --no-input tokenizers >&2
fi
exec "$venv/bin/python" "$here/tokenizer_reference.py" "$@"
