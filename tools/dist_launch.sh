#!/usr/bin/env bash
# Usage: tools/dist_launch.sh PY_SCRIPT NUM_PROCS [script args...]
# Shared by dist_train.sh and dist_test.sh: torchrun with NUM_PROCS processes,
# one per GPU, or NUM_PROCS CPU processes over gloo when there is no GPU
# (each limited to its share of the cores). NNODES, NODE_RANK, MASTER_ADDR,
# PORT and PYTHON are honoured as in mmdet's scripts.
set -euo pipefail
SCRIPT=$1
NPROCS=$2
shift 2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_PY="${MMLT_VENV:-$ROOT/.venv}/bin/python"
PY="${PYTHON:-$([ -x "$VENV_PY" ] && echo "$VENV_PY" || echo python)}"
if [ -z "${OMP_NUM_THREADS:-}" ]; then
  export OMP_NUM_THREADS=$(( $(nproc) / NPROCS > 0 ? $(nproc) / NPROCS : 1 ))
fi
export PYTHONPATH="$ROOT:${PYTHONPATH:-}"
exec "$PY" -m torch.distributed.run \
  --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
  --nproc_per_node="$NPROCS" \
  "$SCRIPT" "$@" --launcher pytorch
