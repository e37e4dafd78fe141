#!/usr/bin/env bash
# The CPU demo: install (if needed), generate the embedded long-tailed toy LVIS
# set, train a small Mask R-CNN with softmax CE from scratch, evaluate it with
# the LVIS metric (AP/APr/APc/APf table) and write the per-class AP plot.
#
#   ./tools/demo.sh                      # everything, < 10 min on 2 cores
#   NPROCS=1 ./tools/demo.sh             # one process instead of two (gloo)
#   ./tools/demo.sh --cfg-options train_cfg.max_epochs=1   # extra train args
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/tools/install.sh"
PY="${MMLT_VENV:-$ROOT/.venv}/bin/python"
CONFIG="${CONFIG:-configs/toy/mask-rcnn_r18_fpn_toy_ce.py}"
WORK_DIR="${WORK_DIR:-work_dirs/demo_toy_ce}"
NPROCS="${NPROCS:-2}"

"$PY" tools/make_toy_lvis.py --out data/toy_lvis

start=$(date +%s)
if [ "$NPROCS" -gt 1 ]; then
  ./tools/dist_train.sh "$CONFIG" "$NPROCS" --work-dir "$WORK_DIR" --no-validate "$@"
else
  "$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --no-validate "$@"
fi
CKPT="$(cat "$WORK_DIR/last_checkpoint")"
if [ "$NPROCS" -gt 1 ]; then
  ./tools/dist_test.sh "$CONFIG" "$CKPT" "$NPROCS" --work-dir "$WORK_DIR" --eval bbox segm
else
  "$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR" --eval bbox segm
fi
echo
echo "demo finished in $(( $(date +%s) - start )) s (train + test)"
echo "checkpoint: $CKPT"
echo "per-class AP plots and json: $(ls -d "$WORK_DIR"/per_class_ap* 2>/dev/null | tr '\n' ' ')"
