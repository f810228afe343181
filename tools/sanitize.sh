#!/usr/bin/env bash
# tools/sanitize.sh -- pyvanish's tests against an AddressSanitizer +
# UndefinedBehaviorSanitizer build of the C++ core, and LeakSanitizer on the engine.
#
#   tools/sanitize.sh             build, full test suite, both leak checks   (2 cores: ~4 min cold, ~2.5 warm)
#   tools/sanitize.sh --quick     build, the tests that reach the C++ core, leak checks (~3 min cold, ~2 warm)
#   tools/sanitize.sh -- -k gemm  extra arguments after -- go to pytest
#
# Steps (each must pass; the script exits non-zero on the first failure):
#  1. Build. `pip install --target` with scikit-build-core config settings:
#     CMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer
#     -fno-sanitize-recover=undefined -g" (the same for the module's link flags),
#     build type RelWithDebInfo (pybind11 neither strips nor LTOs it, so reports
#     have file:line; the kernels keep their own -O3), persistent build directory
#     build/asan. The result goes to $SAN_DIR/site, not the environment's
#     site-packages: the normal install is left alone. The build dependencies
#     (scikit-build-core, pybind11, Cython) are used from the environment when it has
#     them, else pip fetches them into an isolated build environment as `.ci/run` does.
#  2. Canary. A deliberate use-after-poison read inside _core must be reported:
#     proves the module is instrumented and that reports are caught.
#  3. Tests. pytest with $SAN_DIR/site first on PYTHONPATH. Python is not
#     instrumented, so libasan is LD_PRELOADed, together with libstdc++ (else
#     ASan's __cxa_throw interceptor has nothing to forward to and every C++
#     exception dies in a CHECK). PYTHONMALLOC=malloc so that Python objects are
#     individual malloc blocks ASan can see. ASAN_OPTIONS: detect_leaks=0 (CPython
#     leaves objects alive at exit; leaks are steps 4-5), allocator_may_return_null=1.
#     UBSAN_OPTIONS: print_stacktrace=1:halt_on_error=1. ASan reports are also
#     written to $SAN_DIR/logs (log_path, which subprocesses inherit): any file
#     there fails the run even if the process that wrote it exited 0. pytest
#     runs with --capture=sys so that reports on stderr (UBSan's: it ignores
#     log_path under the ASan runtime) are not lost in a capture file when the
#     sanitizer aborts; the output is kept in $SAN_DIR/pytest.log and scanned.
#     --quick runs every test file except the two that never reach _core
#     (test_theory.py and test_reference.py are NumPy only) and deselects the
#     three slow Jacobian-spectrum statistics tests (together ~35 s of ~130 s
#     under ASan). PYVANISH_SANITIZE=1 (set here) makes some tests skip
#     themselves: huge allocations (under ASan a failed `operator new` aborts
#     instead of throwing std::bad_alloc, and RLIMIT_AS fights its shadow
#     memory), RSS measurements (ASan's quarantine), GIL timing, and the
#     NumPy-only fuzzing of pyvanish.theory.
#  4. LeakSanitizer on the engine: a C++ driver (written below) linked against
#     the ASan-built kernel library build/asan/libpyvanish_kernels.a runs the
#     network (batch norm, residual, every activation, changing batch sizes),
#     the Jacobian, training with SGD and Adam, an ensemble on 1 and 2 threads,
#     every GEMM path and the layer kernels on empty shapes. Any leak fails.
#  5. LeakSanitizer through the bindings: one Python loop over the public API
#     runs with detect_leaks=1 at two iteration counts. CPython's own objects
#     alive at exit are the same few KB either way; a leak per call would make
#     the larger run leak more, and fails the check.
#
# Environment: PYTHON (default python3), CXX (default g++; the runtime libraries
# are GCC's), PYVANISH_SAN_BUILD_DIR (default build/asan), PYVANISH_SAN_DIR
# (default build/asan-run), PYVANISH_SAN_TIMEOUT
# (seconds for the pytest step, default 900), PYVANISH_SAN_QUICK=1 (= --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=${PYVANISH_SAN_QUICK:-0}
PYTEST_EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --full) QUICK=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --) shift; PYTEST_EXTRA=("$@"); break ;;
    *) echo "sanitize.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

PYTHON=${PYTHON:-python3}
CXX=${CXX:-g++}
SAN_DIR=${PYVANISH_SAN_DIR:-$ROOT/build/asan-run}
SITE=$SAN_DIR/site
LOGS=$SAN_DIR/logs
BUILD_DIR=${PYVANISH_SAN_BUILD_DIR:-build/asan}
TIMEOUT=${PYVANISH_SAN_TIMEOUT:-900}
FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g"

# the real interpreter (not a pyenv shell shim: it would run under LD_PRELOAD too)
PY=$("$PYTHON" -c 'import sys; print(sys.executable)')
PYTEST="$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/pytest"
[ -x "$PYTEST" ] || { echo "sanitize.sh: no pytest next to $PY (pip install '.[test]')" >&2; exit 1; }
LIBASAN=$(readlink -f "$("$CXX" -print-file-name=libasan.so)")
LIBSTDCXX=$(readlink -f "$("$CXX" -print-file-name=libstdc++.so)")
[ -f "$LIBASAN" ] || { echo "sanitize.sh: $CXX has no libasan.so" >&2; exit 1; }

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
t_start=$SECONDS
stamp() { echo "== sanitize.sh [$((SECONDS - t_start)) s] $*"; }

# ---------------------------------------------------------------- 1. build
stamp "building the ASan+UBSan extension into $BUILD_DIR, installing into $SITE"
ISOLATION=()
if "$PY" -c 'import scikit_build_core, pybind11, Cython' 2>/dev/null; then ISOLATION=(--no-build-isolation); fi
rm -rf "$SITE"
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps "${ISOLATION[@]}" --target "$SITE" \
  --config-settings=build-dir="$BUILD_DIR" \
  --config-settings=cmake.build-type=RelWithDebInfo \
  --config-settings=cmake.define.CMAKE_CXX_COMPILER="$(command -v "$CXX")" \
  --config-settings=cmake.define.CMAKE_CXX_FLAGS="$FLAGS" \
  --config-settings=cmake.define.CMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" \
  --config-settings=cmake.define.CMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  .
SO=$(ls "$SITE"/pyvanish/_core*.so)
SYMS=$(nm -D "$SO")  # (not piped into grep -q: with pipefail, nm's SIGPIPE would fail the check)
[[ $SYMS == *__asan_report_load* ]] || { echo "sanitize.sh: $SO is not ASan-instrumented" >&2; exit 1; }
[[ $SYMS == *__ubsan_handle_* ]] || { echo "sanitize.sh: $SO is not UBSan-instrumented" >&2; exit 1; }

export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONMALLOC=malloc
export PYVANISH_SANITIZE=1
SAN_PRELOAD="$LIBASAN $LIBSTDCXX"
UBSAN_BASE="print_stacktrace=1:halt_on_error=1"
# No detect_stack_use_after_return: its fake stack frames are 32-byte aligned, and GCC keeps
# AVX-512 locals (a zeroed double[8] stored with one zmm) 64-byte aligned, so the aligned store
# faults (a #GP that ASan reports as a SEGV in flat_norm) on the AVX-512 path: a false report.
ASAN_BASE="allocator_may_return_null=1:halt_on_error=1:strict_string_checks=1"

fail_on_logs() {  # $1: directory of sanitizer logs; prints them and fails if any
  if compgen -G "$1/*" > /dev/null; then
    echo "sanitize.sh: sanitizer reports in $1:" >&2
    for f in "$1"/*; do echo "---- $f" >&2; head -n 80 "$f" >&2; done
    exit 1
  fi
}

scan_for_reports() {  # $1: a captured output; fails on any sanitizer report in it
  local hits
  hits=$(grep -nE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|Sanitizer: CHECK failed|SUMMARY: UndefinedBehaviorSanitizer" "$1" || true)
  if [ -n "$hits" ]; then
    echo "sanitize.sh: sanitizer reports in $1:" >&2
    echo "$hits" | head -n 20 >&2
    exit 1
  fi
}

# ---------------------------------------------------------------- 2. canary
stamp "canary: a deliberate out-of-bounds read in _core must be caught"
CANARY_LOGS=$SAN_DIR/canary-logs
rm -rf "$CANARY_LOGS" && mkdir -p "$CANARY_LOGS"
set +e
(cd /tmp && LD_PRELOAD="$SAN_PRELOAD" ASAN_OPTIONS="detect_leaks=0:log_path=$CANARY_LOGS/asan" "$PY" -c '
import ctypes, numpy as np, pyvanish
a = np.ones(64)
ctypes.CDLL(None).__asan_poison_memory_region(ctypes.c_void_p(a.ctypes.data + 256), ctypes.c_size_t(256))
pyvanish._core.activation_forward(1, 0.0, a)
print("canary NOT caught")')
rc=$?
set -e
if [ $rc -eq 0 ] || ! grep -q "use-after-poison" "$CANARY_LOGS"/* 2>/dev/null; then
  echo "sanitize.sh: the canary was not reported: the sanitizer is not live" >&2; exit 1
fi

# ---------------------------------------------------------------- 3. tests
SELECT=()
if [ "$QUICK" = 1 ]; then
  SELECT=(--ignore=tests/test_theory.py --ignore=tests/test_reference.py
          -k "not test_dynamical_isometry_orthogonal_vs_gaussian and not test_mean_squared_singular_value_tracks_chi1_power_L and not test_wide_tanh_ensemble_ratio_of_squared_norms_is_chi1")
fi
stamp "pytest under ASan+UBSan ($([ "$QUICK" = 1 ] && echo quick subset || echo full suite)${PYTEST_EXTRA[*]:+; pytest args: ${PYTEST_EXTRA[*]}})"
rm -rf "$LOGS" && mkdir -p "$LOGS"
# --capture=sys: pytest captures Python's sys.stdout/stderr only, so what the
# sanitizers write to file descriptor 2 reaches the log below even when they
# abort the process (UBSan under the ASan runtime ignores log_path).
set +e
LD_PRELOAD="$SAN_PRELOAD" \
ASAN_OPTIONS="detect_leaks=0:$ASAN_BASE:log_path=$LOGS/asan" \
UBSAN_OPTIONS="$UBSAN_BASE:log_path=$LOGS/ubsan" \
  timeout "$TIMEOUT" "$PYTEST" -q -rfE -p no:cacheprovider --capture=sys "${SELECT[@]}" "${PYTEST_EXTRA[@]}" \
  2>&1 | tee "$SAN_DIR/pytest.log"
rc=${PIPESTATUS[0]}
set -e
fail_on_logs "$LOGS"
scan_for_reports "$SAN_DIR/pytest.log"
[ $rc -eq 0 ] || { echo "sanitize.sh: pytest failed (status $rc; 124 = timeout after $TIMEOUT s)" >&2; exit $rc; }

# ---------------------------------------------------------------- 4. LSan, C++ engine
stamp "LeakSanitizer: the C++ engine without Python"
DRIVER_DIR=$SAN_DIR/lsan
mkdir -p "$DRIVER_DIR"
cat > "$DRIVER_DIR/lsan_driver.cpp" <<'EOF'
// The C++ engine alone (no Python), built with ASan + UBSan and run with
// LeakSanitizer on: every allocation the engine makes must be freed.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "engine/ensemble.hpp"
#include "engine/network.hpp"
#include "kernels/activations.hpp"
#include "kernels/batchnorm.hpp"
#include "kernels/gemm.hpp"
#include "kernels/kernels.hpp"
#include "simd/simd.hpp"

using namespace pyvanish;

template <class T>
static std::vector<T> vec(int64_t n) { return std::vector<T>(static_cast<size_t>(n)); }

template <class T>
static std::vector<T> randn(int64_t n, std::mt19937_64& g, double s = 1.0) {
  std::normal_distribution<double> d(0.0, s);
  auto v = vec<T>(n);
  for (auto& x : v) x = T(d(g));
  return v;
}

template <class T>
static int exercise(std::mt19937_64& g) {
  int checks = 0;
  // a network with batch norm, residual connections and every activation
  const int64_t W[] = {5, 7, 7, 7, 7, 7, 7, 7, 7, 7, 3};
  std::vector<LayerSpec> specs;
  for (int l = 0; l < 10; ++l) {
    LayerSpec s;
    s.in = W[l]; s.out = W[l + 1]; s.act = l % ACT_COUNT; s.alpha = 0.1;
    s.batchnorm = (l % 3 == 1);
    s.skip = (l >= 2 && l % 2 == 0 && W[l - 1] == W[l + 1]) ? l - 1 : -1;
    specs.push_back(s);
  }
  Network<T> net(specs);
  auto P = randn<T>(net.num_params(), g, 0.5);
  std::copy(P.begin(), P.end(), net.params());
  for (int64_t l = 1; l <= net.depth(); ++l)
    if (net.layer(l).batchnorm) std::fill_n(net.params() + net.gamma_offset(l), net.layer(l).out, T(1));
  auto stats = vec<double>(net.depth() * ST_COUNT);
  for (int64_t B : {2, 9, 3, 64, 2}) {  // the workspace is resized each time
    auto x = randn<T>(B * 5, g), t = randn<T>(B * 3, g);
    double gx = 0;
    checks += std::isfinite(net.run(x.data(), t.data(), B, stats.data(), &gx));
    net.training = false;
    auto J = vec<T>(B * 3 * 5);
    net.jacobian(x.data(), B, J.data());
    net.training = true;
  }
  // training with both optimisers, a record every 3 steps
  const int64_t N = 40, steps = 25, Bt = 8, L = net.depth(), cap = (steps + 2) / 3 + 1;
  auto X = randn<T>(N * 5, g), Y = randn<T>(N * 3, g);
  auto idx = vec<int64_t>(steps * Bt);
  for (auto& i : idx) i = int64_t(g() % uint64_t(N));
  for (int opt : {int(OPT_SGD), int(OPT_ADAM)}) {
    TrainConfig cfg;
    cfg.optimizer = opt; cfg.lr = 1e-3; cfg.momentum = 0.9; cfg.steps = steps; cfg.batch = Bt;
    cfg.record_every = 3; cfg.total = steps;
    auto st = vec<int64_t>(cap);
    auto loss = vec<double>(cap), gh = vec<double>(cap * (L + 1));
    auto gW = vec<double>(cap * L), up = vec<double>(cap * L), sat = vec<double>(cap * L), dead = vec<double>(cap * L);
    auto m1 = vec<T>(net.num_params()), m2 = vec<T>(net.num_params());
    typename Network<T>::TrainRecord rec{st.data(), loss.data(), gW.data(), gh.data(), up.data(), sat.data(),
                                         dead.data()};
    int64_t nrec = 0;
    checks += net.train(X.data(), Y.data(), idx.data(), cfg, m1.data(), m2.data(), rec, &nrec) == steps;
  }
  // an ensemble (with a residual layer), shared and per-member data, 1 and 2 threads
  std::vector<LayerSpec> es;
  for (int l = 0; l < 4; ++l) {
    LayerSpec s;
    s.in = l ? 6 : 4; s.out = l == 3 ? 2 : 6; s.act = (l + 1) % ACT_COUNT; s.alpha = 0.2;
    s.skip = l == 2 ? 2 : -1;
    es.push_back(s);
  }
  const int64_t E = 37;
  Ensemble<T> ens(es, E);
  auto EP = randn<T>(ens.num_params(), g, 0.4);
  std::copy(EP.begin(), EP.end(), ens.params());
  for (int threads : {1, 2})
    for (int64_t B : {1, 5}) {
      auto x = randn<T>(B * 4 * E, g), t = randn<T>(B * 2 * E, g);
      auto s = vec<double>(E * 4 * ST_COUNT), gx = vec<double>(E), l = vec<double>(E);
      ens.run(x.data(), true, t.data(), false, B, s.data(), StatsLayout::rows(4), gx.data(), l.data(), threads);
      ens.run(x.data(), false, t.data(), true, B, s.data(), StatsLayout::columns(E, 4), gx.data(), l.data(),
              threads);
      checks += std::isfinite(l[0]);
    }
  // GEMM: every path this CPU has, both transposes, odd and empty sizes
  const int initial = simd_path();
  for (int path = 0; path < SIMD_COUNT; ++path) {
    if (!simd_set_path(path)) continue;
    for (int64_t M : {0, 1, 7, 13, 150})
      for (int64_t Nn : {0, 1, 9, 17, 300})
        for (int64_t K : {0, 1, 5, 260})
          for (int ta = 0; ta < 2; ++ta)
            for (int tb = 0; tb < 2; ++tb) {
              auto A = randn<T>(M * K, g), Bm = randn<T>(K * Nn, g);
              auto C = vec<T>(M * Nn);
              gemm<T>(ta, tb, M, Nn, K, T(1), A.data(), ta ? M : K, Bm.data(), tb ? K : Nn, T(0), C.data(), Nn);
              ++checks;
            }
  }
  simd_set_path(initial);
  // activations on extreme values, and a layer's body on empty shapes
  for (int a = 0; a < ACT_COUNT; ++a)
    for (int64_t n : {0, 1, 3, 17, 1000}) {
      auto z = randn<T>(n, g, 30.0), dz = randn<T>(n, g);
      if (n > 2) { z[0] = T(INFINITY); z[1] = T(-INFINITY); z[2] = T(NAN); }
      auto o = vec<T>(n), d = vec<T>(n), dd = vec<T>(n);
      activation_forward<T>(a, T(0.1), o.data(), z.data(), n);
      activation_backward<T>(a, T(0.1), d.data(), dz.data(), z.data(), o.data(), n);
      activation_derivative<T>(a, T(0.1), dd.data(), z.data(), o.data(), n);
      ++checks;
    }
  for (int64_t B : {0, 1, 4})
    for (int64_t C : {0, 1, 6}) {
      const int64_t OC = 5;
      auto x = randn<T>(B * C, g), w = randn<T>(OC * C, g), b = randn<T>(OC, g);
      auto z = vec<T>(B * OC), a = vec<T>(B * OC), dz = vec<T>(B * OC);
      auto di = vec<T>(B * C), dw = vec<T>(OC * C), db = vec<T>(OC);
      dense_act_forward<T>(z.data(), a.data(), x.data(), w.data(), b.data(), 2, T(0), B, C, OC);
      dense_act_backward<T>(di.data(), dw.data(), db.data(), dz.data(), a.data(), x.data(), w.data(), z.data(),
                            a.data(), 2, T(0), B, C, OC);
      if (B > 0) checks += std::isfinite(mse_forward<T>(a.data(), z.data(), B, OC));
    }
  return checks;
}

int main() {
  std::mt19937_64 g(0);
  int checks = 0;
  for (int rep = 0; rep < 3; ++rep) checks += exercise<double>(g) + exercise<float>(g);
  std::printf("lsan_driver: %d engine calls checked, no leak\n", checks);
  return 0;
}
EOF
# The kernels call OpenBLAS (the scipy-openblas32 package) for the large GEMMs.
BLAS_LIBDIR=$("$PY" -c 'import scipy_openblas32 as s; print(s.get_lib_dir())')
"$CXX" -std=c++17 -O1 $FLAGS -I"$ROOT/csrc" "$DRIVER_DIR/lsan_driver.cpp" "$BUILD_DIR/libpyvanish_kernels.a" \
  -L"$BLAS_LIBDIR" -lscipy_openblas -Wl,-rpath,"$BLAS_LIBDIR" -lpthread -o "$DRIVER_DIR/lsan_driver"
rm -rf "$LOGS" && mkdir -p "$LOGS"
set +e
OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS="detect_leaks=1:$ASAN_BASE:log_path=$LOGS/asan" UBSAN_OPTIONS="$UBSAN_BASE:log_path=$LOGS/ubsan" \
  "$DRIVER_DIR/lsan_driver" > "$DRIVER_DIR/lsan_driver.log" 2>&1
rc=$?
set -e
cat "$DRIVER_DIR/lsan_driver.log"
fail_on_logs "$LOGS"
scan_for_reports "$DRIVER_DIR/lsan_driver.log"
[ $rc -eq 0 ] || { echo "sanitize.sh: the engine driver failed (status $rc)" >&2; exit 1; }

# ---------------------------------------------------------------- 5. LSan, through the bindings
stamp "LeakSanitizer: the public API in a Python loop, 5 vs 150 iterations"
cat > "$DRIVER_DIR/lsan_loop.py" <<'EOF'
"""Every public entry point into _core, n times, including the error paths."""
import io
import sys

import numpy as np

import pyvanish
from pyvanish import cli, kernels as K

n = int(sys.argv[1])
rng = np.random.default_rng(0)
x, t = rng.standard_normal((6, 8)), rng.standard_normal((6, 2))
nets = [pyvanish.Network([8, 16, 16, 16, 2], activation="tanh", batchnorm=True, residual=True, seed=0),
        pyvanish.Network([8, 12, 2], activation="relu", init="he", seed=1, dtype=np.float32)]
ens = pyvanish.Ensemble([8, 8, 8, 2], 33, activation="tanh", seed=0)
X, T = pyvanish.teacher_task(64, 8, 2, seed=0)
a, b = rng.standard_normal((17, 9)), rng.standard_normal((9, 5))
for _ in range(n):
    for net in nets:
        net.gradient_report(x, t, return_grads=True)
        net.forward(x, all_layers=True)
        try:
            net.gradient_report(x[:, :3], t)
        except ValueError:
            pass
        try:
            net.gradient_report(np.full_like(x, np.nan), t)
        except ValueError:
            pass
    nets[0].training = False
    nets[0].jacobian(x[:2])
    nets[0].training = True
    rep = ens.run(x, t)
    rep.summary("grad_h")
    pyvanish.train(nets[1], X, T, steps=3, batch_size=8, optimizer="adam")
    K.gemm(a, b); K.gemm(b, a, True, True)
    z, h = K.dense_act_forward(a, b.T, None, "gelu")
    K.dense_act_backward(np.ones_like(h), a, b.T, z, h, "gelu")
    K.batchnorm_backward(*(lambda o: (np.ones_like(o[0]), o[1], np.ones(9), o[3]))(
        K.batchnorm_forward(a, np.ones(9), np.zeros(9))))
    K.mse_backward(a, a + 1)
    for bad in ((a, a), (a.astype(complex), b)):
        try:
            K.gemm(*bad)
        except (ValueError, TypeError):
            pass
    cli.main(["report", "--depth", "2", "--width", "4", "--json"], out=io.StringIO())
print("lsan_loop: done", n)
EOF
leaked() {  # bytes LeakSanitizer reports for the loop run $1 times
  local log=$SAN_DIR/lsan-$1.txt
  (cd /tmp && LD_PRELOAD="$SAN_PRELOAD" ASAN_OPTIONS="detect_leaks=1:$ASAN_BASE" UBSAN_OPTIONS="$UBSAN_BASE" \
     "$PY" "$DRIVER_DIR/lsan_loop.py" "$1" > "$log" 2>&1) || true
  grep -q "lsan_loop: done" "$log" || { echo "sanitize.sh: the leak loop failed:" >&2; head -n 80 "$log" >&2; exit 1; }
  if grep -qE "ERROR: AddressSanitizer|runtime error:|Sanitizer: CHECK failed" "$log"; then
    echo "sanitize.sh: sanitizer report in the leak loop:" >&2; head -n 80 "$log" >&2; exit 1
  fi
  sed -n 's/.*SUMMARY: AddressSanitizer: \([0-9]*\) byte(s) leaked.*/\1/p' "$log" | tail -n 1 | grep . || echo 0
}
small=$(leaked 5)
large=$(leaked 150)
echo "LeakSanitizer: $small bytes still allocated at exit after 5 iterations, $large after 150 (CPython's own)"
if [ "$large" -gt "$small" ]; then
  echo "sanitize.sh: the leak grows with the number of calls: see $SAN_DIR/lsan-150.txt" >&2; exit 1
fi

stamp "all clean"
