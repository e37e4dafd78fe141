#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# mmdet's Slurm launcher: one srun task per GPU, tools/train.py with
# --launcher slurm (mmengine reads SLURM_PROCID/SLURM_NTASKS/SLURM_NODELIST;
# MASTER_PORT, default 29500, is honoured). As in dist_launch.sh, the repo
# root is put on PYTHONPATH and the repo's venv python is used
# (MMLT_VENV=DIR or PYTHON=/path/to/python to choose another); the venv must
# be on a file system the compute nodes share. See docs/cluster.md.
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [--resume] [--auto-scale-lr] [--cfg-options ...]" >&2
  echo "  env: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_PY="${MMLT_VENV:-$ROOT/.venv}/bin/python"
PY="${PYTHON:-$([ -x "$VENV_PY" ] && echo "$VENV_PY" || echo python)}"

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}

export PYTHONPATH="$ROOT:${PYTHONPATH:-}"
set -x
# SRUN_ARGS is split into words on purpose, as in mmdet's script.
# shellcheck disable=SC2086
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PY" -u "$ROOT/tools/train.py" "${CONFIG}" --work-dir="${WORK_DIR}" \
    --launcher="slurm" "$@"
