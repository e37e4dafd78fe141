#!/usr/bin/env bash
# Usage: tools/dist_launch.sh PY_SCRIPT NUM_PROCS [script args...]
# Shared by dist_train.sh and dist_test.sh: torchrun with NUM_PROCS processes,
# one per GPU, or NUM_PROCS CPU processes over gloo when there is no GPU
# (each limited to its share of the cores). NNODES, NODE_RANK, MASTER_ADDR,
# PORT and PYTHON are honoured as in mmdet's scripts; on one machine with
# PORT unset a free port is picked. mmlt/utils/launch_guard.py checks the
# arguments before any process starts (one message, exit 2), runs torchrun
# in this process and makes Ctrl-C / SIGTERM / the launcher's death stop
# every worker (see docs/cluster.md).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 PY_SCRIPT NUM_PROCS [script args...]" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_PY="${MMLT_VENV:-$ROOT/.venv}/bin/python"
PY="${PYTHON:-$([ -x "$VENV_PY" ] && echo "$VENV_PY" || echo python)}"
export PYTHONPATH="$ROOT:${PYTHONPATH:-}"
export MMLT_LAUNCHER_NAME="${MMLT_LAUNCHER_NAME:-$(basename "$0")}"
exec "$PY" "$ROOT/mmlt/utils/launch_guard.py" launch "$@"
