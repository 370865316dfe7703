#!/usr/bin/env bash
# The main job: install what is missing, build, and run MergeScope on the bundled example.
# Usage: bash packaging/run.sh [mergescope-cli arguments]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ms_install_missing
ms_build "$MS_BUILD"
if [ $# -gt 0 ]; then
  exec "$MS_BUILD/app/mergescope-cli" "$@"
fi
ms_log "mergescope-cli inspect on the bundled example checkpoint"
"$MS_BUILD/app/mergescope-cli" inspect "$MS_ROOT/resources/examples/tiny_vit_base.safetensors"
"$MS_BUILD/app/mergescope-cli" check --base "$MS_ROOT/resources/examples/tiny_vit_base.safetensors" \
  --model "$MS_ROOT/resources/examples/tiny_vit_expert.pt"
