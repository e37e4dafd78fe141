#!/usr/bin/env bash
# Download what tools/gpu_check.sh installs on an offline CUDA machine into
# a wheel folder (default <repo>/.whl, git-ignored): the packages mmlt,
# mmdet and mmengine need that such a machine's image lacks (here: the
# nvidia-h200 image, Python 3.12, torch 2.11 + CUDA 13; its package list is
# in the device notes), as binary wheels for CPython 3.12 / manylinux
# x86_64, plus mmcv 2.1.0's source distribution (gpu_check.sh builds it
# with CUDA ops there). One version of each; nothing is installed here.
#
#   tools/gpu_wheels.sh [DIR]        # then: MMLT_GPU_WHEELS=DIR gpu_check.sh
#   tools/gpu_wheels.sh --list       # the requirements, one a line
#                                    # (gpu_check.sh installs these)
#
# Environment: PYTHON (default python3; any version: pip downloads for
# --python-version), PY_VERSION (default 3.12).
set -euo pipefail


# The one list. Versions are those of the tested CPU environment
# (tools/install.sh). Already in the image, so not carried: numpy, scipy,
# matplotlib (+ cycler, kiwisolver, pyparsing, python-dateutil), pillow,
# opencv-python-headless (cv2 for mmcv/mmengine/lvis), pyyaml, rich, six,
# tqdm, packaging, cython, pytest, ninja, torch.
PACKAGES=(
  mmengine==0.10.7         # needs addict, termcolor, yapf (+ image's deps)
  mmdet==3.3.0             # needs pycocotools, shapely, terminaltables
  lvis==0.5.3
  faster-coco-eval==1.8.0  # LongTailLVISMetric backend='fast' (C++ matcher)
  pycocotools==2.0.11
  shapely==2.2.0
  terminaltables==3.1.10
  addict==2.4.0
  termcolor==3.3.0
  yapf==0.43.0
  platformdirs==4.14.9     # yapf's one dependency (>=3.5.1)
  setuptools==81.0.0       # <82: keeps pkg_resources (mmengine, mmcv setup.py)
)
MMCV_SDIST=mmcv==2.1.0

if [ "${1:-}" = --list ]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi
case "${1:-}" in -*) echo "usage: $0 [DIR | --list]" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/.whl}"
PYTHON="${PYTHON:-python3}"
PY_VERSION="${PY_VERSION:-3.12}"

mkdir -p "$DEST"
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
           --platform manylinux1_x86_64 --platform manylinux_2_24_x86_64)
PIP=("$PYTHON" -m pip --disable-pip-version-check)
"${PIP[@]}" download -q --no-deps --only-binary=:all: \
  --python-version "$PY_VERSION" --implementation cp "${PLATFORMS[@]}" \
  -d "$DEST" "${PACKAGES[@]}"
# the sdist: --no-build-isolation so that pip does not try to build its
# metadata in an isolated env without torch (mmcv's setup.py imports torch
# and pkg_resources; the environment running this needs both)
if ! ls "$DEST"/mmcv-2.1.0.tar.gz >/dev/null 2>&1; then
  "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation \
    -d "$DEST" "$MMCV_SDIST"
fi
ls -la "$DEST"
du -sh "$DEST"
