"""pyvanish: see, measure and explain vanishing and exploding gradients.

>>> import pyvanish
>>> net = pyvanish.Network([1, 1, 1, 1, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
>>> net.gradient_report([[1.0]], [[0.0]]).verdict
'vanishing'
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from . import _engine, init, kernels, reference, theory
from ._activations import ACTIVATIONS
from ._engine import num_threads, set_num_threads
from .architecture import LOSSES, Architecture
from .compare import Comparison, compare
from .ensemble import Ensemble, EnsembleReport, ensemble
from .init import INITS
from .kernels import get_gemm_path, get_simd_path, set_gemm_path, set_simd_path, simd_paths
from .network import Network
from .report import THRESHOLD_DECADES, GradientReport
from .sweep import SweepResult, sweep
from .training import TrainingHistory, digits_task, teacher_task, train
from .tutorial import SeedNetwork, seed_network

try:
    __version__ = _version("pyvanish")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = _engine.__version__

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "Architecture",
    "LOSSES",
    "Network",
    "GradientReport",
    "THRESHOLD_DECADES",
    "SeedNetwork",
    "seed_network",
    "compare",
    "Comparison",
    "Ensemble",
    "EnsembleReport",
    "ensemble",
    "num_threads",
    "set_num_threads",
    "train",
    "TrainingHistory",
    "teacher_task",
    "digits_task",
    "sweep",
    "SweepResult",
    "kernels",
    "reference",
    "init",
    "theory",
    "plot",
    "get_simd_path",
    "set_simd_path",
    "simd_paths",
    "get_gemm_path",
    "set_gemm_path",
    "get_include",
    "__version__",
]


def get_include() -> str:
    """The directory of pyvanish's C API header, for compiling Cython or C code against pyvanish.

    Put it on the C include path (``Extension(..., include_dirs=[pyvanish.get_include()])``) of a
    module that does ``from pyvanish.cython_kernels cimport ...``; it holds ``pyvanish_capi.h``
    (the table of the kernels and engines, published by the compiled core as a capsule) and
    ``cython_kernels.pxd``. Nothing needs linking.

    Returns
    -------
    str
        The installed package's directory.
    """
    import os

    return os.path.dirname(os.path.abspath(__file__))


def __getattr__(name):
    # pyvanish.plot (matplotlib only when a function is called) and pyvanish.torch (PyTorch): imported on first use
    if name in ("plot", "torch"):
        import importlib

        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'pyvanish' has no attribute {name!r}")
