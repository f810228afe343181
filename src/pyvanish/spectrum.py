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

import warnings
from dataclasses import dataclass

import numpy as np

from . import _html


@dataclass(frozen=True)
class JacobianSpectrum:
    """Singular values of the per-sample Jacobians ``dy/dx`` of a batch.

    Attributes
    ----------
    singular_values : ndarray (B, min(n_L, n_0))
        Per sample, in descending order; NaN for a sample whose Jacobian is
        not finite (NaN/Inf produced by the network, ``check_finite=False``).
    tolerance : ndarray (B,)
        Per sample, the SVD's precision: ``max(n_L, n_0) * eps * s_max`` with
        ``eps`` of the Jacobian's dtype. Smaller singular values are rounding
        noise, not measurements (a deep Gaussian network's smallest ones fall
        there).

    The summary pools every singular value of the batch: ``mean_squared``
    (the mean of ``s**2``, mean-field's ``chi1^L``), ``max``, ``min``,
    ``condition`` (``max / min``) and ``normalised_variance``
    (``Var(s**2) / mean(s**2)**2``: 0 for a perfectly isometric network).
    When ``below_precision > 0`` some singular values are below the SVD's
    precision: ``min`` is NaN (not measured; ``min_measured`` is the smallest
    one that is) and ``condition`` is a lower bound (``max`` over the largest
    such tolerance; ``condition_is_lower_bound`` is True).
    """

    singular_values: np.ndarray
    tolerance: np.ndarray | None = None

    def _tol(self) -> np.ndarray:
        s = self.singular_values
        if self.tolerance is not None:
            return np.asarray(self.tolerance, dtype=np.float64)
        top = s[:, 0] if s.ndim == 2 and s.shape[1] else np.zeros(s.shape[:1])
        return top * max(s.shape[-1], 1) * _EPS64

    def _below(self) -> np.ndarray:
        """Mask of the finite singular values below their sample's tolerance."""
        s = self.singular_values
        with np.errstate(invalid="ignore"):
            return np.isfinite(s) & (s < self._tol()[:, None])

    @property
    def below_precision(self) -> int:
        """How many singular values are below the SVD's precision (not measured)."""
        return int(self._below().sum())

    @property
    def condition_is_lower_bound(self) -> bool:
        return self.below_precision > 0

    @property
    def mean_squared(self) -> float:
        return float(np.mean(self.singular_values.astype(np.float64) ** 2))

    @property
    def max(self) -> float:
        return float(np.max(self.singular_values))

    @property
    def min(self) -> float:
        """The smallest singular value; NaN if it is below the SVD's precision (see ``min_measured``)."""
        return float("nan") if self.below_precision else float(np.min(self.singular_values))

    @property
    def min_measured(self) -> float:
        """The smallest singular value above the SVD's precision."""
        s = self.singular_values
        kept = s[~self._below()]
        return float(np.min(kept)) if kept.size else float("nan")

    @property
    def condition(self) -> float:
        """``max / min``; with values below precision, the lower bound ``max / tolerance``."""
        below = self._below()
        if below.any():
            return self.max / float(np.max(self._tol()[below.any(axis=1)]))
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
            "min_measured": self.min_measured,
            "condition": self.condition,
            "condition_is_lower_bound": self.condition_is_lower_bound,
            "below_precision": self.below_precision,
            "normalised_variance": self.normalised_variance,
            "samples": int(self.singular_values.shape[0]),
        }

    def __eq__(self, other) -> bool:
        if not isinstance(other, JacobianSpectrum):
            return NotImplemented
        return bool(np.array_equal(self.singular_values, other.singular_values, equal_nan=True)) and bool(
            np.array_equal(self._tol(), other._tol(), equal_nan=True)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        B, k = self.singular_values.shape
        return (
            f"<JacobianSpectrum {B} samples x {k} singular values: mean s^2 {self.mean_squared:.4g}, "
            f"condition {'>= ' if self.condition_is_lower_bound else ''}{self.condition:.4g}, "
            f"normalised variance of s^2 {self.normalised_variance:.4g}>"
        )

    def _repr_html_(self) -> str:
        """In Jupyter: the summary (the normalised variance, 0 for an isometric network, highlighted)
        and a sparkline of log10 s_k against k: the median over samples and the band between the
        smallest and largest sample."""
        s = np.asarray(self.singular_values, dtype=np.float64)
        B, k = s.shape
        logs = _html.log10(s)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (non-finite Jacobians)
            med, lo, hi = (np.nanmedian(logs, axis=0), np.nanmin(logs, axis=0), np.nanmax(logs, axis=0))
        index = np.arange(1, k + 1)
        label = ("median log10 s_k over samples (band: min to max)",)
        low = (
            f"below the SVD's precision ({self.below_precision} values; smallest measured {self.min_measured:.4g})"
            if self.below_precision
            else f"{self.min:.4g}"
        )
        rows = [
            ["mean s^2", f"{self.mean_squared:.4g}"],
            ["max s", f"{self.max:.4g}"],
            ["min s", low],
            ["condition max/min", f"{'>= ' if self.condition_is_lower_bound else ''}{self.condition:.4g}"],
            ["normalised variance of s^2", _html.strong(f"{self.normalised_variance:.4g}")],
        ]
        return _html.card(
            f"JacobianSpectrum: {B} samples, {k} singular values each",
            _html.Html(f"{_html.sparkline([(label[0], index, med)], band=(index, lo, hi))} {_html.legend(label)}"),
            _html.table(["", ""], rows),
            "normalised variance Var(s^2) / mean(s^2)^2: 0 = dynamically isometric",
        )

    def __str__(self) -> str:
        if self.below_precision:
            low = (
                f"min below precision ({self.below_precision} singular values under the SVD's tolerance; "
                f"smallest measured {self.min_measured:.4g}), condition >= {self.condition:.4g}"
            )
        else:
            low = f"min {self.min:.4g}, condition {self.condition:.4g}"
        return (
            f"Jacobian spectrum over {self.singular_values.shape[0]} samples, "
            f"{self.singular_values.shape[1]} singular values each: mean s^2 = {self.mean_squared:.4g}, "
            f"max {self.max:.4g}, {low}, "
            f"normalised variance of s^2 {self.normalised_variance:.4g}"
        )


_EPS64 = float(np.finfo(np.float64).eps)


def spectrum_of(J: np.ndarray) -> JacobianSpectrum:
    """The :class:`JacobianSpectrum` of a stack of Jacobians (B, n_L, n_0).

    A sample whose Jacobian is not finite gets NaN singular values (a result,
    as reports count non-finite values), not ``LinAlgError``.

    Examples
    --------
    >>> import numpy as np
    >>> spectrum_of(np.stack([np.diag([2.0, 0.5])])).condition
    4.0
    >>> s = spectrum_of(np.stack([np.diag([1.0, 1e-20])]))
    >>> s.below_precision, s.min, s.min_measured, s.condition_is_lower_bound
    (1, nan, 1.0, True)
    """
    J = np.asarray(J)
    eps = float(np.finfo(J.dtype).eps) if J.dtype in (np.float32, np.float64) else _EPS64
    J64 = J.astype(np.float64)
    B, k = J64.shape[0], min(J64.shape[1:])
    s = np.full((B, k), np.nan)
    ok = np.isfinite(J64).all(axis=(1, 2))
    if ok.any() and k:
        s[ok] = np.linalg.svd(J64[ok], compute_uv=False)
    top = s[:, 0] if k else np.zeros(B)
    tol = top * max(J64.shape[1:]) * eps
    s.flags.writeable = False
    tol.flags.writeable = False
    return JacobianSpectrum(s, tol)
