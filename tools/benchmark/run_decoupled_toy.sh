#!/usr/bin/env bash
# Decoupled two-stage recipes on the embedded toy set, one table:
#   stage 1: the toy CE Mask R-CNN (configs/toy/mask-rcnn_r18_fpn_toy_ce.py),
#            trained once (or STAGE1=path/to/ckpt to reuse one);
#   stage 2: every trained recipe under configs/toy/decoupled/ (classifier
#            only, from the stage-1 checkpoint), and the post-hoc ones
#            (tau-norm, NCM) that turn the stage-1 checkpoint into a new one.
#   tools/benchmark/run_decoupled_toy.sh [RECIPE ...]   (default: all)
# NPROCS (default 2) processes per run; OUT (default work_dirs/toy_decoupled).
# Runs that already have a checkpoint are only re-tested.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
"$ROOT/tools/install.sh"
PY="${MMLT_VENV:-$ROOT/.venv}/bin/python"
NPROCS="${NPROCS:-2}"
OUT="${OUT:-work_dirs/toy_decoupled}"
CFG_DIR=configs/toy/decoupled
STAGE1_CFG=configs/toy/mask-rcnn_r18_fpn_toy_ce.py
TRAINED=(ce_cls_only crt lws bags reweight_inverse reweight_effective focal
         finetune_tail)
POSTHOC=(tau_norm tau_norm_select ncm_fc ncm_conv)
if [ $# -eq 0 ]; then set -- "${TRAINED[@]}" "${POSTHOC[@]}"; fi

"$PY" tools/make_toy_lvis.py --out data/toy_lvis --no-progress
mkdir -p "$OUT"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
fail() { echo "$1 failed, see $2" >&2; exit 1; }

test_run() {  # test_run CONFIG CKPT WORK_DIR
  ./tools/dist_test.sh "$1" "$2" "$NPROCS" --work-dir "$3" --eval bbox segm \
    > "$3.test.log" 2>&1 || fail "testing $1" "$3.test.log"
}

# ---- stage 1 -------------------------------------------------------------
S1="$OUT/stage1"
if [ -n "${STAGE1:-}" ]; then
  ckpt1="$STAGE1"
else
  if [ ! -f "$S1/last_checkpoint" ]; then
    log "stage 1: training $STAGE1_CFG"
    t0=$(date +%s)
    ./tools/dist_train.sh "$STAGE1_CFG" "$NPROCS" --work-dir "$S1" \
      --no-validate > "$S1.train.log" 2>&1 || fail "stage 1" "$S1.train.log"
    log "stage 1: trained in $(( $(date +%s) - t0 )) s"
  fi
  ckpt1="$(cat "$S1/last_checkpoint")"
fi
# stage-2 configs load work_dirs/toy_decoupled/stage1.pth
ln -sfn "$(realpath "$ckpt1")" "$OUT/stage1.pth"
mkdir -p "$S1"
if ! ls "$S1"/*/*.json >/dev/null 2>&1; then
  log "stage 1: testing"
  test_run "$STAGE1_CFG" "$OUT/stage1.pth" "$S1"
fi

# ---- stage 2 -------------------------------------------------------------
dirs=("$S1"); names=("stage 1 (CE)")
for recipe in "$@"; do
  cfg="$CFG_DIR/$recipe.py"
  [ -f "$cfg" ] || { echo "no config $cfg" >&2; exit 1; }
  wd="$OUT/$recipe"
  mkdir -p "$wd"
  t0=$(date +%s)
  case "$recipe" in
    tau_norm)
      ckpt="$wd/tau_norm.pth"
      [ -f "$ckpt" ] || "$PY" tools/misc/tau_norm.py "$OUT/stage1.pth" \
        --tau 1.0 --out "$ckpt" > "$wd.tool.log" 2>&1 \
        || fail "tau-norm" "$wd.tool.log" ;;
    tau_norm_select)
      ckpt="$wd/tau_norm_select.pth"
      [ -f "$ckpt" ] || "$PY" tools/misc/tau_norm.py "$OUT/stage1.pth" \
        --tau 1.0 --select r c --out "$ckpt" > "$wd.tool.log" 2>&1 \
        || fail "tau-norm select" "$wd.tool.log" ;;
    ncm_fc|ncm_conv)
      ckpt="$wd/$recipe.pth"
      [ -f "$ckpt" ] || "$PY" tools/misc/ncm.py "$STAGE1_CFG" \
        "$OUT/stage1.pth" --feature "${recipe#ncm_}" --out "$ckpt" \
        > "$wd.tool.log" 2>&1 || fail "NCM" "$wd.tool.log" ;;
    *)
      if [ ! -f "$wd/last_checkpoint" ]; then
        ./tools/dist_train.sh "$cfg" "$NPROCS" --work-dir "$wd" \
          --no-validate > "$wd.train.log" 2>&1 \
          || fail "training $cfg" "$wd.train.log"
      fi
      ckpt="$(cat "$wd/last_checkpoint")" ;;
  esac
  test_run "$cfg" "$ckpt" "$wd"
  log "$recipe: done in $(( $(date +%s) - t0 )) s"
  dirs+=("$wd"); names+=("$recipe")
done
"$PY" tools/analysis/compare_runs.py "${dirs[@]}" --names "${names[@]}" \
  --out-png "$OUT/compare_runs.png"
