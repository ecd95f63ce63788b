#!/usr/bin/env bash
# slime's loader rules against a megabridge slime-schema torch_dist (slime-native-schema §2.1, §4.2), in real PyTorch:
#
#   loader-check.sh WORK (CKPT HF VP)...   see loader_check.py; writes WORK/slime-loader-report.json
#
# Uses the torch venv of scripts/torchdist/interop.sh ($MEGABRIDGE_TORCH_VENV, default <repo>/core/target/torch-venv),
# creating it through interop.sh when it has no python yet. Exit status 3 means "no python3 on this machine"
# (the only reason a caller may skip).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${MEGABRIDGE_TORCH_VENV:-$repo/core/target/torch-venv}"
if [[ ! -x "$venv/bin/python" ]]; then
  "$repo/scripts/torchdist/interop.sh" setup
fi
exec "$venv/bin/python" "$here/loader_check.py" "$@"
