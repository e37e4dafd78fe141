#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# One process per GPU; without GPUs, NUM_PROCS CPU processes over gloo.
# Env: PORT (free one picked on a single machine), NNODES, NODE_RANK,
# MASTER_ADDR, PYTHON / MMLT_VENV; see docs/cluster.md.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 CONFIG NUM_PROCS [--work-dir DIR] [--resume [CKPT]] [--cfg-options ...]" >&2
  exit 2
fi
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONFIG=$1
NPROCS=$2
shift 2
MMLT_LAUNCHER_NAME=dist_train.sh \
  exec "$TOOLS/dist_launch.sh" "$TOOLS/train.py" "$NPROCS" "$CONFIG" "$@"
