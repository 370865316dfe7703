#!/usr/bin/env bash
# The main job: install what is missing, build, and run MergeScope on the bundled example.
# Usage: bash packaging/run.sh [mergescope-cli arguments]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ms_install_missing
ms_fetch_mnist
ms_build "$MS_BUILD"
if [ $# -gt 0 ]; then
  exec "$MS_BUILD/app/mergescope-cli" "$@"
fi
ms_log "mergescope-cli inspect on the bundled example checkpoint"
"$MS_BUILD/app/mergescope-cli" inspect "$MS_ROOT/resources/examples/tiny_vit_base.safetensors"
ex="$MS_ROOT/resources/examples"
"$MS_BUILD/app/mergescope-cli" check --base "$ex/tiny_vit_base.safetensors" --model "$ex/tiny_vit_expert.pt"
ms_log "merging the example expert into its base with TIES (λ = 0.5), into build/example-merged.safetensors"
"$MS_BUILD/app/mergescope-cli" merge --base "$ex/tiny_vit_base.safetensors" --model "$ex/tiny_vit_expert.pt" \
  --method ties --set density=0.2 --set lambda=0.5 --out "$MS_BUILD/example-merged.safetensors" \
  --save-recipe "$MS_BUILD/example-merged.yaml"
