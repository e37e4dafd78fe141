#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#   tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
# mmdet's Slurm launcher for tools/test.py (see slurm_launch.sh and
# docs/cluster.md).
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [--eval bbox segm] [--out x.pkl] [--work-dir DIR] [--cfg-options ...]" >&2
  echo "  env: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS" >&2
  exit 2
fi
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PARTITION=$1
JOB_NAME=$2
shift 2
MMLT_LAUNCHER_NAME=slurm_test.sh exec "$TOOLS/slurm_launch.sh" "$TOOLS/test.py" "$PARTITION" "$JOB_NAME" 2 "$@"
