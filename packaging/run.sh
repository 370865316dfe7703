#!/usr/bin/env bash
# The main job: install what is missing, build, then build (first time, ~4.5 min on 2 cores) or
# reuse the demo kit and show what MergeScope does with it: the kit, the interference between its
# five experts, a TIES merge of them with its recipe, and a sweep of task arithmetic's λ over 16
# points scored with the task alignment proxy and with head re-alignment, into
# build/demo-experiment.h5 (about three minutes; reused on later runs), and re-makes the point the proxy
# ranks first as build/demo-best.safetensors. Then it opens the workbench on
# the demo kit and that experiment — or, without a display, renders it to build/workbench.png.
# Usage: bash packaging/run.sh [mergescope-cli arguments]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ms_install_missing
ms_fetch_mnist
ms_build "$MS_BUILD"
cli="$MS_BUILD/app/mergescope-cli"
if [ $# -gt 0 ]; then
  exec "$cli" "$@"
fi
ms_log "the demo kit (a ViT pretrained on Fashion-MNIST + MNIST, five task experts)"
"$cli" demo build
info="$("$cli" demo info --json)"
kit="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["dir"])' "$info")"
experts=()
for t in $(python3 -c 'import json,sys; print(" ".join(t["name"] for t in json.loads(sys.argv[1])["tasks"]))' "$info"); do
  experts+=(--model "$kit/experts/$t.safetensors" --task-name "$t")
done
ms_log "task interference between the experts"
"$cli" analyze --base "$kit/base.safetensors" "${experts[@]}"
ms_log "merging the five experts with TIES (density 0.2, λ 0.5) into build/demo-ties.safetensors"
"$cli" merge --base "$kit/base.safetensors" "${experts[@]}" --method ties --set density=0.2 --set lambda=0.5 \
  --out "$MS_BUILD/demo-ties.safetensors" --save-recipe "$MS_BUILD/demo-ties.yaml"
ms_log "sweeping task arithmetic's λ: proxy vs head re-alignment, into $MS_BUILD/demo-experiment.h5"
"$cli" sweep --method task_arithmetic --grid 'lambda=0:1.5:16' --proxy task-alignment --proxy cls-cosine \
  --downstream head-realign --resume --out "$MS_BUILD/demo-experiment.h5"
best="$("$cli" report "$MS_BUILD/demo-experiment.h5" --json | python3 -c \
  'import json,sys; s=json.load(sys.stdin)["sweeps"][-1]; print(s["id"], s["summary"]["proxy_best"])')"
ms_log "re-making the point the proxy ranks first (${best#* } of ${best% *}) into $MS_BUILD/demo-best.safetensors"
"$cli" merge --experiment "$MS_BUILD/demo-experiment.h5" --sweep "${best% *}" --point "${best#* }" \
  --out "$MS_BUILD/demo-best.safetensors"
gui="$MS_BUILD/app/mergescope"
if [ -x "$gui" ]; then
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    ms_log "opening the workbench on the demo kit"
    exec "$gui" --kit "$kit" --experiment "$MS_BUILD/demo-experiment.h5"
  fi
  ms_log "no display: rendering the workbench to $MS_BUILD/workbench.png (run with a display to use it)"
  QT_QPA_PLATFORM=offscreen "$gui" --kit "$kit" --experiment "$MS_BUILD/demo-experiment.h5" \
    --screenshot "$MS_BUILD/workbench.png" 2>/dev/null
fi
