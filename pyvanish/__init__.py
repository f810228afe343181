"""pyvanish: see, measure and explain vanishing and exploding gradients."""
from importlib.metadata import PackageNotFoundError, version as _version

from . import _core, kernels, reference
from .kernels import get_gemm_path, set_gemm_path

try:
    __version__ = _version("pyvanish")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = _core.__version__

__all__ = ["kernels", "reference", "get_gemm_path", "set_gemm_path", "__version__"]
