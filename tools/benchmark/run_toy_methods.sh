#!/usr/bin/env bash
# Train and evaluate several toy configs with the same seed and schedule and
# print one AP/APr/APc/APf table (markdown).
#   tools/benchmark/run_toy_methods.sh [CONFIG ...]
# Default: the CE baseline and the EQL-family configs. NPROCS (default 2)
# processes per run; OUT (default work_dirs/toy_methods) holds the runs;
# TRAIN_ARGS (e.g. "--cfg-options optim_wrapper.optimizer.lr=0.02") is
# passed to every training run, so all methods share one schedule; EVAL
# (default "bbox segm"; "bbox" for box-only detectors) the iou types.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
"$ROOT/tools/install.sh"
PY="${MMLT_VENV:-$ROOT/.venv}/bin/python"
NPROCS="${NPROCS:-2}"
OUT="${OUT:-work_dirs/toy_methods}"
if [ $# -eq 0 ]; then
  set -- configs/toy/mask-rcnn_r18_fpn_toy_ce.py \
         configs/toy/mask-rcnn_r18_fpn_toy_eql.py \
         configs/toy/mask-rcnn_r18_fpn_toy_eql-rfs.py \
         configs/toy/mask-rcnn_r18_fpn_toy_eqlv2.py \
         configs/toy/mask-rcnn_r18_fpn_toy_seesaw.py
fi
"$PY" tools/make_toy_lvis.py --out data/toy_lvis --no-progress
mkdir -p "$OUT"
dirs=()
for cfg in "$@"; do
  name="$(basename "$cfg" .py)"
  wd="$OUT/$name"
  if [ ! -f "$wd/last_checkpoint" ]; then
    t0=$(date +%s)
    # shellcheck disable=SC2086
    ./tools/dist_train.sh "$cfg" "$NPROCS" --work-dir "$wd" --no-validate ${TRAIN_ARGS:-} > "$wd.train.log" 2>&1 \
      || { echo "training $cfg failed, see $wd.train.log" >&2; exit 1; }
    echo "$name: trained in $(( $(date +%s) - t0 )) s" >&2
  fi
  ./tools/dist_test.sh "$cfg" "$(cat "$wd/last_checkpoint")" "$NPROCS" --work-dir "$wd" \
    --eval ${EVAL:-bbox segm} > "$wd.test.log" 2>&1 \
    || { echo "testing $cfg failed, see $wd.test.log" >&2; exit 1; }
  dirs+=("$wd")
done
"$PY" tools/analysis/compare_runs.py "${dirs[@]}" --out-png "$OUT/compare_runs.png"
