#!/usr/bin/env bash
# Build the C++ core once with Clang (the wheel, through scikit-build-core, with
# CC=clang CXX=clang++), install it into a temporary directory and run a quick
# smoke and a few test files against it: the core must stay portable C++17,
# not GCC-only. ~2 min on 2 cores.
#
# Clang comes from apt-get (CI runs as root on Debian) if missing; failing that,
# from the ziglang package on PyPI (`python -m ziglang c++`).
#
#   tools/clang_build.sh            build + smoke + tests/test_gemm.py tests/test_blas.py tests/test_kernels.py
#   PYTHON=... tools/clang_build.sh (default python3: the environment with pytest, numpy, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
t_start=$SECONDS
stamp() { echo "== clang_build.sh [$((SECONDS - t_start)) s] $*"; }
fail() { echo "clang_build.sh: FAILED: $*" >&2; exit 1; }

WORK=$(mktemp -d /tmp/pyvanish-clang.XXXXXX)
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$WORK"' EXIT; fi

# ---------------------------------------------------------------- 1. a Clang
if command -v clang++ >/dev/null && command -v clang >/dev/null; then
  CC_=$(command -v clang); CXX_=$(command -v clang++)
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
     { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null; } && \
     command -v clang++ >/dev/null; then
  CC_=$(command -v clang); CXX_=$(command -v clang++)
else
  stamp "no clang from apt-get: using ziglang (PyPI)"
  "$PYTHON" -m pip install --quiet ziglang
  mkdir -p "$WORK/zig"
  printf '#!/bin/sh\nexec "%s" -m ziglang cc "$@"\n' "$(command -v "$PYTHON")" > "$WORK/zig/cc"
  printf '#!/bin/sh\nexec "%s" -m ziglang c++ "$@"\n' "$(command -v "$PYTHON")" > "$WORK/zig/c++"
  chmod +x "$WORK/zig/cc" "$WORK/zig/c++"
  CC_=$WORK/zig/cc; CXX_=$WORK/zig/c++
fi
stamp "compiler: $("$CXX_" --version | head -n 1)"

# ---------------------------------------------------------------- 2. the wheel, built by Clang
ISOLATION=()
if "$PYTHON" -c 'import scikit_build_core, pybind11, Cython, scipy_openblas32' 2>/dev/null; then
  ISOLATION=(--no-build-isolation)
fi
stamp "pip wheel with CC=$CC_ CXX=$CXX_"
CC=$CC_ CXX=$CXX_ "$PYTHON" -m pip wheel --quiet --no-deps "${ISOLATION[@]}" -w "$WORK/wheels" \
  --config-settings=build-dir=build/clang \
  --config-settings=cmake.define.CMAKE_C_COMPILER="$CC_" \
  --config-settings=cmake.define.CMAKE_CXX_COMPILER="$CXX_" \
  --config-settings=cmake.define.CMAKE_COMPILE_WARNING_AS_ERROR=ON . || fail "the Clang build"
grep -qx "CMAKE_CXX_COMPILER:[A-Z]*=$CXX_" build/clang/CMakeCache.txt || fail "build/clang was not configured with $CXX_"

# ---------------------------------------------------------------- 3. smoke + tests against it
# A fresh virtualenv: the calling environment may hold pyvanish itself (an editable install wins over PYTHONPATH).
stamp "a fresh venv with the Clang wheel"
"$PYTHON" -m venv "$WORK/venv"
PY=$WORK/venv/bin/python
"$PY" -m pip install --quiet "$WORK"/wheels/pyvanish-*.whl pytest hypothesis
cd "$WORK"
stamp "smoke: import, gemm, a report"
"$PY" - "$WORK/venv" <<'PYEOF' || fail "smoke"
import os, sys
import numpy as np
import pyvanish
from pyvanish import kernels
assert os.path.realpath(pyvanish.__file__).startswith(os.path.realpath(sys.argv[1])), pyvanish.__file__
rng = np.random.default_rng(0)
for M, N, K in ((3, 4, 5), (300, 200, 100)):
    a, b = rng.standard_normal((M, K)), rng.standard_normal((K, N))
    assert np.allclose(kernels.gemm(a, b), a @ b, rtol=1e-12, atol=1e-12)
net = pyvanish.Network([8, 16, 16, 2], activation="tanh", seed=0)
rep = net.gradient_report(rng.standard_normal((5, 8)), rng.standard_normal((5, 2)))
print(f"clang build ok: simd {pyvanish.get_simd_path()}, blas core {kernels.blas_info()['corename']}, "
      f"verdict {rep.verdict}")
PYEOF
stamp "tests against the Clang build"
"$PY" -m pytest -q -p no:cacheprovider --rootdir "$ROOT" -c "$ROOT/pyproject.toml" \
  "$ROOT/tests/test_gemm.py" "$ROOT/tests/test_blas.py" "$ROOT/tests/test_kernels.py" || fail "tests"
stamp "done"
