# cython: language_level=3, boundscheck=False, wraparound=False
"""pyvanish's kernels and engines as ``cdef noexcept nogil`` functions (see ``cython_kernels.pxd``).

Each function calls through the C API table of the compiled core (``pyvanish_capi.h``), fetched once at
import and checked for its version, so there is one copy of the kernels and of their process-wide state.
The handles (:func:`network_handle`, :func:`ensemble_handle`) are made with the GIL from a Python
``Network`` / ``Ensemble`` and keep it alive while their engine pointer is used without the GIL.
"""

from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from libc.stdint cimport int8_t, int64_t

from pyvanish import _engine
from pyvanish.ensemble import Ensemble
from pyvanish.network import Network


cdef extern from "pyvanish_capi.h":
    const char* PYVANISH_CAPI_NAME
    const char* PYVANISH_NETWORK64_CAPSULE
    const char* PYVANISH_NETWORK32_CAPSULE
    const char* PYVANISH_ENSEMBLE64_CAPSULE
    const char* PYVANISH_ENSEMBLE32_CAPSULE

    ctypedef struct pyvanish_capi:
        int version
        int size
        int n_activations
        int n_stats
        void (*activation_forward_d)(int act, double alpha, double* out, const double* inp, int64_t N) noexcept nogil
        void (*activation_forward_f)(int act, float alpha, float* out, const float* inp, int64_t N) noexcept nogil
        void (*activation_backward_d)(int act, double alpha, double* dinp, const double* dout, const double* inp,
                                      const double* out, int64_t N) noexcept nogil
        void (*activation_backward_f)(int act, float alpha, float* dinp, const float* dout, const float* inp,
                                      const float* out, int64_t N) noexcept nogil
        void (*activation_derivative_d)(int act, double alpha, double* dphi, const double* inp, const double* out,
                                        int64_t N) noexcept nogil
        void (*activation_derivative_f)(int act, float alpha, float* dphi, const float* inp, const float* out,
                                        int64_t N) noexcept nogil
        void (*dense_forward_d)(double* out, const double* inp, const double* weight, const double* bias, int64_t B,
                                int64_t C, int64_t OC) noexcept nogil
        void (*dense_forward_f)(float* out, const float* inp, const float* weight, const float* bias, int64_t B,
                                int64_t C, int64_t OC) noexcept nogil
        void (*dense_backward_d)(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                                 const double* weight, int64_t B, int64_t C, int64_t OC) noexcept nogil
        void (*dense_backward_f)(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                 const float* weight, int64_t B, int64_t C, int64_t OC) noexcept nogil
        void (*dense_act_forward_d)(double* z, double* a, const double* inp, const double* weight, const double* bias,
                                    int act, double alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil
        void (*dense_act_forward_f)(float* z, float* a, const float* inp, const float* weight, const float* bias,
                                    int act, float alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil
        void (*dense_act_backward_d)(double* dinp, double* dweight, double* dbias, double* dz, const double* dout,
                                     const double* inp, const double* weight, const double* z, const double* a,
                                     int act, double alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil
        void (*dense_act_backward_f)(float* dinp, float* dweight, float* dbias, float* dz, const float* dout,
                                     const float* inp, const float* weight, const float* z, const float* a, int act,
                                     float alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil
        double (*mse_forward_d)(const double* pred, const double* target, int64_t B, int64_t N) noexcept nogil
        double (*mse_forward_f)(const float* pred, const float* target, int64_t B, int64_t N) noexcept nogil
        void (*mse_backward_d)(double* dpred, const double* pred, const double* target, int64_t B,
                               int64_t N) noexcept nogil
        void (*mse_backward_f)(float* dpred, const float* pred, const float* target, int64_t B,
                               int64_t N) noexcept nogil
        void (*batchnorm_forward_d)(double* out, double* xhat, double* mean, double* rstd, const double* inp,
                                    const double* gamma, const double* beta, int64_t B, int64_t C,
                                    double eps) noexcept nogil
        void (*batchnorm_forward_f)(float* out, float* xhat, float* mean, float* rstd, const float* inp,
                                    const float* gamma, const float* beta, int64_t B, int64_t C,
                                    double eps) noexcept nogil
        void (*batchnorm_backward_d)(double* dinp, double* dgamma, double* dbeta, const double* dout,
                                     const double* xhat, const double* gamma, const double* rstd, int64_t B,
                                     int64_t C) noexcept nogil
        void (*batchnorm_backward_f)(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                                     const float* gamma, const float* rstd, int64_t B, int64_t C) noexcept nogil
        void (*residual_forward_d)(double* out, const double* skip, const double* inp, double scale,
                                   int64_t N) noexcept nogil
        void (*residual_forward_f)(float* out, const float* skip, const float* inp, float scale,
                                   int64_t N) noexcept nogil
        void (*residual_backward_d)(double* dinp, double* dskip, const double* dout, double scale,
                                    int64_t N) noexcept nogil
        void (*residual_backward_f)(float* dinp, float* dskip, const float* dout, float scale, int64_t N) noexcept nogil
        void (*gemm_d)(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                       int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) noexcept nogil
        void (*gemm_f)(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                       int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) noexcept nogil
        int (*network_run_d)(void* engine, const double* x, const double* t, int64_t B, double* stats, double* grad_x,
                             double* loss, double* signal_ratio, double* weight_ratio, int* verdict) noexcept nogil
        int (*network_run_f)(void* engine, const float* x, const float* t, int64_t B, double* stats, double* grad_x,
                             double* loss, double* signal_ratio, double* weight_ratio, int* verdict) noexcept nogil
        int64_t (*network_shape_d)(void* engine, int64_t* n_in, int64_t* n_out) noexcept nogil
        int64_t (*network_shape_f)(void* engine, int64_t* n_in, int64_t* n_out) noexcept nogil
        int (*ensemble_run_d)(void* engine, const double* x, int x_per_member, const double* t, int t_per_member,
                              int64_t B, double* stats, double* grad_x, double* loss, int8_t* verdicts,
                              int threads) noexcept nogil
        int (*ensemble_run_f)(void* engine, const float* x, int x_per_member, const float* t, int t_per_member,
                              int64_t B, double* stats, double* grad_x, double* loss, int8_t* verdicts,
                              int threads) noexcept nogil
        int64_t (*ensemble_shape_d)(void* engine, int64_t* n_in, int64_t* n_out, int64_t* members) noexcept nogil
        int64_t (*ensemble_shape_f)(void* engine, int64_t* n_in, int64_t* n_out, int64_t* members) noexcept nogil
        double (*loss_d)(int kind, double* dpred, const double* pred, const double* target, int64_t B,
                         int64_t N) noexcept nogil
        double (*loss_f)(int kind, float* dpred, const float* pred, const float* target, int64_t B,
                         int64_t N) noexcept nogil
        void (*layernorm_forward_d)(double* out, double* xhat, double* rstd, const double* inp, const double* gamma,
                                    const double* beta, int64_t B, int64_t C, double eps) noexcept nogil
        void (*layernorm_forward_f)(float* out, float* xhat, float* rstd, const float* inp, const float* gamma,
                                    const float* beta, int64_t B, int64_t C, double eps) noexcept nogil
        void (*layernorm_backward_d)(double* dinp, double* dgamma, double* dbeta, const double* dout,
                                     const double* xhat, const double* gamma, const double* rstd, int64_t B,
                                     int64_t C) noexcept nogil
        void (*layernorm_backward_f)(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                                     const float* gamma, const float* rstd, int64_t B, int64_t C) noexcept nogil


cdef const pyvanish_capi* _load() except NULL:
    capsule = _engine.c_api()
    cdef const pyvanish_capi* api = <const pyvanish_capi*>PyCapsule_GetPointer(capsule, PYVANISH_CAPI_NAME)
    if api.version != PYVANISH_CAPI_VERSION or api.size < <int>sizeof(pyvanish_capi):
        raise ImportError(
            f"pyvanish.cython_kernels was built for C API version {PYVANISH_CAPI_VERSION}, "
            f"the compiled core has version {api.version}: reinstall pyvanish"
        )
    if api.n_activations != PV_ACT_COUNT or api.n_stats != PV_ST_COUNT:
        raise ImportError("pyvanish.cython_kernels: activation or statistics tables differ from the core's")
    return api


cdef const pyvanish_capi* _api = _load()

#: The C API version this module was built against (``PYVANISH_CAPI_VERSION``).
CAPI_VERSION = PYVANISH_CAPI_VERSION


# ---------------------------------------------------------------- kernels
cdef double loss_d(int kind, double* dpred, const double* pred, const double* target, int64_t B,
                   int64_t N) noexcept nogil:
    return _api.loss_d(kind, dpred, pred, target, B, N)

cdef double loss_f(int kind, float* dpred, const float* pred, const float* target, int64_t B, int64_t N) noexcept nogil:
    return _api.loss_f(kind, dpred, pred, target, B, N)

cdef void layernorm_forward_d(double* out, double* xhat, double* rstd, const double* inp, const double* gamma,
                              const double* beta, int64_t B, int64_t C, double eps) noexcept nogil:
    _api.layernorm_forward_d(out, xhat, rstd, inp, gamma, beta, B, C, eps)

cdef void layernorm_forward_f(float* out, float* xhat, float* rstd, const float* inp, const float* gamma,
                              const float* beta, int64_t B, int64_t C, double eps) noexcept nogil:
    _api.layernorm_forward_f(out, xhat, rstd, inp, gamma, beta, B, C, eps)

cdef void layernorm_backward_d(double* dinp, double* dgamma, double* dbeta, const double* dout, const double* xhat,
                               const double* gamma, const double* rstd, int64_t B, int64_t C) noexcept nogil:
    _api.layernorm_backward_d(dinp, dgamma, dbeta, dout, xhat, gamma, rstd, B, C)

cdef void layernorm_backward_f(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                               const float* gamma, const float* rstd, int64_t B, int64_t C) noexcept nogil:
    _api.layernorm_backward_f(dinp, dgamma, dbeta, dout, xhat, gamma, rstd, B, C)

cdef void activation_forward_d(int act, double alpha, double* out, const double* inp, int64_t N) noexcept nogil:
    _api.activation_forward_d(act, alpha, out, inp, N)

cdef void activation_forward_f(int act, float alpha, float* out, const float* inp, int64_t N) noexcept nogil:
    _api.activation_forward_f(act, alpha, out, inp, N)

cdef void activation_backward_d(int act, double alpha, double* dinp, const double* dout, const double* inp,
                                const double* out, int64_t N) noexcept nogil:
    _api.activation_backward_d(act, alpha, dinp, dout, inp, out, N)

cdef void activation_backward_f(int act, float alpha, float* dinp, const float* dout, const float* inp,
                                const float* out, int64_t N) noexcept nogil:
    _api.activation_backward_f(act, alpha, dinp, dout, inp, out, N)

cdef void activation_derivative_d(int act, double alpha, double* dphi, const double* inp, const double* out,
                                  int64_t N) noexcept nogil:
    _api.activation_derivative_d(act, alpha, dphi, inp, out, N)

cdef void activation_derivative_f(int act, float alpha, float* dphi, const float* inp, const float* out,
                                  int64_t N) noexcept nogil:
    _api.activation_derivative_f(act, alpha, dphi, inp, out, N)

cdef void dense_forward_d(double* out, const double* inp, const double* weight, const double* bias, int64_t B,
                          int64_t C, int64_t OC) noexcept nogil:
    _api.dense_forward_d(out, inp, weight, bias, B, C, OC)

cdef void dense_forward_f(float* out, const float* inp, const float* weight, const float* bias, int64_t B, int64_t C,
                          int64_t OC) noexcept nogil:
    _api.dense_forward_f(out, inp, weight, bias, B, C, OC)

cdef void dense_backward_d(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                           const double* weight, int64_t B, int64_t C, int64_t OC) noexcept nogil:
    _api.dense_backward_d(dinp, dweight, dbias, dout, inp, weight, B, C, OC)

cdef void dense_backward_f(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                           const float* weight, int64_t B, int64_t C, int64_t OC) noexcept nogil:
    _api.dense_backward_f(dinp, dweight, dbias, dout, inp, weight, B, C, OC)

cdef void dense_act_forward_d(double* z, double* a, const double* inp, const double* weight, const double* bias,
                              int act, double alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil:
    _api.dense_act_forward_d(z, a, inp, weight, bias, act, alpha, B, C, OC)

cdef void dense_act_forward_f(float* z, float* a, const float* inp, const float* weight, const float* bias, int act,
                              float alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil:
    _api.dense_act_forward_f(z, a, inp, weight, bias, act, alpha, B, C, OC)

cdef void dense_act_backward_d(double* dinp, double* dweight, double* dbias, double* dz, const double* dout,
                               const double* inp, const double* weight, const double* z, const double* a, int act,
                               double alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil:
    _api.dense_act_backward_d(dinp, dweight, dbias, dz, dout, inp, weight, z, a, act, alpha, B, C, OC)

cdef void dense_act_backward_f(float* dinp, float* dweight, float* dbias, float* dz, const float* dout,
                               const float* inp, const float* weight, const float* z, const float* a, int act,
                               float alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil:
    _api.dense_act_backward_f(dinp, dweight, dbias, dz, dout, inp, weight, z, a, act, alpha, B, C, OC)

cdef double mse_forward_d(const double* pred, const double* target, int64_t B, int64_t N) noexcept nogil:
    return _api.mse_forward_d(pred, target, B, N)

cdef double mse_forward_f(const float* pred, const float* target, int64_t B, int64_t N) noexcept nogil:
    return _api.mse_forward_f(pred, target, B, N)

cdef void mse_backward_d(double* dpred, const double* pred, const double* target, int64_t B,
                         int64_t N) noexcept nogil:
    _api.mse_backward_d(dpred, pred, target, B, N)

cdef void mse_backward_f(float* dpred, const float* pred, const float* target, int64_t B, int64_t N) noexcept nogil:
    _api.mse_backward_f(dpred, pred, target, B, N)

cdef void batchnorm_forward_d(double* out, double* xhat, double* mean, double* rstd, const double* inp,
                              const double* gamma, const double* beta, int64_t B, int64_t C,
                              double eps) noexcept nogil:
    _api.batchnorm_forward_d(out, xhat, mean, rstd, inp, gamma, beta, B, C, eps)

cdef void batchnorm_forward_f(float* out, float* xhat, float* mean, float* rstd, const float* inp, const float* gamma,
                              const float* beta, int64_t B, int64_t C, double eps) noexcept nogil:
    _api.batchnorm_forward_f(out, xhat, mean, rstd, inp, gamma, beta, B, C, eps)

cdef void batchnorm_backward_d(double* dinp, double* dgamma, double* dbeta, const double* dout, const double* xhat,
                               const double* gamma, const double* rstd, int64_t B, int64_t C) noexcept nogil:
    _api.batchnorm_backward_d(dinp, dgamma, dbeta, dout, xhat, gamma, rstd, B, C)

cdef void batchnorm_backward_f(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                               const float* gamma, const float* rstd, int64_t B, int64_t C) noexcept nogil:
    _api.batchnorm_backward_f(dinp, dgamma, dbeta, dout, xhat, gamma, rstd, B, C)

cdef void residual_forward_d(double* out, const double* skip, const double* inp, double scale,
                             int64_t N) noexcept nogil:
    _api.residual_forward_d(out, skip, inp, scale, N)

cdef void residual_forward_f(float* out, const float* skip, const float* inp, float scale, int64_t N) noexcept nogil:
    _api.residual_forward_f(out, skip, inp, scale, N)

cdef void residual_backward_d(double* dinp, double* dskip, const double* dout, double scale,
                              int64_t N) noexcept nogil:
    _api.residual_backward_d(dinp, dskip, dout, scale, N)

cdef void residual_backward_f(float* dinp, float* dskip, const float* dout, float scale, int64_t N) noexcept nogil:
    _api.residual_backward_f(dinp, dskip, dout, scale, N)

cdef void gemm_d(bint trans_a, bint trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                 int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) noexcept nogil:
    _api.gemm_d(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)

cdef void gemm_f(bint trans_a, bint trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) noexcept nogil:
    _api.gemm_f(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)

# ---------------------------------------------------------------- engines
cdef int network_run_d(void* engine, const double* x, const double* t, int64_t B, double* stats,
                       double* grad_x, double* loss, double* signal_ratio, double* weight_ratio,
                       int* verdict) noexcept nogil:
    return _api.network_run_d(engine, x, t, B, stats, grad_x, loss, signal_ratio, weight_ratio, verdict)


cdef int network_run_f(void* engine, const float* x, const float* t, int64_t B, double* stats,
                       double* grad_x, double* loss, double* signal_ratio, double* weight_ratio,
                       int* verdict) noexcept nogil:
    return _api.network_run_f(engine, x, t, B, stats, grad_x, loss, signal_ratio, weight_ratio, verdict)


cdef int ensemble_run_d(void* engine, const double* x, bint x_per_member, const double* t, bint t_per_member,
                        int64_t B, double* stats, double* grad_x, double* loss, int8_t* verdicts,
                        int threads) noexcept nogil:
    return _api.ensemble_run_d(engine, x, x_per_member, t, t_per_member, B, stats, grad_x, loss, verdicts, threads)


cdef int ensemble_run_f(void* engine, const float* x, bint x_per_member, const float* t, bint t_per_member,
                        int64_t B, double* stats, double* grad_x, double* loss, int8_t* verdicts,
                        int threads) noexcept nogil:
    return _api.ensemble_run_f(engine, x, x_per_member, t, t_per_member, B, stats, grad_x, loss, verdicts, threads)


# ---------------------------------------------------------------- handles (with the GIL)
cdef void* _engine_pointer(object engine, bint* is_double, const char* name64, const char* name32) except NULL:
    capsule = engine._capsule()
    if PyCapsule_IsValid(capsule, name64):
        is_double[0] = True
        return PyCapsule_GetPointer(capsule, name64)
    if PyCapsule_IsValid(capsule, name32):
        is_double[0] = False
        return PyCapsule_GetPointer(capsule, name32)
    raise TypeError(f"expected an engine capsule named {name64.decode()} or {name32.decode()}")


cdef class NetworkHandle:
    def __repr__(self):
        return (f"NetworkHandle(depth={self.depth}, n_in={self.n_in}, n_out={self.n_out}, "
                f"dtype={'float64' if self.is_double else 'float32'})")


cdef class EnsembleHandle:
    def __repr__(self):
        return (f"EnsembleHandle(members={self.members}, depth={self.depth}, n_in={self.n_in}, "
                f"n_out={self.n_out}, dtype={'float64' if self.is_double else 'float32'})")


cdef NetworkHandle network_handle(object net):
    """The engine of ``net`` (a :class:`pyvanish.Network`), for ``network_run_d/_f`` without the GIL.

    Parameters
    ----------
    net : pyvanish.Network
        Kept alive by the handle.

    Returns
    -------
    NetworkHandle
        ``engine`` (the pointer), ``is_double`` (float64: use ``network_run_d``), ``depth``, ``n_in``,
        ``n_out``.

    Raises
    ------
    TypeError
        If ``net`` is not a ``Network``.
    """
    if not isinstance(net, Network):
        raise TypeError(f"network_handle: expected a pyvanish.Network, got {type(net).__name__}")
    cdef NetworkHandle h = NetworkHandle.__new__(NetworkHandle)
    h.network = net
    h._engine = net._engine
    h.engine = _engine_pointer(h._engine, &h.is_double, PYVANISH_NETWORK64_CAPSULE, PYVANISH_NETWORK32_CAPSULE)
    if h.is_double:
        h.depth = _api.network_shape_d(h.engine, &h.n_in, &h.n_out)
    else:
        h.depth = _api.network_shape_f(h.engine, &h.n_in, &h.n_out)
    return h


cdef EnsembleHandle ensemble_handle(object ens):
    """The engine of ``ens`` (a :class:`pyvanish.Ensemble`), for ``ensemble_run_d/_f`` without the GIL.

    Parameters
    ----------
    ens : pyvanish.Ensemble
        Without batch norm (such ensembles run member by member in Python and have no engine). Kept
        alive by the handle.

    Returns
    -------
    EnsembleHandle
        ``engine``, ``is_double``, ``depth``, ``n_in``, ``n_out``, ``members``.

    Raises
    ------
    TypeError
        If ``ens`` is not an ``Ensemble`` or has batch norm.
    """
    if not isinstance(ens, Ensemble):
        raise TypeError(f"ensemble_handle: expected a pyvanish.Ensemble, got {type(ens).__name__}")
    if ens._engine is None:
        raise TypeError("ensemble_handle: an ensemble with batch norm has no ensemble engine (it runs member by "
                        "member); use a network_handle per member")
    cdef EnsembleHandle h = EnsembleHandle.__new__(EnsembleHandle)
    h.ensemble = ens
    h._engine = ens._engine
    h.engine = _engine_pointer(h._engine, &h.is_double, PYVANISH_ENSEMBLE64_CAPSULE, PYVANISH_ENSEMBLE32_CAPSULE)
    if h.is_double:
        h.depth = _api.ensemble_shape_d(h.engine, &h.n_in, &h.n_out, &h.members)
    else:
        h.depth = _api.ensemble_shape_f(h.engine, &h.n_in, &h.n_out, &h.members)
    return h


def _handle_info(obj):
    """``(is_double, depth, n_in, n_out[, members])`` of a Network's or Ensemble's handle (for the tests)."""
    if isinstance(obj, Ensemble):
        e = ensemble_handle(obj)
        return (e.is_double, e.depth, e.n_in, e.n_out, e.members)
    n = network_handle(obj)
    return (n.is_double, n.depth, n.n_in, n.n_out)
