"""Sphinx configuration of pyvanish's documentation site.

Build it from the repository root (``pip install -e ".[docs]"`` first)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Warnings are errors. The build runs the gallery scripts (``examples/plot_*.py``,
sphinx-gallery) and every ``>>>`` example of the user guide (``_ext/guide_doctest.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyvanish

# The PyTorch page and pyvanish.torch's API need PyTorch. Imported here because autosummary reads the
# attribute pyvanish.torch, which pyvanish.__getattr__ resolves to pyvanish.plot until the submodule is imported.
try:
    import pyvanish.torch  # noqa: F401
except ImportError as exc:
    raise RuntimeError("building the documentation needs PyTorch: pip install torch (the CPU wheel is enough)") from exc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

project = "pyvanish"
author = "the pyvanish developers"
copyright = "the pyvanish developers"  # noqa: A001 - Sphinx's name
release = pyvanish.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "sphinxcontrib.programoutput",
    "guide_doctest",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]
default_role = "code"
nitpicky = False

# -- API reference: autosummary + numpydoc ----------------------------------
autosummary_generate = True
autosummary_ignore_module_all = False  # a module's __all__ is its public API
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types

numpydoc_show_class_members = True  # a table of the members, each documented below it
numpydoc_show_inherited_class_members = {"pyvanish.torch.Residual": False, "pyvanish.ensemble.LogSummary": False}
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- the architecture page (docs/architecture.md, the one source) -----------
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing"]

# -- gallery: examples/plot_*.py, run at every build ------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|build\.py|run\.py",
    "within_subsection_order": "gallery_order.GuideOrder",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "capture_repr": ("_repr_html_",),  # a report's card; printed text as printed
    "min_reported_time": 1,
}

# -- the user guide's >>> examples (docs/_ext/guide_doctest.py) -------------
guide_doctest_dirs = ["guide", "index"]

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"pyvanish {release}"
html_static_path = ["_static"]
html_css_files = ["pyvanish.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "guide/*": [], "architecture": []}  # the guide is in the top bar
html_show_sourcelink = False


def _check_api_page(app) -> None:
    """Every name in ``pyvanish.__all__`` has its entry on the API page (modules have their own pages)."""
    from sphinx.util import logging

    text = (HERE / "api" / "pyvanish.rst").read_text(encoding="utf-8")
    listed = {line.strip() for line in text.splitlines()}
    missing = [
        name
        for name in pyvanish.__all__
        if name != "__version__" and name not in listed and type(getattr(pyvanish, name)).__name__ != "module"
    ]
    if missing:
        logging.getLogger(__name__).warning("docs/api/pyvanish.rst does not list pyvanish.%s", ", ".join(missing))


def setup(app):
    app.connect("builder-inited", _check_api_page)
