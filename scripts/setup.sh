#!/usr/bin/env bash
# Create .venv (Python 3.11) beside this repository and install the project with its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned to the CPU build 2.13.0 (a bare `torch` would pull a multi-GB CUDA build).
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev]"
# Headless OpenGL for the renderer: Mesa's EGL (installed with apt when missing and root).
if ! .venv/bin/python -c 'import moderngl; moderngl.create_standalone_context(backend="egl")' \
    >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q && apt-get install -y -q libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1
  else
    echo "warning: no EGL context; install Mesa EGL (libegl1 libegl-mesa0 libgl1-mesa-dri)" >&2
  fi
fi
