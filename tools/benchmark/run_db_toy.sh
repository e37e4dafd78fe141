#!/usr/bin/env bash
# Distribution-Balanced loss family on the embedded toy set (multi-label
# version of data/toy_lvis): trains and tests every toy config of
# configs/toy/db/ with NPROCS (default 2) gloo processes and prints one
# table (mAP overall / head / medium / tail, micro/macro F1, x100).
#   tools/benchmark/run_db_toy.sh [NAME ...]   (default: the six below)
# OUT (default work_dirs/toy_db); runs that have a checkpoint are only
# re-tested. PORT (default 29661) and PORT+1 are the rendezvous ports.
# PRETRAIN=1: the runs of configs/toy/db/pretrained/ instead, which start
# from a backbone pre-trained on other toy images (configs/toy/db/
# pretrain.py on the generator's seeds 1-4, trained first; OUT default
# work_dirs/toy_db_pt, whose pretrain.pth the configs load).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
"$ROOT/tools/install.sh"
PY="${MMLT_VENV:-$ROOT/.venv}/bin/python"
NPROCS="${NPROCS:-2}"
PRETRAIN="${PRETRAIN:-0}"
if [ "$PRETRAIN" = 1 ]; then
  CFG_DIR=configs/toy/db/pretrained
  OUT="${OUT:-work_dirs/toy_db_pt}"
else
  CFG_DIR=configs/toy/db
  OUT="${OUT:-work_dirs/toy_db}"
fi
BASE_PORT="${PORT:-29661}"
ALL=(bce focal cb_focal rbce_focal ntr_focal db_focal)
if [ $# -eq 0 ]; then set -- "${ALL[@]}"; fi

"$PY" tools/make_toy_lvis.py --out data/toy_lvis --no-progress
mkdir -p "$OUT"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
fail() { echo "$1 failed, see $2" >&2; exit 1; }

if [ "$PRETRAIN" = 1 ]; then
  for s in 1 2 3 4; do
    "$PY" tools/make_toy_lvis.py --out "data/toy_lvis_seed$s" --seed "$s" \
      --no-progress > /dev/null
  done
  wd="$OUT/pretrain"
  if [ ! -f "$wd/last_checkpoint" ]; then
    t0=$(date +%s)
    PORT="$BASE_PORT" ./tools/dist_train.sh configs/toy/db/pretrain.py \
      "$NPROCS" --work-dir "$wd" --no-validate > "$wd.train.log" 2>&1 \
      || fail "pre-training" "$wd.train.log"
    log "pretrain: trained in $(( $(date +%s) - t0 )) s"
  fi
  # the configs of configs/toy/db/pretrained/ load work_dirs/toy_db_pt/pretrain.pth
  mkdir -p work_dirs/toy_db_pt
  ln -sfn "$(realpath "$(cat "$wd/last_checkpoint")")" work_dirs/toy_db_pt/pretrain.pth
fi

dirs=()
for name in "$@"; do
  cfg="$CFG_DIR/$name.py"
  [ -f "$cfg" ] || { echo "no config $cfg" >&2; exit 1; }
  wd="$OUT/$name"
  mkdir -p "$wd"
  t0=$(date +%s)
  if [ ! -f "$wd/last_checkpoint" ]; then
    PORT="$BASE_PORT" ./tools/dist_train.sh "$cfg" "$NPROCS" --work-dir "$wd" \
      --no-validate > "$wd.train.log" 2>&1 || fail "training $cfg" "$wd.train.log"
  fi
  t1=$(date +%s)
  PORT=$((BASE_PORT + 1)) ./tools/dist_test.sh "$cfg" "$(cat "$wd/last_checkpoint")" \
    "$NPROCS" --work-dir "$wd" > "$wd.test.log" 2>&1 || fail "testing $cfg" "$wd.test.log"
  log "$name: trained in $((t1 - t0)) s, tested in $(( $(date +%s) - t1 )) s"
  dirs+=("$wd")
done

"$PY" - "${dirs[@]}" <<'PYEOF'
import glob, json, os.path as osp, sys
keys = ['mAP', 'mAP_head', 'mAP_medium', 'mAP_tail', 'micro_F1', 'macro_F1']
names = dict(bce='BCE', focal='Focal', cb_focal='CB-Focal',
             rbce_focal='R-BCE-Focal', ntr_focal='NTR-Focal',
             db_focal='DB-Focal', cas='RS (BCE + class-aware)',
             db_focal_uniform='DB-Focal (uniform sampling)')
print('| method | mAP | head | medium | tail | micro-F1 | macro-F1 |')
print('|---|---|---|---|---|---|---|')
for wd in sys.argv[1:]:
    rec = None
    for path in sorted(glob.glob(osp.join(wd, '*', '*.json'))):
        for line in open(path):
            line = line.strip()
            if line and 'multilabel/mAP' in line:
                rec = json.loads(line)
    if rec is None:
        sys.exit(f'no multi-label result under {wd}/*/*.json')
    vals = ['n/a' if rec.get(f'multilabel/{k}') is None else
            f"{100 * rec[f'multilabel/{k}']:.1f}" for k in keys]
    name = osp.basename(osp.normpath(wd))
    print(f"| {names.get(name, name)} | " + ' | '.join(vals) + ' |')
PYEOF
