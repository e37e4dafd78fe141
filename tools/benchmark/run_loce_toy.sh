#!/usr/bin/env bash
# LOCE on the embedded toy set, one table:
#   stage 1: Mask R-CNN with the normed mask head, softmax CE
#            (configs/toy/loce/stage1.py), trained once (or STAGE1=ckpt);
#   stage 2: from the stage-1 checkpoint, fc_cls/fc_reg/RPN/mask head
#            trainable: CE control (same schedule), EBL only, MFS only,
#            EBL + MFS (configs/toy/loce/).
#   tools/benchmark/run_loce_toy.sh [VARIANT ...]   (default: ce ebl mfs ebl_mfs)
# NPROCS (default 2) processes per run; OUT (default work_dirs/toy_loce).
# Runs that already have a checkpoint are only re-tested.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
"$ROOT/tools/install.sh"
PY="${MMLT_VENV:-$ROOT/.venv}/bin/python"
NPROCS="${NPROCS:-2}"
OUT="${OUT:-work_dirs/toy_loce}"
CFG_DIR=configs/toy/loce
if [ $# -eq 0 ]; then set -- ce ebl mfs ebl_mfs; fi

"$PY" tools/make_toy_lvis.py --out data/toy_lvis --no-progress
mkdir -p "$OUT"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
fail() { echo "$1 failed, see $2" >&2; exit 1; }

train_run() {  # train_run CONFIG WORK_DIR
  if [ ! -f "$2/last_checkpoint" ]; then
    ./tools/dist_train.sh "$1" "$NPROCS" --work-dir "$2" --no-validate \
      > "$2.train.log" 2>&1 || fail "training $1" "$2.train.log"
  fi
}
test_run() {  # test_run CONFIG CKPT WORK_DIR
  if ! ls "$3"/*/*.json >/dev/null 2>&1; then
    ./tools/dist_test.sh "$1" "$2" "$NPROCS" --work-dir "$3" \
      --eval bbox segm > "$3.test.log" 2>&1 || fail "testing $1" "$3.test.log"
  fi
}

# ---- stage 1 -------------------------------------------------------------
S1="$OUT/stage1"
mkdir -p "$S1"
if [ -n "${STAGE1:-}" ]; then
  ckpt1="$STAGE1"
else
  t0=$(date +%s)
  train_run "$CFG_DIR/stage1.py" "$S1"
  log "stage 1: trained in $(( $(date +%s) - t0 )) s"
  ckpt1="$(cat "$S1/last_checkpoint")"
fi
# stage-2 configs load work_dirs/toy_loce/stage1.pth
ln -sfn "$(realpath "$ckpt1")" "$OUT/stage1.pth"
test_run "$CFG_DIR/stage1.py" "$OUT/stage1.pth" "$S1"

# ---- stage 2 -------------------------------------------------------------
dirs=("$S1"); names=("stage 1 (CE, normed mask)")
for v in "$@"; do
  cfg="$CFG_DIR/$v.py"
  [ -f "$cfg" ] || { echo "no config $cfg" >&2; exit 1; }
  wd="$OUT/$v"
  mkdir -p "$wd"
  t0=$(date +%s)
  train_run "$cfg" "$wd"
  test_run "$cfg" "$(cat "$wd/last_checkpoint")" "$wd"
  log "$v: done in $(( $(date +%s) - t0 )) s"
  dirs+=("$wd"); names+=("$v")
done
"$PY" tools/analysis/compare_runs.py "${dirs[@]}" --names "${names[@]}" \
  --out-png "$OUT/compare_runs.png"
