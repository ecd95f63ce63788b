#!/usr/bin/env bash
# Interop harness between megabridge's Java torch_dist code and real PyTorch (spec §7.3).
#
#   interop.sh setup                      create/reuse the venv (torch, safetensors, numpy from the local index)
#   interop.sh verify-java CKPT EXPECTED   torch's DCP reader checks a checkpoint written by Java
#   interop.sh save-torch  CKPT EXPECTED   torch.distributed.checkpoint.save writes a checkpoint for Java to read
#   interop.sh verify-qwen WORK (CKPT HF)... torch reads Qwen3.5 torch_dist checkpoints Java wrote from HF folders
#   interop.sh save-qwen   CKPT HF         torch writes a Megatron-like Qwen3.5 checkpoint from an HF folder
#   interop.sh fp8 quantize|dequantize IN OUT   the blockwise FP8 reference algorithm (scripts/fp8/reference.py)
#
# The venv lives in $MEGABRIDGE_TORCH_VENV (default: <repo>/core/target/torch-venv) and is reused when present.
# Exit status 3 means "no python3 on this machine" (the only reason a caller may skip).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${MEGABRIDGE_TORCH_VENV:-$repo/core/target/torch-venv}"

ensure_venv() {
  if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import torch, safetensors, numpy' 2>/dev/null; then
    return 0
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    echo "interop.sh: no python3 on PATH; cannot create the torch venv" >&2
    exit 3
  fi
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  # pip is preconfigured for the machine's local wheels; PIP_INDEX_URL avoids slow retries against an
  # unreachable public index when the caller has not set one.
  PIP_INDEX_URL="${PIP_INDEX_URL:-file:///opt/pypi/simple}" \
    "$venv/bin/pip" install --disable-pip-version-check --no-input torch safetensors numpy >&2
  "$venv/bin/python" -c 'import torch, safetensors, numpy; print("torch", torch.__version__)' >&2
}

command="${1:-}"
case "$command" in
  setup)
    ensure_venv
    ;;
  verify-java|save-torch|verify-qwen|save-qwen)
    ensure_venv
    shift
    exec "$venv/bin/python" "$here/interop.py" "$command" "$@"
    ;;
  fp8)
    ensure_venv
    shift
    exec "$venv/bin/python" "$repo/scripts/fp8/reference.py" "$@"
    ;;
  *)
    echo "usage: interop.sh setup | verify-java CKPT EXPECTED | save-torch CKPT EXPECTED | verify-qwen WORK (CKPT HF)... | save-qwen CKPT HF | fp8 quantize|dequantize IN OUT" >&2
    exit 2
    ;;
esac
