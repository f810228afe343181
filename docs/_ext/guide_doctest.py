"""Run the user guide's ``>>>`` examples during the HTML build.

Every page under the directories named in ``guide_doctest_dirs`` is a
doctest: its ``>>>`` blocks run in order, in one namespace per page, with
``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``, when Sphinx reads the page. A block
whose output differs, or that raises, is a warning at the block's line (an
error under ``sphinx-build -W``), so no example in the guide goes stale.

Python shown any other way would not run, so on those pages a
``code-block`` in Python is refused too (a warning); ``literalinclude`` of a
file that the tests run (and ``command-output``) is fine.
"""

from __future__ import annotations

import doctest
import os

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
PYTHON = {"python", "py", "python3", "pycon", "ipython", "cython"}


def _checked(app, docname: str) -> bool:
    return any(docname == d or docname.startswith(d.rstrip("/") + "/") for d in app.config.guide_doctest_dirs)


def _run_page(app, doctree) -> None:
    docname = app.env.docname
    if not _checked(app, docname):
        return
    path = str(app.env.doc2path(docname))
    for block in doctree.findall(nodes.literal_block):
        included = block.get("source") and os.path.abspath(block["source"]) != os.path.abspath(path)
        if block.get("language") in PYTHON and not included:
            logger.warning(
                "a Python code-block in the user guide is never run: write it as a >>> example",
                location=(docname, block.line),
            )
    blocks = list(doctree.findall(nodes.doctest_block))
    if not blocks:
        return
    globs: dict = {"__name__": f"guide.{docname}"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    cwd = os.getcwd()
    os.chdir(app.builder.outdir)  # files a page writes land in the build output, not the source tree
    try:
        for block in blocks:
            test = parser.get_doctest(block.astext(), globs, docname, path, block.line)
            report: list[str] = []
            result = runner.run(test, out=report.append, clear_globs=False)
            globs = test.globs  # DocTest copies its globals: the next block continues from these
            app.env.guide_doctest_count = getattr(app.env, "guide_doctest_count", 0) + result.attempted
            if result.failed:
                logger.warning("example failed:\n%s", "".join(report), location=(docname, block.line))
    finally:
        os.chdir(cwd)
        globs.clear()


def _summary(app, exception) -> None:
    if exception is None:
        logger.info("guide doctests: %d examples run", getattr(app.env, "guide_doctest_count", 0))


def setup(app):
    app.add_config_value("guide_doctest_dirs", [], "env")
    app.connect("doctree-read", _run_page)
    app.connect("build-finished", _summary)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
