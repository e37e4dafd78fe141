#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# mmdet's Slurm launcher for tools/train.py (see slurm_launch.sh and
# docs/cluster.md).
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [--resume] [--auto-scale-lr] [--cfg-options ...]" >&2
  echo "  env: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS" >&2
  exit 2
fi
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
MMLT_LAUNCHER_NAME=slurm_train.sh exec "$TOOLS/slurm_launch.sh" "$TOOLS/train.py" "$PARTITION" "$JOB_NAME" 2 \
  "$CONFIG" --work-dir="$WORK_DIR" "$@"
