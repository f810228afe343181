"""The package itself: stubs match the module, metadata, subnormals."""
import ast
import pathlib
import subprocess
import sys

import numpy as np

import pyvanish
from pyvanish import _core, kernels


def test_stubs_cover_the_compiled_module():
    stub = pathlib.Path(pyvanish.__file__).with_name("_core.pyi")
    assert stub.exists() and pathlib.Path(pyvanish.__file__).with_name("py.typed").exists()
    tree = ast.parse(stub.read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    names |= {t.id for n in tree.body if isinstance(n, ast.AnnAssign) for t in [n.target]}
    public = {n for n in dir(_core) if not n.startswith("_")}
    assert public <= names, f"missing from _core.pyi: {sorted(public - names)}"
    assert {n for n in names if not n.startswith("_")} <= public


def test_stub_classes_list_every_public_member():
    """Each class of _core.pyi declares exactly the public methods and attributes
    of the compiled class (with those of the base it names), so the stub cannot drift."""
    tree = ast.parse(pathlib.Path(pyvanish.__file__).with_name("_core.pyi").read_text())
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}

    def declared(cls: ast.ClassDef) -> set:
        names = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
        names |= {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign)}
        for base in cls.bases:
            if isinstance(base, ast.Name) and base.id in classes:
                names |= declared(classes[base.id])
        return {n for n in names if not n.startswith("_")}

    checked = 0
    for name, node in classes.items():
        if name.startswith("_"):
            continue
        runtime = {n for n in dir(getattr(_core, name)) if not n.startswith("_")}
        assert declared(node) == runtime, (name, sorted(runtime ^ declared(node)))
        checked += 1
    assert checked >= 5


def test_version_from_metadata():
    assert pyvanish.__version__ == _core.__version__


def test_import_does_not_flush_subnormals():
    # -ffast-math in any linked object would set FTZ/DAZ for the whole process
    assert not _core.subnormals_flushed()
    tiny = np.float64(2.2250738585072014e-308)
    assert tiny / 2 > 0
    assert kernels.activation_forward("sigmoid", [-720.0])[0] > 0   # a subnormal, kept
    assert 0 < kernels.activation_forward("sigmoid", [-720.0])[0] < 2.2250738585072014e-308
    assert (kernels.gemm([[1e-300]], [[1e-10]]) > 0).all()


def test_public_api_has_docstrings_with_examples():
    for fn in (kernels.activation_forward, kernels.activation_backward, kernels.dense_forward,
               kernels.dense_backward, kernels.dense_act_forward, kernels.dense_act_backward,
               kernels.mse_forward, kernels.mse_backward, kernels.gemm, pyvanish.Network,
               pyvanish.Network.gradient_report, pyvanish.seed_network):
        assert fn.__doc__ and "Examples" in fn.__doc__, fn


def test_docstring_examples_run():
    import doctest
    import importlib
    import importlib.util

    names = ("kernels", "reference", "network", "tutorial", "init", "report", "compare", "ensemble",
             "architecture", "_activations", "_text", "training", "sweep")
    # examples that need an optional package run where it is installed (CI's main run has all)
    needs = {"torch": "torch", "digits_task": "sklearn"}
    missing = {word for word, pkg in needs.items() if importlib.util.find_spec(pkg) is None}
    finder = doctest.DocTestFinder()
    for mod in [importlib.import_module(f"pyvanish.{n}") for n in names]:
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        for test in finder.find(mod):
            if not any(word in ex.source for ex in test.examples for word in missing):
                runner.run(test)
        res = runner.summarize(verbose=False)
        assert res.failed == 0, f"{mod.__name__}: {res.failed} doctest(s) failed"
        assert res.attempted > 0 or mod.__name__ == "pyvanish.report", mod.__name__


def test_pyvanish_plot_reachable_without_matplotlib(tmp_path):
    """After `import pyvanish`, pyvanish.plot and pyvanish.theory are attributes, matplotlib or not."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import pyvanish\n"
        "print(pyvanish.theory.chi1('relu', 2.0, 0.0))\n"
        "print(pyvanish.plot.__name__, 'matplotlib.pyplot' in sys.modules)\n"
        "try:\n    pyvanish.plot.phase_diagram('relu')\nexcept ImportError as e:\n    print(e)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "1.0", "pyvanish.plot False", "pyvanish.plot needs matplotlib: pip install 'pyvanish[plot]'"]
