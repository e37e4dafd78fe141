#!/usr/bin/env bash
# Set up (or check) the mmlt virtualenv: torch CPU, mmcv 2.1.0 with compiled
# ops, mmdet 3.3.0, mmengine, lvis, faster-coco-eval, and mmlt itself in
# editable mode.
#
# Idempotent: when nothing it depends on changed, it only verifies imports and
# returns in seconds. mmcv comes, in this order, from
#   1. $MMLT_WHEELS or ../shared/wheels (prebuilt wheel, found via --find-links),
#   2. the wheel cache $MMLT_WHEEL_CACHE (default ~/.cache/mmlt/wheels),
#   3. a source build with ops (MMCV_WITH_OPS=1, --no-build-isolation; ~13 min
#      on 2 cores), whose wheel is put into the cache for next time.
#
# Environment: MMLT_VENV (default <repo>/.venv), PYTHON (default python3.11 or
# python3), TORCH_VERSION (default 2.13.0; the CPU wheel on these machines).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMLT_VENV:-$ROOT/.venv}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
MMCV_VERSION=2.1.0
SHARED_WHEELS="${MMLT_WHEELS:-$ROOT/../shared/wheels}"
WHEEL_CACHE="${MMLT_WHEEL_CACHE:-$HOME/.cache/mmlt/wheels}"
if [ -z "${PYTHON:-}" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

log() { echo "[mmlt install] $*" >&2; }

stamp_of() {
  # Everything that changes what gets installed.
  { cat "$ROOT/requirements.txt" "$ROOT/setup.py" "$ROOT/tools/install.sh"
    echo "$TORCH_VERSION $MMCV_VERSION"; "$PYTHON" --version 2>&1
    ls "$SHARED_WHEELS" 2>/dev/null || true; } | sha1sum | cut -d' ' -f1
}

STAMP_FILE="$VENV/.mmlt-install-stamp"
STAMP="$(stamp_of)"
PY="$VENV/bin/python"

check_imports() {
  "$PY" - <<'PYEOF' >/dev/null 2>&1
import mmcv.ops  # compiled ops present
import mmdet, mmengine, lvis, mmlt  # noqa
import faster_coco_eval  # noqa (LVIS eval backend='fast')
PYEOF
}

if [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$STAMP" ] && check_imports; then
  log "environment up to date ($VENV)"
  exit 0
fi

log "setting up $VENV with $("$PYTHON" --version 2>&1)"
[ -x "$PY" ] || "$PYTHON" -m venv "$VENV"
PIP=("$PY" -m pip --disable-pip-version-check)
export PIP_PROGRESS_BAR=off
"${PIP[@]}" install -q --upgrade pip
# setuptools<82 keeps pkg_resources (mmengine resolves mmdet:: config bases with
# it, mmcv's setup.py imports it); torch 2.13 needs >=77.0.3.
"${PIP[@]}" install -q 'setuptools>=77.0.3,<82' wheel ninja numpy
"${PIP[@]}" install -q "torch==$TORCH_VERSION"

have_mmcv() {
  "$PY" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$MMCV_VERSION')" >/dev/null 2>&1
}

if ! have_mmcv; then
  FIND_LINKS=()
  if ls "$SHARED_WHEELS"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1; then
    FIND_LINKS+=(--find-links "$SHARED_WHEELS")
  fi
  mkdir -p "$WHEEL_CACHE"
  FIND_LINKS+=(--find-links "$WHEEL_CACHE")
  # --only-binary: never let pip fall back to a build without ops.
  if ! "${PIP[@]}" install -q --only-binary=mmcv "${FIND_LINKS[@]}" "mmcv==$MMCV_VERSION" 2>/dev/null \
      || ! have_mmcv; then
    log "no usable mmcv $MMCV_VERSION wheel; building it from source with ops (takes ~13 min on 2 cores)"
    BUILD_DIR="$(mktemp -d)"
    "${PIP[@]}" download -q --no-deps --no-build-isolation --no-binary=:all: -d "$BUILD_DIR" "mmcv==$MMCV_VERSION"
    tar -xzf "$BUILD_DIR"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD_DIR"
    (cd "$BUILD_DIR/mmcv-$MMCV_VERSION" && \
      MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "${PIP[@]}" wheel -q --no-build-isolation --no-deps -w "$WHEEL_CACHE" .)
    rm -rf "$BUILD_DIR"
    "${PIP[@]}" install -q --find-links "$WHEEL_CACHE" "mmcv==$MMCV_VERSION"
    have_mmcv || { log "mmcv built but mmcv.ops does not import"; exit 1; }
  fi
fi

# test-only dependencies (setup.py extras "tests"): pytest; scikit-learn is
# the reference of the multi-label AP/F1 tests
"${PIP[@]}" install -q -r "$ROOT/requirements.txt" pytest scikit-learn
"${PIP[@]}" install -q --no-build-isolation --no-deps -e "$ROOT"
check_imports || { log "imports failed after install:"; "$PY" -c "import mmcv.ops, mmdet, lvis, mmlt"; exit 1; }
echo "$STAMP" > "$STAMP_FILE"
log "done"
