#!/usr/bin/env bash
# GPU check of mmlt on one CUDA machine (issue 16, "GPU check").
#
#   [MMLT_GPU_WHEELS=DIR] [OUT=DIR] [PYTHON=python3] tools/gpu_check.sh
#   tools/gpu_check.sh --dry-run      # or GPU_CHECK_DRY=1: print the plan
#
# Steps, each with a header, its wall time and a timeout; a failed step does
# not stop the next ones. A summary table ends the run; the exit status is
# 0 if every step passed or was skipped, 1 if one failed or timed out, 2 for
# bad arguments, 3 without a CUDA device (nothing is installed then).
#
#   env      what the machine has (GPU, torch, nvcc, host compiler, ...)
#   mmcv     (starts here; see below)
#   install  the Python packages the image lacks (tools/gpu_wheels.sh --list)
#            into a target folder ($MMLT_SITE, default /tmp/mmlt_site) put
#            on PYTHONPATH, always --no-deps, never torch; mmlt itself from
#            the repo (PYTHONPATH). From $MMLT_GPU_WHEELS offline
#            (--no-index --find-links), else from PyPI.
#   mmcv     mmcv 2.1.0 with CUDA ops: kept if mmcv.ops' nms / roi_align
#            already run on the GPU; else a wheel cached for this torch /
#            GPU arch / Python in $MMLT_WHEEL_CACHE (default
#            ~/.cache/mmlt/wheels); else built from the sdist (in
#            $MMLT_GPU_WHEELS, else pip download) with MMCV_WITH_OPS=1
#            FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=<this GPU> MAX_JOBS=<cores>,
#            in the BACKGROUND while `amp` runs, then cached and installed.
#   amp      tools/benchmark/amp_losses.py --device cuda: EQLv2, EFL, EQFL,
#            EBL + mean-score tracker and the memory bank (device='cuda')
#            under fp16 / bf16 autocast against fp32; uses no compiled op,
#            so it runs during the build with a stand-in for mmcv._ext.
#   tests    the tests marked `cuda` (pytest -m cuda on the files using
#            it), also during the build (run again after it if one failed
#            for want of a compiled op).
#   train    if mmcv's CUDA ops work: tools/misc/smoke_configs.py --device
#            cuda --iters 30 on the LVIS v1 Mask R-CNN R50 with CE, EQLv2
#            and LOCE (s/iter, peak GPU memory, side by side).
#
# Files in $OUT (default work_dirs/gpu_check; 8, flat): gpu_check.log (all
# of stdout), install.log, mmcv_build.log, amp_losses.json, cuda_tests.log,
# train_speed.log, train_speed.json, summary.json.
#
# Environment: MMLT_GPU_WHEELS, OUT, PYTHON (above); GPU_CHECK_BUDGET
# (seconds for the whole run, default 480: each step's timeout is cut to
# what is left); GPU_CHECK_SKIP (comma list of install,mmcv,amp,tests,
# train); MMLT_SITE, MMLT_WHEEL_CACHE (above); MMCV_BUILD_JOBS (default
# nproc); GPU_CHECK_DEVICE=cpu runs the script's plumbing on a machine
# without CUDA (small CPU checks, no mmcv build, no train) for testing it.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "gpu_check: $*" >&2; exit 2; }

DRY="${GPU_CHECK_DRY:-0}"
for a in "$@"; do
  case "$a" in
    -h|--help) usage; exit 0 ;;
    --dry-run) DRY=1 ;;
    *) echo "gpu_check: unknown argument '$a'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$DRY" in 0|1) ;; *) die "GPU_CHECK_DRY must be 0 or 1, got '$DRY'" ;; esac

PYTHON="${PYTHON:-python3}"
OUT="${OUT:-work_dirs/gpu_check}"
WHEELS="${MMLT_GPU_WHEELS:-}"
SITE="${MMLT_SITE:-/tmp/mmlt_site}"
CACHE="${MMLT_WHEEL_CACHE:-${HOME:-/root}/.cache/mmlt/wheels}"
BUDGET="${GPU_CHECK_BUDGET:-480}"
SKIP=",${GPU_CHECK_SKIP:-},"
JOBS="${MMCV_BUILD_JOBS:-$(nproc)}"
DEVICE="${GPU_CHECK_DEVICE:-cuda}"
MMCV_VERSION=2.1.0
TRAIN_CONFIGS=(
  configs/lvis/mask-rcnn_r50_fpn_1x_lvis-v1.py
  configs/eqlv2/mask-rcnn_r50_fpn_eqlv2_1x_lvis-v1.py
  configs/loce/loce_mask-rcnn_r50_fpn_normed-mask_ms-2x_lvis-v1.py
)
# step timeouts (s), each also cut to the budget left minus a reserve for
# the steps after it
T_INSTALL=120
T_MMCV_BUILD=420
T_AMP=180
T_TESTS=120
T_TRAIN=300

[[ "$BUDGET" =~ ^[0-9]+$ ]] || die "GPU_CHECK_BUDGET must be seconds, got '$BUDGET'"
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "MMCV_BUILD_JOBS must be a positive integer, got '$JOBS'"
case "$DEVICE" in cuda|cpu) ;; *) die "GPU_CHECK_DEVICE must be cuda or cpu, got '$DEVICE'" ;; esac
for s in ${SKIP//,/ }; do
  case "$s" in install|mmcv|amp|tests|train) ;;
    *) die "GPU_CHECK_SKIP: unknown step '$s' (install,mmcv,amp,tests,train)" ;;
  esac
done
if [ -n "$WHEELS" ]; then
  [ -d "$WHEELS" ] || die "MMLT_GPU_WHEELS=$WHEELS is not a directory"
  WHEELS="$(cd "$WHEELS" && pwd)"
fi
mapfile -t PACKAGES < <(bash "$ROOT/tools/gpu_wheels.sh" --list)
[ "${#PACKAGES[@]}" -gt 0 ] || die "tools/gpu_wheels.sh --list printed no package"
skipped() { [[ "$SKIP" == *",$1,"* ]]; }
# the test files that use the `cuda` marker (pytest.ini)
mapfile -t CUDA_TEST_FILES < <(grep -rlE --include='test_*.py' \
  'pytest\.mark\.cuda\b' tests | sort)
AMP_ARGS=(--device "$DEVICE")
[ "$DEVICE" = cpu ] && AMP_ARGS+=(--small --steps 2)

# ---------------------------------------------------------------- dry run
if [ "$DRY" = 1 ]; then
  echo "gpu_check plan (dry run: nothing installed, CUDA not checked)"
  echo "  repo:        $ROOT"
  echo "  python:      $PYTHON"
  echo "  OUT:         $OUT"
  if [ -n "$WHEELS" ]; then
    echo "  wheels:      $WHEELS (offline: pip --no-index --find-links)"
    sdist=$(ls "$WHEELS"/mmcv-$MMCV_VERSION.tar.gz 2>/dev/null || true)
    echo "  mmcv sdist:  ${sdist:-MISSING (the build would need pip download)}"
  else
    echo "  wheels:      none (pip from PyPI)"
  fi
  echo "  site:        $SITE (PYTHONPATH=$SITE:$ROOT)"
  echo "  wheel cache: $CACHE"
  echo "  budget:      ${BUDGET} s; build jobs $JOBS; device $DEVICE"
  echo "  packages:    ${PACKAGES[*]}"
  for s in install mmcv amp tests train; do
    skipped "$s" && echo "  step $s: skipped (GPU_CHECK_SKIP)"
  done
  echo "  steps:"
  echo "    env      nvidia-smi, torch, nvcc, host compiler, Python.h, ninja"
  echo "    install  pip install --no-deps --target $SITE ${PACKAGES[*]} (timeout ${T_INSTALL}s)"
  echo "    mmcv     mmcv $MMCV_VERSION CUDA ops: installed? cached wheel? else background build (timeout ${T_MMCV_BUILD}s)"
  echo "    amp      $PYTHON tools/benchmark/amp_losses.py ${AMP_ARGS[*]} --json $OUT/amp_losses.json (timeout ${T_AMP}s)"
  echo "    tests    $PYTHON -m pytest -m cuda ${CUDA_TEST_FILES[*]:-<none found>} (timeout ${T_TESTS}s)"
  echo "    train    $PYTHON tools/misc/smoke_configs.py --device cuda --iters 30 --json $OUT/train_speed.json ${TRAIN_CONFIGS[*]} (timeout ${T_TRAIN}s; needs mmcv CUDA ops)"
  exit 0
fi

# ------------------------------------------------------------ CUDA or not
command -v "$PYTHON" >/dev/null 2>&1 || die "PYTHON=$PYTHON not found"
if [ "$DEVICE" = cuda ]; then
  if ! cuda_info=$("$PYTHON" - 2>&1 <<'EOF'
import torch
if not torch.cuda.is_available():
    raise SystemExit(f'torch {torch.__version__} (CUDA build: '
                     f'{torch.version.cuda}) sees no CUDA device')
print(torch.cuda.get_device_name(0))
EOF
  ); then
    echo "gpu_check: no CUDA device: $(echo "$cuda_info" | tail -1)." >&2
    echo "gpu_check: run it on a CUDA machine (GPU_CHECK_DRY=1 prints the plan)." >&2
    exit 3
  fi
fi
mkdir -p "$OUT" || die "cannot create OUT=$OUT"
OUT="$(cd "$OUT" && pwd)"

export PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export PIP_PROGRESS_BAR=off
# the interpreter's folder (its pip, ninja) first on PATH
PYBIN="$("$PYTHON" -c 'import os, sys; print(os.path.dirname(sys.executable))')"
export PATH="$PYBIN:$PATH"
RUN_PATH="$SITE:$ROOT"            # PYTHONPATH of the checks
MMCV_PY=/tmp/mmlt_mmcv_py         # mmcv's Python files during the build
BUILD_DIR=/tmp/mmlt_mmcv_build

# ---------------------------------------------------------------- helpers
STEPS=(); STATUS=(); TIMES=(); NOTES=()
record() {  # step status seconds note; a step recorded again is replaced
  local i
  for i in "${!STEPS[@]}"; do
    if [ "${STEPS[$i]}" = "$1" ]; then
      STATUS[$i]=$2; TIMES[$i]=$3; NOTES[$i]=$4; return
    fi
  done
  STEPS+=("$1"); STATUS+=("$2"); TIMES+=("$3"); NOTES+=("$4")
}
status_of() { local i; for i in "${!STEPS[@]}"; do
  [ "${STEPS[$i]}" = "$1" ] && echo "${STATUS[$i]}"; done; }
left() { echo $(( BUDGET - (SECONDS - T0) )); }
# timeout of a step: min(want, budget left - reserve), at least 1
tmo() { local want=$1 reserve=${2:-0} l; l=$(( $(left) - reserve ));
        (( l < want )) && want=$l; (( want < 1 )) && want=1; echo "$want"; }
header() { echo; echo "=== [$1] $2  (t=$(( SECONDS - T0 ))s, budget left $(left)s)"; }
status_of_rc() { case "$1" in 0) echo ok ;; 124|137) echo timeout ;; *) echo FAIL ;; esac; }
# keep a log under the 16 MiB a returned file may have
cap_log() { local f=$1 max=$(( 12 * 1024 * 1024 ));
  if [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt $max ]; then
    tail -c $max "$f" > "$f.tmp" && mv "$f.tmp" "$f"; fi; }

step_env() {
  header env "machine"
  local t=$SECONDS
  [ "$DEVICE" = cpu ] && echo "GPU_CHECK_DEVICE=cpu: testing the script's plumbing only (small CPU checks)"
  nvidia-smi -L 2>/dev/null || echo "nvidia-smi: not available"
  "$PYTHON" - <<'EOF'
import os, shutil, subprocess, sys, sysconfig, warnings
warnings.simplefilter('ignore')
import torch
from torch.utils import cpp_extension as ce
print(f'python {sys.version.split()[0]} ({sys.executable})')
line = f'torch {torch.__version__}, CUDA {torch.version.cuda}'
if torch.cuda.is_available():
    cap = torch.cuda.get_device_capability(0)
    mem = torch.cuda.get_device_properties(0).total_memory / 2**30
    line += (f', {torch.cuda.get_device_name(0)} sm_{cap[0]}{cap[1]}, '
             f'{mem:.0f} GiB')
print(line)
print(f'CUDA_HOME {ce.CUDA_HOME}')
def version(cmd, last=False):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
    except OSError:
        return 'not found'
    lines = [l for l in out.splitlines() if l.strip()]
    return (lines[-1] if last else lines[0]) if lines else '?'
print('nvcc:', version([os.path.join(ce.CUDA_HOME or '/nonexistent', 'bin',
                                     'nvcc'), '--version'], last=True))
print('c++:', version(['c++', '--version']))
inc = sysconfig.get_paths()['include']
print(f'Python.h: {os.path.exists(os.path.join(inc, "Python.h"))} ({inc})')
print('ninja:', shutil.which('ninja') or 'not found')
try:
    import setuptools
    print('setuptools', setuptools.__version__)
except ImportError:
    print('setuptools: not installed')
try:
    import pkg_resources  # noqa: F401
    print('pkg_resources: yes')
except ImportError:
    print('pkg_resources: no (setuptools >= 82; the carried one is used)')
print(f'cores: {os.cpu_count()}')
EOF
  record env ok $(( SECONDS - t )) "$DEVICE"
}

have_pkg_resources() {
  PYTHONPATH="$SITE" "$PYTHON" -W ignore -c 'import pkg_resources' \
    >/dev/null 2>&1
}

# pip install --no-deps into $SITE, offline from $MMLT_GPU_WHEELS if set
PIP_TARGET=(install --no-deps --no-compile --no-cache-dir --upgrade
            --target "$SITE")
[ -n "$WHEELS" ] && PIP_TARGET+=(--no-index --find-links "$WHEELS")
pip_target() { mkdir -p "$SITE"; "$PYTHON" -m pip "${PIP_TARGET[@]}" "$@"; }

step_install() {
  if skipped install; then record install skip 0 "GPU_CHECK_SKIP"; return; fi
  header install "packages -> $SITE"
  local t=$SECONDS p req=() rc
  for p in "${PACKAGES[@]}"; do
    # setuptools (<82, for pkg_resources) only where pkg_resources is missing
    if [[ "$p" == setuptools* ]] && have_pkg_resources; then continue; fi
    req+=("$p")
  done
  echo "pip ${PIP_TARGET[*]} ${req[*]}"
  mkdir -p "$SITE"
  timeout -k 5 "$(tmo $T_INSTALL 60)" "$PYTHON" -m pip "${PIP_TARGET[@]}" \
    "${req[@]}" >> "$OUT/install.log" 2>&1
  rc=$?
  tail -2 "$OUT/install.log"
  [ $rc -ne 0 ] && tail -20 "$OUT/install.log"
  # Python >= 3.12 has no distutils; mmengine's collect_env imports it and
  # gets setuptools' copy through its .pth shim, which a --target folder on
  # PYTHONPATH does not run: add the shim there if the image lacks it
  if ! PYTHONPATH="$RUN_PATH" "$PYTHON" -W ignore -c 'import distutils.errors' \
      >/dev/null 2>&1; then
    echo "__import__('_distutils_hack').add_shim()" > "$SITE/sitecustomize.py"
    if PYTHONPATH="$RUN_PATH" "$PYTHON" -W ignore -c 'import distutils.errors' \
        >/dev/null 2>&1; then
      echo "distutils: shim of setuptools added ($SITE/sitecustomize.py)"
    else
      echo "distutils: not importable (mmengine's Runner will fail)"; rc=1
    fi
  fi
  record install "$(status_of_rc $rc)" $(( SECONDS - t )) ""
}

# ---------------------------------------------------------------- mmcv
mmcv_ops_ok() {  # mmcv 2.1.0 whose nms and roi_align run on $DEVICE
  PYTHONPATH="$RUN_PATH" "$PYTHON" - "$DEVICE" "$MMCV_VERSION" <<'EOF'
import sys
import torch, mmcv
dev, version = sys.argv[1:3]
assert mmcv.__version__ == version, mmcv.__version__
from mmcv.ops import nms, roi_align
b = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30.]],
                 device=dev)
s = torch.tensor([0.9, 0.8, 0.7], device=dev)
_, keep = nms(b, s, 0.5)
assert keep.tolist() == [0, 2], keep
r = roi_align(torch.rand(1, 4, 16, 16, device=dev),
              torch.tensor([[0, 1, 1, 8, 8.]], device=dev), (7, 7), 1.0, 2)
if dev == 'cuda':
    torch.cuda.synchronize()
assert r.shape == (1, 4, 7, 7) and bool(torch.isfinite(r).all())
print(f'mmcv {mmcv.__version__}: ops run on {dev} (nms, roi_align)')
EOF
}

install_mmcv_wheel() {
  "$PYTHON" -m pip install -q --no-deps --no-index --no-compile --upgrade \
    --target "$SITE" "$1"
}

# Patches of mmcv 2.1.0's sources for a current torch / CUDA (idempotent):
# THC/ is gone from newer torch headers (its atomics are in
# ATen/cuda/Atomic.cuh); and the slowest translation units
# (filtered_lrelu.cu, minutes alone; the op registries cudabind.cpp and
# pybind.cpp), then the other .cu files, are compiled first, so that no
# long file starts last and becomes the build's tail.
patch_mmcv_src() {
  grep -rl 'THC/THCAtomics.cuh' "$1/mmcv/ops/csrc" 2>/dev/null | \
    xargs -r sed -i 's#<THC/THCAtomics.cuh>#<ATen/cuda/Atomic.cuh>#'
  "$PYTHON" - "$1/setup.py" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
mark = '# mmlt: slowest files first'
anchor = "    cmd_class = {'build_ext': BuildExtension}\n"
patch = anchor + f"""\
    {mark} (setuptools sorts the sources by name)
    class _SlowFirst(BuildExtension):
        def build_extension(self, ext):
            compile_ = self.compiler.compile
            def compile(sources, *args, **kwargs):
                sources = sorted(sources, key=lambda f: (
                    'filtered_lrelu' not in f,
                    not f.endswith(('cudabind.cpp', 'pybind.cpp')),
                    not f.endswith('.cu')))
                return compile_(sources, *args, **kwargs)
            self.compiler.compile = compile
            try:
                return super().build_extension(ext)
            finally:
                self.compiler.compile = compile_
    cmd_class = {{'build_ext': _SlowFirst}}
"""
if mark not in s:
    if s.count(anchor) != 1:
        sys.exit('mmcv setup.py: build-order patch point not found')
    open(p, 'w').write(s.replace(anchor, patch))
EOF
}

# mmcv's Python files from the sdist, for the checks that run without its
# compiled ops (during the build); $1: an extracted source tree, else the
# sdist in $MMLT_GPU_WHEELS
mmcv_python_files() {
  local src=${1:-}
  if PYTHONPATH="$RUN_PATH" "$PYTHON" -c 'import mmcv' >/dev/null 2>&1; then
    return 0
  fi
  rm -rf "$MMCV_PY"; mkdir -p "$MMCV_PY"
  if [ -n "$src" ]; then
    cp -r "$src/mmcv" "$MMCV_PY/"
  elif [ -n "$WHEELS" ] && [ -f "$WHEELS/mmcv-$MMCV_VERSION.tar.gz" ]; then
    tar -xzf "$WHEELS/mmcv-$MMCV_VERSION.tar.gz" -C "$MMCV_PY" \
      "mmcv-$MMCV_VERSION/mmcv" && \
      mv "$MMCV_PY/mmcv-$MMCV_VERSION/mmcv" "$MMCV_PY/" && \
      rm -rf "$MMCV_PY/mmcv-$MMCV_VERSION"
  fi
}

MMCV_STATE=missing   # ok | building | missing | failed | skipped
MMCV_NOTE=""
BUILD_PID=""
MMCV_T=0
start_mmcv_build() {
  local sdist="" T src
  rm -rf "$BUILD_DIR"; mkdir -p "$BUILD_DIR/dist" "$CACHE_SUB"
  if [ -n "$WHEELS" ] && [ -f "$WHEELS/mmcv-$MMCV_VERSION.tar.gz" ]; then
    sdist="$WHEELS/mmcv-$MMCV_VERSION.tar.gz"
  elif PYTHONPATH="$SITE" "$PYTHON" -m pip download -q --no-deps \
      --no-binary :all: --no-build-isolation -d "$BUILD_DIR" \
      "mmcv==$MMCV_VERSION" >> "$OUT/mmcv_build.log" 2>&1; then
    sdist="$BUILD_DIR/mmcv-$MMCV_VERSION.tar.gz"
  fi
  if [ -z "$sdist" ] || ! tar -xzf "$sdist" -C "$BUILD_DIR"; then
    MMCV_STATE=failed; MMCV_NOTE="no mmcv $MMCV_VERSION sdist"
    echo "mmcv: $MMCV_NOTE (put it into MMLT_GPU_WHEELS: tools/gpu_wheels.sh)"
    return
  fi
  src="$BUILD_DIR/mmcv-$MMCV_VERSION"
  # mmcv's setup.py imports pkg_resources (setuptools < 82); the full
  # install runs next, concurrently with the build
  if ! have_pkg_resources; then
    local st; st=$(printf '%s\n' "${PACKAGES[@]}" | grep '^setuptools==')
    echo "mmcv: installing $st first (pkg_resources)"
    pip_target "$st" >> "$OUT/install.log" 2>&1
  fi
  if ! patch_mmcv_src "$src" >> "$OUT/mmcv_build.log" 2>&1; then
    echo "mmcv: patching the sources failed (see mmcv_build.log); building as is"
  fi
  mmcv_python_files "$src"
  # torch builds in parallel only with ninja (else one file at a time)
  if ! command -v ninja >/dev/null 2>&1; then
    local nb; nb=$("$PYTHON" -c 'import ninja; print(ninja.BIN_DIR)' 2>/dev/null)
    [ -n "$nb" ] && export PATH="$nb:$PATH"
    command -v ninja >/dev/null 2>&1 || \
      echo "mmcv: WARNING: no ninja on PATH: torch compiles serially (slow)"
  fi
  T=$(tmo $T_MMCV_BUILD 75)
  echo "mmcv: building $MMCV_VERSION with CUDA ops for sm_${ARCH/./} in the" \
       "background (MAX_JOBS=$JOBS, timeout ${T}s, log mmcv_build.log)"
  BUILD_T0=$SECONDS
  (
    cd "$src" && \
    PYTHONPATH="$SITE" MMCV_WITH_OPS=1 FORCE_CUDA=1 \
    TORCH_CUDA_ARCH_LIST="$ARCH" MAX_JOBS="$JOBS" CFLAGS="-O1 -g0 -w -DNDEBUG -fwrapv" \
    MMCV_CUDA_ARGS="-w" \
    timeout -k 10 "$T" "$PYTHON" -m pip wheel --no-build-isolation \
      --no-deps --no-index -w "$BUILD_DIR/dist" . >> "$OUT/mmcv_build.log" 2>&1
    echo $? > "$BUILD_DIR/rc"
  ) &
  BUILD_PID=$!
  MMCV_STATE=building
}

step_mmcv_start() {
  if skipped mmcv; then
    MMCV_STATE=skipped; record mmcv skip 0 "GPU_CHECK_SKIP"; return
  fi
  header mmcv "mmcv $MMCV_VERSION with $DEVICE ops"
  local t=$SECONDS cached
  : > "$OUT/mmcv_build.log"
  if mmcv_ops_ok 2>/dev/null; then
    MMCV_STATE=ok; MMCV_NOTE="already installed"
  elif [ "$DEVICE" = cpu ]; then
    MMCV_STATE=missing; MMCV_NOTE="no ops (GPU_CHECK_DEVICE=cpu builds nothing)"
    mmcv_python_files
  else
    read -r ARCH TAG < <("$PYTHON" -c 'import sys, torch
c = torch.cuda.get_device_capability(0)
v = sys.version_info
print(f"{c[0]}.{c[1]} torch{torch.__version__}_sm{c[0]}{c[1]}_py{v[0]}{v[1]}")')
    CACHE_SUB="$CACHE/$TAG"
    cached=$(ls "$CACHE_SUB"/mmcv-$MMCV_VERSION-*.whl 2>/dev/null | head -1)
    if [ -n "$cached" ] && install_mmcv_wheel "$cached" && mmcv_ops_ok; then
      MMCV_STATE=ok; MMCV_NOTE="cached wheel $cached"
    else
      [ -n "$cached" ] && echo "mmcv: cached $cached does not work; rebuilding"
      start_mmcv_build
    fi
  fi
  echo "mmcv: $MMCV_STATE${MMCV_NOTE:+ ($MMCV_NOTE)}"
  MMCV_T=$(( SECONDS - t ))
}

step_mmcv_finish() {  # wait for the background build, cache and install it
  [ "$MMCV_STATE" = skipped ] && return
  local t=$SECONDS rc took whl
  if [ "$MMCV_STATE" = building ]; then
    header mmcv "waiting for the build (running for $(( SECONDS - BUILD_T0 ))s)"
    wait "$BUILD_PID"
    rc=$(cat "$BUILD_DIR/rc" 2>/dev/null || echo 1)
    took=$(( SECONDS - BUILD_T0 ))
    cap_log "$OUT/mmcv_build.log"
    whl=$(ls "$BUILD_DIR"/dist/mmcv-$MMCV_VERSION-*.whl 2>/dev/null | head -1)
    if [ "$rc" = 0 ] && [ -n "$whl" ]; then
      echo "mmcv: built in ${took}s: $(basename "$whl") ($(du -h "$whl" | cut -f1))"
      cp "$whl" "$CACHE_SUB/" && echo "mmcv: cached in $CACHE_SUB"
      if install_mmcv_wheel "$whl" && mmcv_ops_ok; then
        MMCV_STATE=ok; MMCV_NOTE="built in ${took}s"
      else
        MMCV_STATE=failed; MMCV_NOTE="built in ${took}s but the ops do not run"
      fi
    else
      MMCV_STATE=failed
      if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        MMCV_NOTE="build timed out after ${took}s"
      else
        MMCV_NOTE="build failed (rc $rc) after ${took}s"
      fi
      echo "mmcv: $MMCV_NOTE; errors, then the end of mmcv_build.log:"
      grep -nE '(error|Error)[: ]' "$OUT/mmcv_build.log" | head -25
      echo "..."
      tail -30 "$OUT/mmcv_build.log"
    fi
  fi
  case "$MMCV_STATE" in
    ok) record mmcv ok $(( MMCV_T + SECONDS - t )) "$MMCV_NOTE" ;;
    missing) record mmcv skip $(( MMCV_T + SECONDS - t )) "$MMCV_NOTE" ;;
    *) record mmcv FAIL $(( MMCV_T + SECONDS - t )) "$MMCV_NOTE" ;;
  esac
}

# ---------------------------------------------------------------- checks
# PYTHONPATH and command prefix for code that imports mmlt: with a stand-in
# for mmcv._ext while mmcv's ops are not installed (the checks use none)
mmlt_path() {
  if [ "$MMCV_STATE" != ok ] && [ -d "$MMCV_PY/mmcv" ]; then
    echo "$MMCV_PY:$RUN_PATH"
  else
    echo "$RUN_PATH"
  fi
}

step_amp() {
  if skipped amp; then record amp skip 0 "GPU_CHECK_SKIP"; return; fi
  header amp "stateful losses under fp16 / bf16 autocast vs fp32 ($DEVICE)"
  local t=$SECONDS rc note=""
  [ "$MMCV_STATE" != ok ] && note="with a mmcv._ext stand-in"
  OMP_NUM_THREADS=4 PYTHONPATH="$(mmlt_path)" timeout -k 5 "$(tmo $T_AMP 45)" \
    "$PYTHON" tools/benchmark/amp_losses.py "${AMP_ARGS[@]}" \
    --mmcv-ext-placeholder --json "$OUT/amp_losses.json"
  rc=$?
  record amp "$(status_of_rc $rc)" $(( SECONDS - t )) "$note"
}

step_tests() {
  if skipped tests; then record tests skip 0 "GPU_CHECK_SKIP"; return; fi
  if [ "${#CUDA_TEST_FILES[@]}" -eq 0 ]; then
    record tests FAIL 0 "no test file uses @pytest.mark.cuda"; return
  fi
  header tests "pytest -m cuda ${CUDA_TEST_FILES[*]}"
  local t=$SECONDS rc cmd note="" summary
  if [ "$MMCV_STATE" = ok ]; then
    cmd=("$PYTHON" -m pytest)
  else  # mmdet imports mmcv.ops; the cuda tests use no compiled op
    cmd=("$PYTHON" -c 'import sys; sys.path.insert(0, "tools/benchmark")
import amp_losses, pytest
amp_losses.use_mmcv_ext_placeholder()
sys.exit(pytest.main(sys.argv[1:]))')
    note="with a mmcv._ext stand-in; "
  fi
  OMP_NUM_THREADS=4 PYTHONPATH="$(mmlt_path)" timeout -k 5 "$(tmo $T_TESTS 20)" \
    "${cmd[@]}" \
    -m cuda -rs -p no:cacheprovider "${CUDA_TEST_FILES[@]}" \
    > "$OUT/cuda_tests.log" 2>&1
  rc=$?
  tail -15 "$OUT/cuda_tests.log"
  summary=$(grep -E '^=+ .*(passed|failed|skipped|error|no tests ran).* =+$' \
    "$OUT/cuda_tests.log" | tail -1 | tr -d '=' | sed 's/^ *//; s/ *$//')
  record tests "$(status_of_rc $rc)" $(( SECONDS - t )) "${note}${summary}"
}

step_train() {
  if skipped train; then record train skip 0 "GPU_CHECK_SKIP"; return; fi
  if [ "$DEVICE" != cuda ]; then
    record train skip 0 "GPU_CHECK_DEVICE=$DEVICE"; return; fi
  if [ "$MMCV_STATE" != ok ]; then
    record train skip 0 "mmcv CUDA ops not available ($MMCV_STATE)"; return; fi
  if [ ! -f tools/misc/smoke_configs.py ]; then
    record train skip 0 "tools/misc/smoke_configs.py not in this tree"; return; fi
  local T t=$SECONDS rc
  T=$(tmo $T_TRAIN 10)
  if (( T < 30 )); then record train skip 0 "no time left (${T}s)"; return; fi
  header train "30 iterations each (timeout ${T}s): ${TRAIN_CONFIGS[*]}"
  PYTHONPATH="$RUN_PATH" timeout -k 10 "$T" "$PYTHON" \
    tools/misc/smoke_configs.py --device cuda --iters 30 \
    --json "$OUT/train_speed.json" "${TRAIN_CONFIGS[@]}" \
    > "$OUT/train_speed.log" 2>&1
  rc=$?
  cap_log "$OUT/train_speed.log"
  grep -E '^\[smoke\]' "$OUT/train_speed.log" | tail -12
  [ $rc -ne 0 ] && tail -25 "$OUT/train_speed.log"
  if [ -f "$OUT/train_speed.json" ]; then
    "$PYTHON" - "$OUT/train_speed.json" <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))
rows = list(res.values()) if isinstance(res, dict) else list(res)
rows = [r for r in rows if isinstance(r, dict)]
print(f"{'config':58s} {'status':7s} {'s/iter':>7s} {'iter/s':>7s} "
      f"{'peak GPU GB':>11s}")
for r in rows:
    s, g = r.get('s_per_iter'), r.get('peak_gpu_mb')
    print(f"{str(r.get('config', '?'))[-58:]:58s} "
          f"{str(r.get('status', '?')):7s} "
          f"{(f'{s:.3f}' if s else '-'):>7s} "
          f"{(f'{1 / s:.2f}' if s else '-'):>7s} "
          f"{(f'{g / 1024:.1f}' if g else '-'):>11s}")
EOF
  fi
  record train "$(status_of_rc $rc)" $(( SECONDS - t )) ""
}

summary() {
  local i failed=0 sep note
  echo
  echo "=== summary ($(( SECONDS - T0 ))s of a ${BUDGET}s budget; files in $OUT)"
  for i in "${!STEPS[@]}"; do
    printf '  %-8s %-8s %5ss  %s\n' "${STEPS[$i]}" "${STATUS[$i]}" \
      "${TIMES[$i]}" "${NOTES[$i]}"
    case "${STATUS[$i]}" in ok|skip) ;; *) failed=1 ;; esac
  done
  {
    echo '{"steps": ['
    for i in "${!STEPS[@]}"; do
      sep=,; [ "$i" -eq $(( ${#STEPS[@]} - 1 )) ] && sep=
      note=${NOTES[$i]//\\/\\\\}; note=${note//\"/\\\"}
      printf '  {"step": "%s", "status": "%s", "seconds": %s, "note": "%s"}%s\n' \
        "${STEPS[$i]}" "${STATUS[$i]}" "${TIMES[$i]}" "$note" "$sep"
    done
    echo "], \"device\": \"$DEVICE\", \"seconds\": $(( SECONDS - T0 )),"
    echo " \"passed\": $([ $failed = 0 ] && echo true || echo false)}"
  } > "$OUT/summary.json"
  echo "result: $([ $failed = 0 ] && echo PASS || echo FAIL)"
  return $failed
}

main() {
  T0=$SECONDS
  : > "$OUT/install.log"
  step_env
  step_mmcv_start     # a build continues in the background while
  step_install        # the packages are installed
  step_amp            # and the losses are checked,
  step_tests          # and the cuda tests run (no compiled op needed)
  step_mmcv_finish
  # a test that needed a compiled op while the build ran: once more
  if [ "$(status_of tests)" = FAIL ] && [ "$MMCV_STATE" = ok ] && \
      grep -q 'placeholder of tools/benchmark/amp_losses.py' \
        "$OUT/cuda_tests.log" 2>/dev/null; then
    step_tests
  fi
  step_train
  summary
}

# bash waits for tee, so the log and the summary are complete at exit
main 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"
