#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args...]
# One process per GPU; without GPUs, NUM_PROCS CPU processes over gloo.
# Env: PORT (free one picked on a single machine), NNODES, NODE_RANK,
# MASTER_ADDR, PYTHON / MMLT_VENV; see docs/cluster.md.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 CONFIG CHECKPOINT NUM_PROCS [--eval bbox segm] [--out x.pkl] [--cfg-options ...]" >&2
  exit 2
fi
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONFIG=$1
CHECKPOINT=$2
NPROCS=$3
shift 3
MMLT_LAUNCHER_NAME=dist_test.sh \
  exec "$TOOLS/dist_launch.sh" "$TOOLS/test.py" "$NPROCS" "$CONFIG" "$CHECKPOINT" "$@"
