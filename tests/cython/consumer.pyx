# cython: language_level=3, boundscheck=False, wraparound=False
# distutils: language = c
"""A consumer of pyvanish.cython_kernels, compiled at test time (tests/test_cython.py).

Every exported function in both dtypes behind a fused-type ``def`` wrapper on flat
C-contiguous buffers (sizes passed explicitly, as a C caller would), the engines,
and a ``prange`` loop over several networks without the GIL.
"""
from cython.parallel cimport prange
from libc.stdint cimport int8_t, int64_t
from libc.stdlib cimport free, malloc

from pyvanish.cython_kernels cimport (
    PV_ST_COUNT, PV_ST_GRAD_W, PV_OK, PV_SIGMOID, PV_ACT_COUNT,
    activation_forward_d, activation_forward_f, activation_backward_d, activation_backward_f,
    activation_derivative_d, activation_derivative_f,
    dense_forward_d, dense_forward_f, dense_backward_d, dense_backward_f,
    dense_act_forward_d, dense_act_forward_f, dense_act_backward_d, dense_act_backward_f,
    mse_forward_d, mse_forward_f, mse_backward_d, mse_backward_f, loss_d, loss_f,
    layernorm_forward_d, layernorm_forward_f, layernorm_backward_d, layernorm_backward_f,
    batchnorm_forward_d, batchnorm_forward_f, batchnorm_backward_d, batchnorm_backward_f,
    residual_forward_d, residual_forward_f, residual_backward_d, residual_backward_f,
    gemm_d, gemm_f,
    NetworkHandle, EnsembleHandle, network_handle, ensemble_handle,
    network_run_d, network_run_f, ensemble_run_d, ensemble_run_f,
)

ctypedef fused real:
    float
    double

CONSTANTS = {"PV_ST_COUNT": PV_ST_COUNT, "PV_SIGMOID": PV_SIGMOID, "PV_ACT_COUNT": PV_ACT_COUNT}


def activation_forward(int act, double alpha, real[::1] out, real[::1] inp):
    if real is double:
        activation_forward_d(act, alpha, &out[0], &inp[0], inp.shape[0])
    else:
        activation_forward_f(act, <float>alpha, &out[0], &inp[0], inp.shape[0])


def activation_backward(int act, double alpha, real[::1] dinp, real[::1] dout, real[::1] inp, real[::1] out):
    if real is double:
        activation_backward_d(act, alpha, &dinp[0], &dout[0], &inp[0], &out[0], inp.shape[0])
    else:
        activation_backward_f(act, <float>alpha, &dinp[0], &dout[0], &inp[0], &out[0], inp.shape[0])


def activation_derivative(int act, double alpha, real[::1] dphi, real[::1] inp, real[::1] out):
    if real is double:
        activation_derivative_d(act, alpha, &dphi[0], &inp[0], &out[0], inp.shape[0])
    else:
        activation_derivative_f(act, <float>alpha, &dphi[0], &inp[0], &out[0], inp.shape[0])


def dense_forward(real[::1] out, real[::1] inp, real[::1] weight, real[::1] bias, int64_t B, int64_t C, int64_t OC):
    cdef real* b = &bias[0] if bias.shape[0] else NULL
    if real is double:
        dense_forward_d(&out[0], &inp[0], &weight[0], b, B, C, OC)
    else:
        dense_forward_f(&out[0], &inp[0], &weight[0], b, B, C, OC)


def dense_backward(real[::1] dinp, real[::1] dweight, real[::1] dbias, real[::1] dout, real[::1] inp,
                   real[::1] weight, int64_t B, int64_t C, int64_t OC):
    cdef real* di = &dinp[0] if dinp.shape[0] else NULL
    if real is double:
        dense_backward_d(di, &dweight[0], &dbias[0], &dout[0], &inp[0], &weight[0], B, C, OC)
    else:
        dense_backward_f(di, &dweight[0], &dbias[0], &dout[0], &inp[0], &weight[0], B, C, OC)


def dense_act_forward(real[::1] z, real[::1] a, real[::1] inp, real[::1] weight, real[::1] bias, int act,
                      double alpha, int64_t B, int64_t C, int64_t OC):
    if real is double:
        dense_act_forward_d(&z[0], &a[0], &inp[0], &weight[0], &bias[0], act, alpha, B, C, OC)
    else:
        dense_act_forward_f(&z[0], &a[0], &inp[0], &weight[0], &bias[0], act, <float>alpha, B, C, OC)


def dense_act_backward(real[::1] dinp, real[::1] dweight, real[::1] dbias, real[::1] dz, real[::1] dout,
                       real[::1] inp, real[::1] weight, real[::1] z, real[::1] a, int act, double alpha,
                       int64_t B, int64_t C, int64_t OC):
    if real is double:
        dense_act_backward_d(&dinp[0], &dweight[0], &dbias[0], &dz[0], &dout[0], &inp[0], &weight[0], &z[0],
                             &a[0], act, alpha, B, C, OC)
    else:
        dense_act_backward_f(&dinp[0], &dweight[0], &dbias[0], &dz[0], &dout[0], &inp[0], &weight[0], &z[0],
                             &a[0], act, <float>alpha, B, C, OC)


def mse_forward(real[::1] pred, real[::1] target, int64_t B, int64_t N):
    if real is double:
        return mse_forward_d(&pred[0], &target[0], B, N)
    else:
        return mse_forward_f(&pred[0], &target[0], B, N)


def mse_backward(real[::1] dpred, real[::1] pred, real[::1] target, int64_t B, int64_t N):
    if real is double:
        mse_backward_d(&dpred[0], &pred[0], &target[0], B, N)
    else:
        mse_backward_f(&dpred[0], &pred[0], &target[0], B, N)


def loss(int kind, real[::1] dpred, real[::1] pred, real[::1] target, int64_t B, int64_t N):
    if real is double:
        return loss_d(kind, &dpred[0], &pred[0], &target[0], B, N)
    else:
        return loss_f(kind, &dpred[0], &pred[0], &target[0], B, N)


def layernorm(real[::1] out, real[::1] xhat, real[::1] rstd, real[::1] inp, real[::1] gamma, real[::1] beta,
              int64_t B, int64_t C, double eps, real[::1] dinp, real[::1] dgamma, real[::1] dbeta, real[::1] dout):
    """Forward, then backward of dout."""
    if real is double:
        layernorm_forward_d(&out[0], &xhat[0], &rstd[0], &inp[0], &gamma[0], &beta[0], B, C, eps)
        layernorm_backward_d(&dinp[0], &dgamma[0], &dbeta[0], &dout[0], &xhat[0], &gamma[0], &rstd[0], B, C)
    else:
        layernorm_forward_f(&out[0], &xhat[0], &rstd[0], &inp[0], &gamma[0], &beta[0], B, C, eps)
        layernorm_backward_f(&dinp[0], &dgamma[0], &dbeta[0], &dout[0], &xhat[0], &gamma[0], &rstd[0], B, C)


def batchnorm_forward(real[::1] out, real[::1] xhat, real[::1] mean, real[::1] rstd, real[::1] inp,
                      real[::1] gamma, real[::1] beta, int64_t B, int64_t C, double eps):
    if real is double:
        batchnorm_forward_d(&out[0], &xhat[0], &mean[0], &rstd[0], &inp[0], &gamma[0], &beta[0], B, C, eps)
    else:
        batchnorm_forward_f(&out[0], &xhat[0], &mean[0], &rstd[0], &inp[0], &gamma[0], &beta[0], B, C, eps)


def batchnorm_backward(real[::1] dinp, real[::1] dgamma, real[::1] dbeta, real[::1] dout, real[::1] xhat,
                       real[::1] gamma, real[::1] rstd, int64_t B, int64_t C):
    if real is double:
        batchnorm_backward_d(&dinp[0], &dgamma[0], &dbeta[0], &dout[0], &xhat[0], &gamma[0], &rstd[0], B, C)
    else:
        batchnorm_backward_f(&dinp[0], &dgamma[0], &dbeta[0], &dout[0], &xhat[0], &gamma[0], &rstd[0], B, C)


def residual_forward(real[::1] out, real[::1] skip, real[::1] inp, double scale):
    if real is double:
        residual_forward_d(&out[0], &skip[0], &inp[0], scale, inp.shape[0])
    else:
        residual_forward_f(&out[0], &skip[0], &inp[0], <float>scale, inp.shape[0])


def residual_backward(real[::1] dinp, real[::1] dskip, real[::1] dout, double scale):
    if real is double:
        residual_backward_d(&dinp[0], &dskip[0], &dout[0], scale, dout.shape[0])
    else:
        residual_backward_f(&dinp[0], &dskip[0], &dout[0], <float>scale, dout.shape[0])


def gemm(bint ta, bint tb, int64_t M, int64_t N, int64_t K, double alpha, real[::1] A, int64_t lda,
         real[::1] B, int64_t ldb, double beta, real[::1] C, int64_t ldc):
    if real is double:
        gemm_d(ta, tb, M, N, K, alpha, &A[0], lda, &B[0], ldb, beta, &C[0], ldc)
    else:
        gemm_f(ta, tb, M, N, K, <float>alpha, &A[0], lda, &B[0], ldb, <float>beta, &C[0], ldc)


def network_run(net, real[::1] x, real[::1] t, int64_t B, double[::1] stats):
    """(status, loss, grad_x, signal_ratio, weight_ratio, verdict) of one engine call without the GIL."""
    cdef NetworkHandle h = network_handle(net)
    cdef double loss = 0, gx = 0, sr = 0, wr = 0
    cdef int verdict = -1, rc
    if real is double:
        if not h.is_double:
            raise TypeError("a float32 engine given float64 buffers")
    else:
        if h.is_double:
            raise TypeError("a float64 engine given float32 buffers")
    with nogil:
        if real is double:
            rc = network_run_d(h.engine, &x[0], &t[0], B, &stats[0], &gx, &loss, &sr, &wr, &verdict)
        else:
            rc = network_run_f(h.engine, &x[0], &t[0], B, &stats[0], &gx, &loss, &sr, &wr, &verdict)
    return rc, loss, gx, sr, wr, verdict


def network_run_nulls(net, double[::1] x, double[::1] t, int64_t B, double[::1] stats):
    """The optional outputs may be NULL."""
    cdef NetworkHandle h = network_handle(net)
    return network_run_d(h.engine, &x[0], &t[0], B, &stats[0], NULL, NULL, NULL, NULL, NULL)


def ensemble_run(ens, real[::1] x, bint xpm, real[::1] t, bint tpm, int64_t B, double[::1] stats,
                 double[::1] grad_x, double[::1] loss, int8_t[::1] verdicts, int threads):
    cdef EnsembleHandle h = ensemble_handle(ens)
    cdef int rc
    if real is double:
        if not h.is_double:
            raise TypeError("a float32 engine given float64 buffers")
    else:
        if h.is_double:
            raise TypeError("a float64 engine given float32 buffers")
    with nogil:
        if real is double:
            rc = ensemble_run_d(h.engine, &x[0], xpm, &t[0], tpm, B, &stats[0], &grad_x[0], &loss[0], &verdicts[0],
                                threads)
        else:
            rc = ensemble_run_f(h.engine, &x[0], xpm, &t[0], tpm, B, &stats[0], &grad_x[0], &loss[0], &verdicts[0],
                                threads)
    return rc


def handle_info(obj):
    """(is_double, depth, n_in, n_out) of a network's handle."""
    cdef NetworkHandle h = network_handle(obj)
    return h.is_double, h.depth, h.n_in, h.n_out


def many_networks(list nets, double[:, ::1] x, double[:, ::1] t, double[:, :, ::1] stats, double[::1] loss,
                  int[::1] status):
    """One engine call per network, in a prange loop without the GIL (networks of one architecture)."""
    cdef Py_ssize_t n = len(nets), i
    cdef void** engines = <void**>malloc(n * sizeof(void*))
    handles = [network_handle(net) for net in nets]  # keeps every network alive during the loop
    cdef NetworkHandle h
    for i in range(n):
        h = handles[i]
        engines[i] = h.engine
    cdef int64_t B = x.shape[0]
    try:
        for i in prange(n, nogil=True, schedule="static"):
            status[i] = network_run_d(engines[i], &x[0, 0], &t[0, 0], B, &stats[i, 0, 0], NULL, &loss[i], NULL,
                                      NULL, NULL)
    finally:
        free(engines)


def dense_forward_loop(int64_t n):
    """n calls of a width-1 dense_forward_d without the GIL; returns the last output (for timing)."""
    cdef double out = 0.0, inp = 0.5, w = 2.0, b = 0.25
    cdef int64_t i
    with nogil:
        for i in range(n):
            inp = inp * 0.5 + 0.25
            dense_forward_d(&out, &inp, &w, &b, 1, 1, 1)
    return out
