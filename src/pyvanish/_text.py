"""Plain-text helpers shared by the package: one table formatter and one progress bar."""

from __future__ import annotations

import numbers
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self


def _is_number(cell: Any) -> bool:
    """True for a real number, or a string that reads as one ("1.5e-03", "nan", "-inf")."""
    if isinstance(cell, numbers.Real) and not isinstance(cell, bool):
        return True
    try:
        float(cell)
    except (TypeError, ValueError):
        return False
    return isinstance(cell, str) and bool(cell.strip())


def format_table(
    headers: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    *,
    align: str | Sequence[str] | None = None,
    title: str | None = None,
) -> str:
    """Format a plain-text table: a header, a dashed rule, then one line per row.

    Parameters
    ----------
    headers : sequence
        One header per column (formatted with ``str``).
    rows : sequence of sequences
        The cells, row by row, each row as long as ``headers``. Cells are
        strings already formatted by the caller, or anything else, which is
        formatted with ``str``.
    align : str or sequence of str, optional
        One of ``"l"`` (left) or ``"r"`` (right) per column, e.g. ``"lrr"``.
        By default a column is right-aligned when every non-empty cell in it
        is a number (or a string that reads as one), else left-aligned.
    title : str, optional
        A line printed above the table.

    Returns
    -------
    str
        The table, lines joined by ``"\\n"``, without a trailing newline.
        Columns are as wide as their widest cell and separated by two spaces.

    Examples
    --------
    >>> print(format_table(["layer", "|dL/dW|"], [[1, "3.2e-05"], [2, "1.1e-02"]]))
    layer  |dL/dW|
    -----  -------
        1  3.2e-05
        2  1.1e-02
    """
    head = [str(h) for h in headers]
    body = [[c if isinstance(c, str) else str(c) for c in row] for row in rows]
    if any(len(row) != len(head) for row in body):
        raise ValueError(f"format_table: every row needs {len(head)} cells")
    columns = list(zip(*body)) if body else [()] * len(head)
    if align is None:
        align = [
            "r" if all(_is_number(c) for c in col if c.strip()) and any(c.strip() for c in col) else "l"
            for col in columns
        ]
    if len(align) != len(head) or set(align) - {"l", "r"}:
        raise ValueError(f"format_table: align needs one of 'l' or 'r' per column, got {align!r}")
    widths = [max([len(h)] + [len(c) for c in col]) for h, col in zip(head, columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align)).rstrip()

    lines = ([title] if title is not None else []) + [line(head), line(["-" * w for w in widths])]
    return "\n".join(lines + [line(row) for row in body])


class _NoProgress:
    """The do-nothing stand-in for a tqdm bar: ``update``, ``close``, a context manager."""

    def update(self, n: int = 1) -> None:
        """Ignore ``n`` steps of progress."""

    def close(self) -> None:
        """Nothing to close."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: In auto mode (``enabled=None``) a bar appears only once the operation has run this long (seconds),
#: so short calls stay silent and long ones are never silent.
AUTO_DELAY = 0.5


def _in_jupyter() -> bool:
    """True inside a Jupyter kernel (IPython imported and its shell has a kernel)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_enabled(enabled: bool | None) -> bool:
    """Whether :func:`progress` shows a bar: ``enabled`` if a bool, else (None, auto) when
    ``sys.stderr`` is a terminal or the code runs in a Jupyter kernel."""
    if enabled is not None:
        return bool(enabled)
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty()) or _in_jupyter()


def progress(total: int | None, *, desc: str, unit: str, enabled: bool | None = None) -> Any:
    """A progress bar (tqdm's auto mode), or a no-op with the same interface.

    Parameters
    ----------
    total : int or None
        The number of steps expected (None: unknown).
    desc : str
        The label shown before the bar (the public function's name).
    unit : str
        What one step is, e.g. ``"step"`` or ``"config"``.
    enabled : bool or None, optional
        True: always a bar, shown at once. False: never. None (default, auto):
        a bar when ``sys.stderr`` is a terminal (on stderr) or in a Jupyter
        kernel (a notebook widget when ipywidgets is installed), shown once
        the operation has run :data:`AUTO_DELAY` seconds.

    Returns
    -------
    tqdm.auto.tqdm or object
        A ``tqdm.auto.tqdm`` bar, or an object whose ``update(n)`` and
        ``close()`` do nothing. Either works as a context manager, which
        closes it.

    Notes
    -----
    tqdm is imported only when a bar is shown.
    """
    if not progress_enabled(enabled):
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, delay=0.0 if enabled else AUTO_DELAY)
