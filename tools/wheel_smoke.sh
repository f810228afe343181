#!/usr/bin/env bash
# tools/wheel_smoke.sh -- build pyvanish's wheel, install it into a brand-new
# virtualenv and smoke-test it from a directory outside the repository.
#
#   tools/wheel_smoke.sh          (~1 min: the wheel build dominates; numpy comes from PyPI)
#
# Checks, each fatal:
#  1. `pip wheel . -w DIR` builds exactly one pyvanish wheel; it contains the
#     compiled _core, _core.pyi and py.typed, and no sources (csrc/, tests/).
#  2. A plain `python -m venv` (no system site-packages) + `pip install` of the
#     wheel; `pip check` is clean; pyvanish is imported from the venv, not from
#     the source tree, and its version matches the wheel's.
#  3. `python -m pyvanish` exits 0 and prints the tutorial chain.
#  4. `pyvanish report --depth 3 --width 4 --json` (the console script) exits 0
#     and prints JSON with the expected widths and per-layer arrays.
#  5. PYVANISH_SIMD=generic: get_simd_path() is 'generic', and GEMM (both
#     dtypes, all transposes, odd shapes) and a gradient report agree with NumPy
#     and pyvanish.reference; then the same on the CPU's best path.
#  6. The Cython API: Cython and setuptools go into the venv, a tiny consumer
#     .pyx (`from pyvanish.cython_kernels cimport ...`) is compiled against the
#     installed wheel (include_dirs=[pyvanish.get_include()], nothing linked)
#     and run: a width-1 dense forward and an engine call without the GIL, the
#     latter bit for bit equal to Network.gradient_report.
#
# Environment: PYTHON (default python3), PYVANISH_WHEEL_DIR (working directory,
# default a fresh temporary one, removed at the end unless KEEP=1). The wheel
# is built in build/wheel-smoke (persistent, apart from a developer's build/<tag>).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

WORK=${PYVANISH_WHEEL_DIR:-$(mktemp -d /tmp/pyvanish-wheel.XXXXXX)}
mkdir -p "$WORK"
if [ -z "${PYVANISH_WHEEL_DIR:-}" ] && [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$WORK"' EXIT; fi
WHEELS=$WORK/wheels
VENV=$WORK/venv
rm -rf "$WHEELS" "$VENV"

t_start=$SECONDS
stamp() { echo "== wheel_smoke.sh [$((SECONDS - t_start)) s] $*"; }
fail() { echo "wheel_smoke.sh: FAILED: $*" >&2; exit 1; }

# ---------------------------------------------------------------- 1. the wheel
stamp "pip wheel . -w $WHEELS"
ISOLATION=()
if "$PYTHON" -c 'import scikit_build_core, pybind11, Cython' 2>/dev/null; then ISOLATION=(--no-build-isolation); fi
"$PYTHON" -m pip wheel --quiet --no-deps "${ISOLATION[@]}" -w "$WHEELS" \
  --config-settings=build-dir=build/wheel-smoke .
shopt -s nullglob
wheels=("$WHEELS"/pyvanish-*.whl)
[ ${#wheels[@]} -eq 1 ] || fail "expected one pyvanish wheel in $WHEELS, found ${#wheels[@]}"
WHEEL=${wheels[0]}
echo "built $(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KB)"
"$PYTHON" - "$WHEEL" <<'EOF' || fail "wheel contents"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["pyvanish/__init__.py", "pyvanish/_core.pyi", "pyvanish/py.typed", "pyvanish/cli.py",
        "pyvanish/cython_kernels.pxd", "pyvanish/pyvanish_capi.h"]
missing = [n for n in need if n not in names]
so = [n for n in names if n.startswith("pyvanish/_core") and n.endswith((".so", ".pyd"))]
cy = [n for n in names if n.startswith("pyvanish/cython_kernels") and n.endswith((".so", ".pyd"))]
assert len(cy) == 1, f"expected one compiled cython_kernels, found {cy}"
stray = [n for n in names if n.startswith(("csrc/", "tests/", "bench/", "build/", "tools/"))]
assert not missing, f"missing from the wheel: {missing}"
assert len(so) == 1, f"expected one compiled _core, found {so}"
assert not stray, f"sources in the wheel: {stray[:5]}"
print(f"wheel contents ok: {len(names)} files, {so[0]}")
EOF

# ---------------------------------------------------------------- 2. a fresh venv
stamp "python -m venv $VENV; pip install the wheel"
"$PYTHON" -m venv "$VENV"
PY=$VENV/bin/python
"$PY" -m pip install --quiet "$WHEEL"
"$PY" -m pip check
cd "$WORK"                                     # outside the repository from here on
WHEEL_VERSION=$(basename "$WHEEL" | cut -d- -f2)
"$PY" - "$ROOT" "$VENV" "$WHEEL_VERSION" <<'EOF' || fail "import"
import os, sys
root, venv, version = sys.argv[1:]
import pyvanish
path = os.path.realpath(pyvanish.__file__)
assert path.startswith(os.path.realpath(venv)), f"pyvanish imported from {path}, not the venv"
assert not path.startswith(os.path.realpath(root) + os.sep), path
assert pyvanish.__version__ == version, (pyvanish.__version__, version)
print(f"import ok: pyvanish {pyvanish.__version__} from {path}; simd path {pyvanish.get_simd_path()}")
EOF

# ---------------------------------------------------------------- 2b. OpenBLAS from the dependency
# The wheel carries no BLAS; the extension names libscipy_openblas by soname and finds it
# through its RUNPATH ($ORIGIN/../scipy_openblas32/lib), without LD_LIBRARY_PATH and even
# when loaded directly (not through pyvanish/_blas.py).
stamp "OpenBLAS: not vendored, found through the RUNPATH"
"$PYTHON" - "$WHEEL" <<'EOF' || fail "a BLAS inside the wheel"
import sys, zipfile
blas = [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if "openblas" in n.lower()]
assert not blas, f"the wheel vendors OpenBLAS: {blas}"
EOF
CORE_SO=$(ls "$VENV"/lib/python*/site-packages/pyvanish/_core*.so)
if command -v readelf >/dev/null; then
  readelf -d "$CORE_SO" | grep -q 'NEEDED.*\[libscipy_openblas.so\]' || fail "_core does not link libscipy_openblas.so"
  readelf -d "$CORE_SO" | grep -Eq '(RUNPATH|RPATH).*\[\$ORIGIN/../scipy_openblas32/lib\]' || fail "_core's RUNPATH"
fi
env -u LD_LIBRARY_PATH "$PY" -c "import ctypes, sys; ctypes.CDLL(sys.argv[1]); print('the RUNPATH alone finds OpenBLAS')" "$CORE_SO" \
  || fail "_core loaded on its own does not find libscipy_openblas"
env -u LD_LIBRARY_PATH "$PY" -c "from pyvanish import kernels; i = kernels.blas_info(); assert i['threads'] == 1, i; print('blas_info:', i['corename'], i['library'])" \
  || fail "blas_info"

# ---------------------------------------------------------------- 3. python -m pyvanish
stamp "python -m pyvanish"
"$PY" -m pyvanish > seed.txt || fail "python -m pyvanish exited $?"
for want in "dL/dy  = y - t" "dL/dh1 = dL/dh2" "dL/dx  = dL/dh1" "First layer vs last"; do
  grep -qF "$want" seed.txt || fail "python -m pyvanish does not print '$want'"
done
grep -F "dL/dh1 = dL/dh2" seed.txt | head -n 1

# ---------------------------------------------------------------- 4. the console script
stamp "pyvanish report --depth 3 --width 4 --json"
"$VENV/bin/pyvanish" report --depth 3 --width 4 --json > report.json || fail "pyvanish report exited $?"
"$PY" - <<'EOF' || fail "pyvanish report --json"
import json
d = json.load(open("report.json"))
assert d["widths"] == [4, 4, 4, 4, 1], d["widths"]
assert len(d["grad_W"]) == 4 and len(d["grad_h"]) == 5, (len(d["grad_W"]), len(d["grad_h"]))
assert d["verdict"] in ("vanishing", "exploding", "healthy"), d["verdict"]
print(f"report ok: verdict {d['verdict']}, grad_W {[f'{v:.3g}' for v in d['grad_W']]}")
EOF

# ---------------------------------------------------------------- 5. numbers, generic and best path
NUMERIC=$(cat <<'EOF'
import sys
import numpy as np
import pyvanish
from pyvanish import kernels, reference

want = sys.argv[1]
assert pyvanish.get_simd_path() == want or want == "best", (pyvanish.get_simd_path(), want)
rng = np.random.default_rng(0)
net = pyvanish.Network([8, 16, 16, 2], activation="tanh", init="xavier", seed=0)
x, t = rng.standard_normal((5, 8)), rng.standard_normal((5, 2))
rep = net.gradient_report(x, t, return_grads=True)
r = reference.network_forward_backward([w.copy() for w in net.weights], [b.copy() for b in net.biases],
                                       list(net.activations), x, t)
assert abs(rep.loss - r["loss"]) <= 1e-12 * abs(r["loss"]), (rep.loss, r["loss"])
assert np.allclose(rep.grad_W, r["stats"]["grad_W"], rtol=1e-10, atol=0), (rep.grad_W, r["stats"]["grad_W"])
for got, ref in zip(rep.grads["W"], r["dW"]):
    assert np.allclose(got, ref, rtol=1e-9, atol=1e-14 * np.abs(ref).max()), "dL/dW differs from the reference"
print(f"numbers ok on the {pyvanish.get_simd_path()} path: "
      f"gradient report (loss {rep.loss:.6g})")
EOF
)
stamp "PYVANISH_SIMD=generic: GEMM and a report against NumPy"
PYVANISH_SIMD=generic "$PY" -c "$NUMERIC" generic || fail "the generic SIMD path"
PYVANISH_SIMD=generic "$PY" "$ROOT/tools/wheel_check.py" || fail "tools/wheel_check.py on the generic path"
stamp "the CPU's best path"
"$PY" -c "$NUMERIC" best || fail "the best SIMD path"
"$PY" "$ROOT/tools/wheel_check.py" || fail "tools/wheel_check.py on the best path"

# ---------------------------------------------------------------- 6. the Cython API from the wheel
stamp "Cython API: compile a consumer against the installed wheel"
"$PY" -m pip install --quiet "cython>=3.0" "setuptools>=61"
mkdir -p cyconsumer
cat > cyconsumer/smoke_consumer.pyx <<'PYX'
# cython: language_level=3
from pyvanish.cython_kernels cimport PV_OK, PV_ST_COUNT, NetworkHandle, dense_forward_d, network_handle, network_run_d

def dense1(double x, double w, double b):
    cdef double out = 0.0
    with nogil:
        dense_forward_d(&out, &x, &w, &b, 1, 1, 1)
    return out

def run(net, double[::1] x, double[::1] t, double[::1] stats):
    cdef NetworkHandle h = network_handle(net)
    cdef double loss = 0.0
    cdef int rc
    with nogil:
        rc = network_run_d(h.engine, &x[0], &t[0], 1, &stats[0], NULL, &loss, NULL, NULL, NULL)
    return rc == PV_OK, loss, PV_ST_COUNT
PYX
cat > cyconsumer/setup.py <<'PY'
import pyvanish
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(name="smoke_consumer", ext_modules=cythonize(
    [Extension("smoke_consumer", ["smoke_consumer.pyx"], include_dirs=[pyvanish.get_include()])], quiet=True))
PY
(cd cyconsumer && "$PY" setup.py -q build_ext --inplace) || fail "compiling a Cython consumer against the wheel"
(cd cyconsumer && "$PY" - <<'EOF') || fail "running the Cython consumer"
import numpy as np
import pyvanish
import smoke_consumer as c

assert c.dense1(0.5, 2.0, 0.25) == 1.25
net = pyvanish.Network([1, 1, 1, 1, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
rep = net.gradient_report([[1.0]], [[0.0]])
stats = np.empty(rep.stats.size)
ok, loss, ncol = c.run(net, np.ones(1), np.zeros(1), stats)
assert ok and ncol == rep.stats.shape[1], (ok, ncol)
assert loss == rep.loss, (loss, rep.loss)
np.testing.assert_array_equal(stats.reshape(rep.stats.shape), rep.stats)  # NaN columns included
print(f"Cython consumer ok: {c.__file__.rsplit('/', 1)[-1]}, loss {loss:.6g} bit for bit")
EOF

stamp "all checks passed"
