# cython: language_level=3
"""pyvanish's kernels and engines for Cython: ``noexcept nogil`` functions on raw pointers.

Use from a Cython module (no link step; ``pyvanish.get_include()`` on the C include path)::

    from pyvanish.cython_kernels cimport dense_forward_d, network_handle, NetworkHandle, network_run_d

Every function calls through the table ``pyvanish._core._C_API`` (``pyvanish_capi.h``), so the
instruction set (``pyvanish.set_simd_path``) and thread count are the library's. Conventions (those of
the C++ kernels): row-major, batch first, a weight is ``(OC, C)`` like ``torch.nn.Linear``; outputs
first, then inputs, then sizes. Backward kernels overwrite their outputs; ``bias`` and ``dinp`` may be
NULL. Nothing is checked: the caller guarantees the buffer sizes below (``_d``: double, ``_f``: float),
B >= 1 where stated, and that outputs alias no input. An activation code (``PV_SIGMOID`` ...,
``pyvanish.ACTIVATIONS`` order) out of range acts as the identity; ``alpha`` is the leaky-ReLU slope /
ELU scale (ignored by the others).
"""

from libc.stdint cimport int8_t, int64_t


cdef extern from "pyvanish_capi.h":
    enum:
        PYVANISH_CAPI_VERSION
    # activation codes
    enum:
        PV_IDENTITY
        PV_SIGMOID
        PV_TANH
        PV_RELU
        PV_LEAKY_RELU
        PV_ELU
        PV_GELU
        PV_SILU
        PV_SOFTPLUS
        PV_ACT_COUNT
    # engine status codes
    enum:
        PV_OK
        PV_ERR_BUSY
        PV_ERR_BATCH
        PV_ERR_BATCHNORM
        PV_ERR_MEMORY
        PV_ERR_NULL
        PV_ERR_INTERNAL
    # statistics columns (GradientReport.stats / pyvanish.report STAT_NAMES order)
    enum:
        PV_ST_GRAD_H
        PV_ST_GRAD_Z
        PV_ST_GRAD_W
        PV_ST_GRAD_B
        PV_ST_MEAN_DPHI
        PV_ST_SATURATED
        PV_ST_DEAD
        PV_ST_NONFINITE_ACT
        PV_ST_NONFINITE_GRAD
        PV_ST_TINY_GRAD
        PV_ST_GRAD_GAMMA
        PV_ST_GRAD_BETA
        PV_ST_COUNT
    # verdict codes ("healthy", "vanishing", "exploding", "undetermined")
    enum:
        PV_HEALTHY
        PV_VANISHING
        PV_EXPLODING
        PV_UNDETERMINED

# ---------------------------------------------------------------- activations
# out (N) = phi(inp (N))
cdef void activation_forward_d(int act, double alpha, double* out, const double* inp, int64_t N) noexcept nogil
cdef void activation_forward_f(int act, float alpha, float* out, const float* inp, int64_t N) noexcept nogil
# dinp (N) = dout (N) * phi'(inp (N)), given out (N) = phi(inp)
cdef void activation_backward_d(int act, double alpha, double* dinp, const double* dout, const double* inp,
                                const double* out, int64_t N) noexcept nogil
cdef void activation_backward_f(int act, float alpha, float* dinp, const float* dout, const float* inp,
                                const float* out, int64_t N) noexcept nogil
# dphi (N) = phi'(inp (N)), given out (N) = phi(inp)
cdef void activation_derivative_d(int act, double alpha, double* dphi, const double* inp, const double* out,
                                  int64_t N) noexcept nogil
cdef void activation_derivative_f(int act, float alpha, float* dphi, const float* inp, const float* out,
                                  int64_t N) noexcept nogil

# ---------------------------------------------------------------- dense layer
# out (B, OC) = inp (B, C) @ weight (OC, C)^T + bias (OC, or NULL)
cdef void dense_forward_d(double* out, const double* inp, const double* weight, const double* bias,
                          int64_t B, int64_t C, int64_t OC) noexcept nogil
cdef void dense_forward_f(float* out, const float* inp, const float* weight, const float* bias,
                          int64_t B, int64_t C, int64_t OC) noexcept nogil
# dinp (B, C, or NULL) = dout (B, OC) @ weight (OC, C); dweight (OC, C) = dout^T @ inp (B, C);
# dbias (OC) = column sums of dout
cdef void dense_backward_d(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                           const double* weight, int64_t B, int64_t C, int64_t OC) noexcept nogil
cdef void dense_backward_f(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                           const float* weight, int64_t B, int64_t C, int64_t OC) noexcept nogil
# z (B, OC) = inp (B, C) @ weight (OC, C)^T + bias (OC, or NULL); a (B, OC) = phi(z)
cdef void dense_act_forward_d(double* z, double* a, const double* inp, const double* weight, const double* bias,
                              int act, double alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil
cdef void dense_act_forward_f(float* z, float* a, const float* inp, const float* weight, const float* bias,
                              int act, float alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil
# dz (B, OC) = dout (B, OC) * phi'(z (B, OC)) given a (B, OC) = phi(z); then from dz, inp (B, C) and
# weight (OC, C) as dense_backward: dinp (B, C, or NULL), dweight (OC, C), dbias (OC)
cdef void dense_act_backward_d(double* dinp, double* dweight, double* dbias, double* dz, const double* dout,
                               const double* inp, const double* weight, const double* z, const double* a,
                               int act, double alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil
cdef void dense_act_backward_f(float* dinp, float* dweight, float* dbias, float* dz, const float* dout,
                               const float* inp, const float* weight, const float* z, const float* a,
                               int act, float alpha, int64_t B, int64_t C, int64_t OC) noexcept nogil

# ---------------------------------------------------------------- MSE loss
# returns 1/(2B) sum (pred - target)^2 over pred, target (B, N); B >= 1; summed in double
cdef double mse_forward_d(const double* pred, const double* target, int64_t B, int64_t N) noexcept nogil
cdef double mse_forward_f(const float* pred, const float* target, int64_t B, int64_t N) noexcept nogil
# dpred (B, N) = (pred (B, N) - target (B, N)) / B
cdef void mse_backward_d(double* dpred, const double* pred, const double* target, int64_t B, int64_t N) noexcept nogil
cdef void mse_backward_f(float* dpred, const float* pred, const float* target, int64_t B, int64_t N) noexcept nogil

# ---------------------------------------------------------------- any loss (kind: pyvanish.LOSSES order,
# 0 mse, 1 cross_entropy, 2 bce): returns L, writes dpred (B, N) = dL/dpred; NaN for an unknown kind or B < 1
cdef double loss_d(int kind, double* dpred, const double* pred, const double* target, int64_t B,
                   int64_t N) noexcept nogil
cdef double loss_f(int kind, float* dpred, const float* pred, const float* target, int64_t B, int64_t N) noexcept nogil

# ---------------------------------------------------------------- layer normalisation
# eps > 0: out, xhat (B, C); rstd (B) written; inp (B, C); gamma, beta (C)
cdef void layernorm_forward_d(double* out, double* xhat, double* rstd, const double* inp, const double* gamma,
                              const double* beta, int64_t B, int64_t C, double eps) noexcept nogil
cdef void layernorm_forward_f(float* out, float* xhat, float* rstd, const float* inp, const float* gamma,
                              const float* beta, int64_t B, int64_t C, double eps) noexcept nogil
# dinp (B, C), dgamma, dbeta (C); dout, xhat (B, C); gamma (C); rstd (B)
cdef void layernorm_backward_d(double* dinp, double* dgamma, double* dbeta, const double* dout, const double* xhat,
                               const double* gamma, const double* rstd, int64_t B, int64_t C) noexcept nogil
cdef void layernorm_backward_f(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                               const float* gamma, const float* rstd, int64_t B, int64_t C) noexcept nogil

# ---------------------------------------------------------------- batch normalisation (training mode)
# B >= 2, eps > 0: out, xhat (B, C); mean, rstd (C) written; inp (B, C); gamma, beta (C)
cdef void batchnorm_forward_d(double* out, double* xhat, double* mean, double* rstd, const double* inp,
                              const double* gamma, const double* beta, int64_t B, int64_t C,
                              double eps) noexcept nogil
cdef void batchnorm_forward_f(float* out, float* xhat, float* mean, float* rstd, const float* inp,
                              const float* gamma, const float* beta, int64_t B, int64_t C,
                              double eps) noexcept nogil
# dinp (B, C), dgamma, dbeta (C) from dout, xhat (B, C) and gamma, rstd (C)
cdef void batchnorm_backward_d(double* dinp, double* dgamma, double* dbeta, const double* dout,
                               const double* xhat, const double* gamma, const double* rstd,
                               int64_t B, int64_t C) noexcept nogil
cdef void batchnorm_backward_f(float* dinp, float* dgamma, float* dbeta, const float* dout,
                               const float* xhat, const float* gamma, const float* rstd,
                               int64_t B, int64_t C) noexcept nogil

# ---------------------------------------------------------------- residual connection
# out (N) = skip (N) + scale * inp (N)
cdef void residual_forward_d(double* out, const double* skip, const double* inp, double scale,
                             int64_t N) noexcept nogil
cdef void residual_forward_f(float* out, const float* skip, const float* inp, float scale,
                             int64_t N) noexcept nogil
# dinp (N) = scale * dout (N); dskip (N) += dout (accumulates: zero it first for the plain gradient)
cdef void residual_backward_d(double* dinp, double* dskip, const double* dout, double scale,
                              int64_t N) noexcept nogil
cdef void residual_backward_f(float* dinp, float* dskip, const float* dout, float scale,
                              int64_t N) noexcept nogil

# ---------------------------------------------------------------- GEMM
# C (M, N) = alpha * op(A) @ op(B) + beta * C, row-major. op(A) (M, K): A is (M, K) with row stride lda,
# or (K, M) when trans_a; op(B) (K, N): B is (K, N) with row stride ldb, or (N, K) when trans_b; C has row
# stride ldc and aliases neither. beta == 0 never reads C.
cdef void gemm_d(bint trans_a, bint trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                 int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) noexcept nogil
cdef void gemm_f(bint trans_a, bint trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) noexcept nogil

# ---------------------------------------------------------------- engines
cdef class NetworkHandle:
    """A Python ``Network``'s engine for nogil calls; made by :func:`network_handle` with the GIL.

    ``engine`` goes to ``network_run_d`` (``is_double``) or ``network_run_f``; the handle keeps the
    network alive: hold the handle while any call may use ``engine``. A statistics buffer is
    ``depth * PV_ST_COUNT`` doubles: row ``l - 1`` is layer ``l``, columns ``PV_ST_*`` (the columns of
    ``GradientReport.stats``).
    """
    cdef readonly object network
    cdef object _engine
    cdef void* engine
    cdef readonly bint is_double
    cdef readonly int64_t depth, n_in, n_out


cdef class EnsembleHandle:
    """A Python ``Ensemble``'s engine for nogil calls; made by :func:`ensemble_handle` with the GIL.

    A statistics buffer is ``members * depth * PV_ST_COUNT`` doubles, (E, L, PV_ST_COUNT) row-major
    (``EnsembleReport.stats``).
    """
    cdef readonly object ensemble
    cdef object _engine
    cdef void* engine
    cdef readonly bint is_double
    cdef readonly int64_t depth, n_in, n_out, members


# The engine of a pyvanish.Network (TypeError for anything else).
cdef NetworkHandle network_handle(object net)
# The engine of a pyvanish.Ensemble without batch norm (those run member by member in Python: TypeError).
cdef EnsembleHandle ensemble_handle(object ens)

# One forward + loss + backward + statistics, Network.gradient_report's numbers bit for bit.
# engine: NetworkHandle.engine (a float64 network for _d, float32 for _f); x (B, n_in), t (B, n_out),
# B >= 1. Writes stats (depth, PV_ST_COUNT) and, where not NULL, grad_x = |dL/dx|, loss,
# signal_ratio = |dL/dh_0| / |dL/dh_L|, weight_ratio = |dL/dW_1| / |dL/dW_L|, verdict (PV_HEALTHY ...).
# No NaN/Inf check of x, t. Returns PV_OK, or PV_ERR_BUSY (the network is running in another thread: use
# one network per thread), PV_ERR_BATCH (B < 1), PV_ERR_BATCHNORM (B == 1, batch norm in training mode),
# PV_ERR_MEMORY, PV_ERR_NULL, PV_ERR_INTERNAL; nothing written on error.
cdef int network_run_d(void* engine, const double* x, const double* t, int64_t B, double* stats,
                       double* grad_x, double* loss, double* signal_ratio, double* weight_ratio,
                       int* verdict) noexcept nogil
cdef int network_run_f(void* engine, const float* x, const float* t, int64_t B, double* stats,
                       double* grad_x, double* loss, double* signal_ratio, double* weight_ratio,
                       int* verdict) noexcept nogil

# Ensemble.run: x (B, n_in) shared, or (B, n_in, E) if x_per_member; t (B, n_out) or (B, n_out, E) if
# t_per_member (members innermost, the engine's layout; Ensemble.run takes them members first); B >= 1.
# Writes stats (E, depth, PV_ST_COUNT), grad_x (E), loss (E) and, where not NULL,
# verdicts (E). threads <= 0: pyvanish.num_threads() (results do not depend on it). Codes as above.
cdef int ensemble_run_d(void* engine, const double* x, bint x_per_member, const double* t, bint t_per_member,
                        int64_t B, double* stats, double* grad_x, double* loss, int8_t* verdicts,
                        int threads) noexcept nogil
cdef int ensemble_run_f(void* engine, const float* x, bint x_per_member, const float* t, bint t_per_member,
                        int64_t B, double* stats, double* grad_x, double* loss, int8_t* verdicts,
                        int threads) noexcept nogil
