"""Input-output Jacobian spectra: dynamical isometry (Pennington et al. 2017).

A network is dynamically isometric when every singular value of its
input-output Jacobian ``J = dy/dx`` is close to 1: then the gradient is
neither shrunk nor stretched in any direction, not just on average.
Mean-field theory fixes only the mean squared singular value (``chi1^L``);
the spread depends on the weights: orthogonal weights with tanh at
criticality give a narrow spectrum, Gaussian weights a wide one, and ReLU
networks cannot be isometric at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class JacobianSpectrum:
    """Singular values of the per-sample Jacobians ``dy/dx`` of a batch.

    Attributes
    ----------
    singular_values : ndarray (B, min(n_L, n_0))
        Per sample, in descending order.

    The summary pools every singular value of the batch: ``mean_squared``
    (the mean of ``s**2``, mean-field's ``chi1^L``), ``max``, ``min``,
    ``condition`` (``max / min``) and ``normalised_variance``
    (``Var(s**2) / mean(s**2)**2``: 0 for a perfectly isometric network).
    """

    singular_values: np.ndarray

    @property
    def mean_squared(self) -> float:
        return float(np.mean(self.singular_values.astype(np.float64) ** 2))

    @property
    def max(self) -> float:
        return float(np.max(self.singular_values))

    @property
    def min(self) -> float:
        return float(np.min(self.singular_values))

    @property
    def condition(self) -> float:
        mn = self.min
        return float("inf") if mn == 0 else self.max / mn

    @property
    def normalised_variance(self) -> float:
        s2 = self.singular_values.astype(np.float64).ravel() ** 2
        m = s2.mean()
        return float(s2.var() / (m * m)) if m > 0 else float("nan")

    def to_dict(self) -> dict:
        return {
            "mean_squared": self.mean_squared,
            "max": self.max,
            "min": self.min,
            "condition": self.condition,
            "normalised_variance": self.normalised_variance,
            "samples": int(self.singular_values.shape[0]),
        }

    def __str__(self) -> str:
        return (
            f"Jacobian spectrum over {self.singular_values.shape[0]} samples, "
            f"{self.singular_values.shape[1]} singular values each: mean s^2 = {self.mean_squared:.4g}, "
            f"max {self.max:.4g}, min {self.min:.4g}, condition {self.condition:.4g}, "
            f"normalised variance of s^2 {self.normalised_variance:.4g}"
        )


def spectrum_of(J: np.ndarray) -> JacobianSpectrum:
    """The :class:`JacobianSpectrum` of a stack of Jacobians (B, n_L, n_0).

    Examples
    --------
    >>> import numpy as np
    >>> spectrum_of(np.stack([np.diag([2.0, 0.5])])).condition
    4.0
    """
    s = np.linalg.svd(np.asarray(J, dtype=np.float64), compute_uv=False)
    s.flags.writeable = False
    return JacobianSpectrum(s)
