#!/usr/bin/env bash
# Usage: tools/slurm_launch.sh PY_SCRIPT PARTITION JOB_NAME N ARG1..ARGN [extra args...]
# Shared by slurm_train.sh and slurm_test.sh: mmdet's srun line, one task per
# GPU, the script run with its N fixed args, --launcher slurm, then the
# extra args, in mmdet's order (mmengine reads SLURM_PROCID /
# SLURM_NTASKS / SLURM_NODELIST; MASTER_PORT, default 29500, is honoured).
# As in dist_launch.sh, the repo root is put on PYTHONPATH and the repo's
# venv python is used (MMLT_VENV=DIR or PYTHON=/path/to/python to choose
# another); the venv must be on a file system the compute nodes share.
# Env: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS.
# Argument errors (missing config / checkpoint, unknown option, ...) stop
# here with one message and exit 2, before srun (mmlt/utils/launch_guard.py).
set -euo pipefail
SCRIPT=$1
PARTITION=$2
JOB_NAME=$3
NFIXED=$4
shift 4
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_PY="${MMLT_VENV:-$ROOT/.venv}/bin/python"
PY="${PYTHON:-$([ -x "$VENV_PY" ] && echo "$VENV_PY" || echo python)}"
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}

export PYTHONPATH="$ROOT:${PYTHONPATH:-}"
for v in GPUS GPUS_PER_NODE CPUS_PER_TASK; do
  if ! [[ "${!v}" =~ ^[1-9][0-9]*$ ]]; then
    echo "${MMLT_LAUNCHER_NAME:-$(basename "$0")}: error: $v='${!v}' must be a positive integer" >&2
    exit 2
  fi
done
# The tool's argument and file checks before the job is queued (one
# message, exit 2, instead of one error per task); skipped when this
# machine cannot run the job's python.
if command -v "$PY" >/dev/null 2>&1; then
  MMLT_LAUNCHER_NAME="${MMLT_LAUNCHER_NAME:-$(basename "$0")}" \
    "$PY" "$ROOT/mmlt/utils/launch_guard.py" check "$SCRIPT" \
    "${@:1:NFIXED}" --launcher=slurm "${@:NFIXED+1}"
fi
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
    "$PY" -u "$SCRIPT" "${@:1:NFIXED}" --launcher="slurm" "${@:NFIXED+1}"
