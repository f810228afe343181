/* pyvanish's C API: the kernels and the engines as a table of plain C
 * function pointers, published by the compiled core as the PyCapsule
 * `pyvanish._core._C_API` (capsule name PYVANISH_CAPI_NAME).
 *
 * This header is plain C (C99 and C++), shipped in the installed package
 * (`pyvanish.get_include()`); `pyvanish/cython_kernels.pxd` includes it. The
 * table lives in `_core` itself, so a consumer shares the one copy of the
 * kernels and of their process-wide state (the instruction set chosen by
 * `pyvanish.set_simd_path`, the thread count): nothing to link.
 *
 *   PyObject* core = PyImport_ImportModule("pyvanish._core");
 *   PyObject* cap = PyObject_GetAttrString(core, "_C_API");
 *   const pyvanish_capi* api = PyCapsule_GetPointer(cap, PYVANISH_CAPI_NAME);
 *   if (api->version != PYVANISH_CAPI_VERSION || api->size < sizeof *api) ... refuse
 *
 * Conventions (those of the C++ kernel headers): row-major, batch first, weight
 * (OC, C) like torch.nn.Linear; outputs first, then inputs, then sizes; a
 * comment gives every buffer's shape. Backward kernels overwrite their
 * outputs. `bias` and `dinp` may be NULL (no bias / input gradient not
 * wanted). No function checks its arguments, none raises, none touches
 * Python: all may be called without the GIL. The caller guarantees the
 * preconditions (buffer sizes, B >= 1 where stated, no aliasing of outputs
 * with inputs); an activation code out of range acts as the identity.
 *
 * Version history: 1 -- first table (pyvanish 0.1).
 */
#ifndef PYVANISH_CAPI_H
#define PYVANISH_CAPI_H

#include <stdint.h>

#define PYVANISH_CAPI_VERSION 1
#define PYVANISH_CAPI_NAME "pyvanish._core._C_API"
/* Capsule names of engine pointers (Network64._capsule() and friends). */
#define PYVANISH_NETWORK64_CAPSULE "pyvanish.Network64"
#define PYVANISH_NETWORK32_CAPSULE "pyvanish.Network32"
#define PYVANISH_ENSEMBLE64_CAPSULE "pyvanish.Ensemble64"
#define PYVANISH_ENSEMBLE32_CAPSULE "pyvanish.Ensemble32"

/* Activation codes (pyvanish.ACTIVATIONS order). */
enum pyvanish_act {
  PV_IDENTITY = 0,
  PV_SIGMOID = 1,
  PV_TANH = 2,
  PV_RELU = 3,
  PV_LEAKY_RELU = 4,
  PV_ELU = 5,
  PV_GELU = 6,
  PV_SILU = 7,
  PV_SOFTPLUS = 8,
  PV_ACT_COUNT = 9
};

/* Return codes of the engine calls. */
enum pyvanish_status {
  PV_OK = 0,
  PV_ERR_BUSY = 1,      /* the engine is running in another thread (its lock is taken); nothing written */
  PV_ERR_BATCH = 2,     /* B < 1 */
  PV_ERR_BATCHNORM = 3, /* B == 1 on a network with batch norm in training mode */
  PV_ERR_MEMORY = 4,    /* the workspace for this batch size could not be allocated */
  PV_ERR_NULL = 5,      /* a required pointer (engine, x, t, stats) is NULL */
  PV_ERR_INTERNAL = 6   /* any other C++ exception (a bug in pyvanish) */
};

/* Columns of a statistics row (pyvanish.report's STAT_NAMES order). */
enum pyvanish_stat {
  PV_ST_GRAD_H = 0,       /* |dL/dh_l| (L2 over the whole batch) */
  PV_ST_GRAD_Z = 1,       /* |dL/dz_l| */
  PV_ST_GRAD_W = 2,       /* |dL/dW_l|_F */
  PV_ST_GRAD_B = 3,       /* |dL/db_l| */
  PV_ST_MEAN_DPHI = 4,    /* mean of phi'(z_l) over batch and units */
  PV_ST_SATURATED = 5,    /* fraction of unit-samples with |phi'| <= 0.01 max phi' */
  PV_ST_DEAD = 6,         /* fraction of units with phi' == 0 on every sample */
  PV_ST_NONFINITE_ACT = 7,
  PV_ST_NONFINITE_GRAD = 8,
  PV_ST_TINY_GRAD = 9,    /* entries of dL/dW_l that are exactly 0 or subnormal */
  PV_ST_GRAD_GAMMA = 10,  /* |dL/dgamma_l| (batch-norm layers; NaN elsewhere) */
  PV_ST_GRAD_BETA = 11,
  PV_ST_COUNT = 12
};

/* Loss codes (pyvanish.LOSSES order): see loss_d below. */
enum pyvanish_loss { PV_LOSS_MSE = 0, PV_LOSS_CROSS_ENTROPY = 1, PV_LOSS_BCE = 2, PV_LOSS_COUNT = 3 };

/* Verdict codes (pyvanish._engine.VERDICTS order). */
enum pyvanish_verdict { PV_HEALTHY = 0, PV_VANISHING = 1, PV_EXPLODING = 2, PV_UNDETERMINED = 3 };

typedef struct pyvanish_capi {
  int version;        /* PYVANISH_CAPI_VERSION of the core that filled the table */
  int size;           /* sizeof(pyvanish_capi) there; later versions only append */
  int n_activations;  /* PV_ACT_COUNT */
  int n_stats;        /* PV_ST_COUNT */

  /* ---- activations, by code `act` (enum pyvanish_act); alpha: leaky_relu slope / elu scale */
  /* out (N) = phi(inp (N)) */
  void (*activation_forward_d)(int act, double alpha, double* out, const double* inp, int64_t N);
  void (*activation_forward_f)(int act, float alpha, float* out, const float* inp, int64_t N);
  /* dinp (N) = dout (N) * phi'(inp (N)), given out (N) = phi(inp) */
  void (*activation_backward_d)(int act, double alpha, double* dinp, const double* dout, const double* inp,
                                const double* out, int64_t N);
  void (*activation_backward_f)(int act, float alpha, float* dinp, const float* dout, const float* inp,
                                const float* out, int64_t N);
  /* dphi (N) = phi'(inp (N)), given out (N) = phi(inp) */
  void (*activation_derivative_d)(int act, double alpha, double* dphi, const double* inp, const double* out,
                                  int64_t N);
  void (*activation_derivative_f)(int act, float alpha, float* dphi, const float* inp, const float* out,
                                  int64_t N);

  /* ---- dense layer */
  /* out (B, OC) = inp (B, C) @ weight (OC, C)^T + bias (OC, or NULL) */
  void (*dense_forward_d)(double* out, const double* inp, const double* weight, const double* bias, int64_t B,
                          int64_t C, int64_t OC);
  void (*dense_forward_f)(float* out, const float* inp, const float* weight, const float* bias, int64_t B,
                          int64_t C, int64_t OC);
  /* dinp (B, C, or NULL) = dout (B, OC) @ weight (OC, C); dweight (OC, C) = dout^T @ inp (B, C);
   * dbias (OC) = sum_b dout[b, :] */
  void (*dense_backward_d)(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                           const double* weight, int64_t B, int64_t C, int64_t OC);
  void (*dense_backward_f)(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                           const float* weight, int64_t B, int64_t C, int64_t OC);
  /* z (B, OC) = inp (B, C) @ weight (OC, C)^T + bias (OC, or NULL); a (B, OC) = phi(z) */
  void (*dense_act_forward_d)(double* z, double* a, const double* inp, const double* weight, const double* bias,
                              int act, double alpha, int64_t B, int64_t C, int64_t OC);
  void (*dense_act_forward_f)(float* z, float* a, const float* inp, const float* weight, const float* bias,
                              int act, float alpha, int64_t B, int64_t C, int64_t OC);
  /* dz (B, OC) = dout (B, OC) * phi'(z (B, OC)) given a (B, OC) = phi(z); then dense_backward:
   * dinp (B, C, or NULL), dweight (OC, C), dbias (OC) from dz, inp (B, C), weight (OC, C) */
  void (*dense_act_backward_d)(double* dinp, double* dweight, double* dbias, double* dz, const double* dout,
                               const double* inp, const double* weight, const double* z, const double* a, int act,
                               double alpha, int64_t B, int64_t C, int64_t OC);
  void (*dense_act_backward_f)(float* dinp, float* dweight, float* dbias, float* dz, const float* dout,
                               const float* inp, const float* weight, const float* z, const float* a, int act,
                               float alpha, int64_t B, int64_t C, int64_t OC);

  /* ---- loss: returns 1/(2B) sum (pred - target)^2 over pred, target (B, N), B >= 1, summed in double */
  double (*mse_forward_d)(const double* pred, const double* target, int64_t B, int64_t N);
  double (*mse_forward_f)(const float* pred, const float* target, int64_t B, int64_t N);
  /* dpred (B, N) = (pred (B, N) - target (B, N)) / B */
  void (*mse_backward_d)(double* dpred, const double* pred, const double* target, int64_t B, int64_t N);
  void (*mse_backward_f)(float* dpred, const float* pred, const float* target, int64_t B, int64_t N);

  /* ---- batch normalisation (training mode), B >= 2, eps > 0:
   * out, xhat (B, C); mean, rstd (C) written; inp (B, C); gamma, beta (C) */
  void (*batchnorm_forward_d)(double* out, double* xhat, double* mean, double* rstd, const double* inp,
                              const double* gamma, const double* beta, int64_t B, int64_t C, double eps);
  void (*batchnorm_forward_f)(float* out, float* xhat, float* mean, float* rstd, const float* inp,
                              const float* gamma, const float* beta, int64_t B, int64_t C, double eps);
  /* dinp (B, C), dgamma, dbeta (C) from dout, xhat (B, C), gamma, rstd (C) */
  void (*batchnorm_backward_d)(double* dinp, double* dgamma, double* dbeta, const double* dout,
                               const double* xhat, const double* gamma, const double* rstd, int64_t B, int64_t C);
  void (*batchnorm_backward_f)(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                               const float* gamma, const float* rstd, int64_t B, int64_t C);

  /* ---- residual: out (N) = skip (N) + scale * inp (N); backward: dinp (N) = scale * dout (N),
   * dskip (N) += dout (accumulates: zero it first for the plain gradient) */
  void (*residual_forward_d)(double* out, const double* skip, const double* inp, double scale, int64_t N);
  void (*residual_forward_f)(float* out, const float* skip, const float* inp, float scale, int64_t N);
  void (*residual_backward_d)(double* dinp, double* dskip, const double* dout, double scale, int64_t N);
  void (*residual_backward_f)(float* dinp, float* dskip, const float* dout, float scale, int64_t N);

  /* ---- GEMM: C (M, N) = alpha * op(A) @ op(B) + beta * C, row-major. op(A) is (M, K): A is (M, K) with
   * row stride lda, or (K, M) when trans_a; op(B) is (K, N): B is (K, N) with row stride ldb, or (N, K)
   * when trans_b; C has row stride ldc and aliases neither. beta == 0 never reads C. */
  void (*gemm_d)(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                 int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);
  void (*gemm_f)(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

  /* ---- engines. `engine` is the pointer inside the capsule of Network64/32._capsule() (the _d / _f
   * functions respectively); the Python object owning it must stay alive during the call.
   *
   * network_run: one forward + the network's loss + backward + statistics of a network with L layers, exactly
   * Network.gradient_report's numbers: x (B, n_0), t (B, n_L), B >= 1. Writes stats (L, PV_ST_COUNT)
   * (row l-1 = layer l, columns enum pyvanish_stat), and where not NULL: grad_x = |dL/dx|, loss,
   * signal_ratio = |dL/dh_0| / |dL/dh_L|, weight_ratio = |dL/dW_1| / |dL/dW_L|, verdict (enum
   * pyvanish_verdict). No NaN/Inf check of x and t (NaN/Inf propagate into the counts and the verdict).
   * Takes the network's lock without waiting: PV_ERR_BUSY if another call holds it. Returns PV_OK or
   * an enum pyvanish_status code; on error nothing is written. Batch norm follows the network's
   * `training` flag (training mode updates its running statistics, as gradient_report does). */
  int (*network_run_d)(void* engine, const double* x, const double* t, int64_t B, double* stats,
                       double* grad_x, double* loss, double* signal_ratio, double* weight_ratio, int* verdict);
  int (*network_run_f)(void* engine, const float* x, const float* t, int64_t B, double* stats, double* grad_x,
                       double* loss, double* signal_ratio, double* weight_ratio, int* verdict);
  /* network_shape: depth L, writes n_0 and n_L where not NULL (-1 for a NULL engine) */
  int64_t (*network_shape_d)(void* engine, int64_t* n_in, int64_t* n_out);
  int64_t (*network_shape_f)(void* engine, int64_t* n_in, int64_t* n_out);

  /* ensemble_run: Ensemble.run of E members of L layers. x (B, n_0) shared, or (B, n_0, E) when
   * x_per_member (members innermost; Ensemble.run takes (E, B, n_0)); t (B, n_L) or (B, n_L, E)
   * when t_per_member; B >= 1. Writes stats (E, L,
   * PV_ST_COUNT), grad_x (E), loss (E) and, where not NULL, verdicts (E). threads <= 0: the library's
   * thread count (pyvanish.num_threads()); results do not depend on it. Same return codes. */
  int (*ensemble_run_d)(void* engine, const double* x, int x_per_member, const double* t, int t_per_member,
                        int64_t B, double* stats, double* grad_x, double* loss, int8_t* verdicts, int threads);
  int (*ensemble_run_f)(void* engine, const float* x, int x_per_member, const float* t, int t_per_member,
                        int64_t B, double* stats, double* grad_x, double* loss, int8_t* verdicts, int threads);
  /* ensemble_shape: depth L, writes n_0, n_L and the member count E where not NULL */
  int64_t (*ensemble_shape_d)(void* engine, int64_t* n_in, int64_t* n_out, int64_t* members);
  int64_t (*ensemble_shape_f)(void* engine, int64_t* n_in, int64_t* n_out, int64_t* members);

  /* ---- appended (still version 1; check `size`) ----
   * loss: returns L and writes dpred (B, N) = dL/dpred for pred, target (B, N), B >= 1 (NaN and
   * nothing written for an unknown kind or B < 1). kind: enum pyvanish_loss. PV_LOSS_MSE: 1/(2B)
   * sum (pred - target)^2; PV_LOSS_CROSS_ENTROPY: softmax over the N outputs with the negative
   * log-likelihood of the probability rows target, mean over B; PV_LOSS_BCE: sigmoid with binary
   * cross-entropy, mean over B N. Summed in double; stable for logits of +-1e300. */
  double (*loss_d)(int kind, double* dpred, const double* pred, const double* target, int64_t B, int64_t N);
  double (*loss_f)(int kind, float* dpred, const float* pred, const float* target, int64_t B, int64_t N);
  /* ---- layer normalisation (each row over its C features, biased variance), eps > 0:
   * out, xhat (B, C); rstd (B) written; inp (B, C); gamma, beta (C). Backward:
   * dinp (B, C), dgamma, dbeta (C) from dout, xhat (B, C), gamma (C), rstd (B). */
  void (*layernorm_forward_d)(double* out, double* xhat, double* rstd, const double* inp, const double* gamma,
                              const double* beta, int64_t B, int64_t C, double eps);
  void (*layernorm_forward_f)(float* out, float* xhat, float* rstd, const float* inp, const float* gamma,
                              const float* beta, int64_t B, int64_t C, double eps);
  void (*layernorm_backward_d)(double* dinp, double* dgamma, double* dbeta, const double* dout,
                               const double* xhat, const double* gamma, const double* rstd, int64_t B, int64_t C);
  void (*layernorm_backward_f)(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                               const float* gamma, const float* rstd, int64_t B, int64_t C);
} pyvanish_capi;

#endif /* PYVANISH_CAPI_H */
