# cython: language_level=3, boundscheck=False, wraparound=False
"""Monte Carlo over random tutorial networks with pyvanish's nogil kernels.

The tutorial network is 1-1-1-1-1 with sigmoid everywhere (pyvanish's seed
network): x -> sigmoid(W_1 x + b_1) -> ... -> y = h_4, loss (y - t)^2 / 2.
For each network, four fused dense+sigmoid forwards, the MSE gradient and
four fused backwards give dL/dW_1 .. dL/dW_4; the ratio |dL/dW_1| / |dL/dW_4|
measures how much the gradient vanished on its way back. No Python, no GIL:
the loop over networks is a prange.
"""
from cython.parallel cimport prange
from libc.math cimport fabs
from libc.stdint cimport int64_t

from pyvanish.cython_kernels cimport PV_SIGMOID, dense_act_backward_d, dense_act_forward_d, dense_forward_d, mse_backward_d


cdef double weight_ratio(const double* W, const double* b, double x, double t) noexcept nogil:
    """|dL/dW_1| / |dL/dW_4| of one tutorial network: W (4), b (4)."""
    cdef double h[5]
    cdef double z[4]
    cdef double dh[5]
    cdef double dz[4]
    cdef double dW[4]
    cdef double db[4]
    cdef double target = t
    cdef int l
    h[0] = x
    for l in range(4):
        dense_act_forward_d(&z[l], &h[l + 1], &h[l], &W[l], &b[l], PV_SIGMOID, 0.0, 1, 1, 1)
    mse_backward_d(&dh[4], &h[4], &target, 1, 1)
    for l in range(3, -1, -1):
        dense_act_backward_d(&dh[l], &dW[l], &db[l], &dz[l], &dh[l + 1], &h[l], &W[l], &z[l], &h[l + 1],
                             PV_SIGMOID, 0.0, 1, 1, 1)
    return fabs(dW[0]) / fabs(dW[3])


def weight_ratios(const double[:, ::1] W, const double[:, ::1] b, double x, double t, double[::1] out,
                  int threads=1):
    """out[i] = |dL/dW_1| / |dL/dW_4| of network i, with weights W[i] and biases b[i] (n, 4)."""
    cdef Py_ssize_t n = W.shape[0], i
    if W.shape[1] != 4 or b.shape[0] != n or b.shape[1] != 4 or out.shape[0] != n:
        raise ValueError("W and b must be (n, 4), out (n,)")
    if n == 0:
        return
    if threads == 1:
        with nogil:
            for i in range(n):
                out[i] = weight_ratio(&W[i, 0], &b[i, 0], x, t)
    else:
        for i in prange(n, nogil=True, num_threads=threads, schedule="static"):
            out[i] = weight_ratio(&W[i, 0], &b[i, 0], x, t)


def dense_forward_calls(int64_t n):
    """n calls of a width-1 dense_forward_d (the per-call cost of a tiny kernel); returns the last output."""
    cdef double out = 0.0, inp = 0.5, w = 2.0, bias = 0.25
    cdef int64_t i
    with nogil:
        for i in range(n):
            inp = out * 1e-3 + 0.5  # a dependency chain: no call can be skipped or hoisted
            dense_forward_d(&out, &inp, &w, &bias, 1, 1, 1)
    return out
