#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args...]
# One process per GPU; without GPUs, NUM_PROCS CPU processes over gloo.
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
PORT="${PORT:-29501}" exec "$TOOLS/dist_launch.sh" "$TOOLS/test.py" "$NPROCS" "$CONFIG" "$CHECKPOINT" "$@"
