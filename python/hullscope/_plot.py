"""Figures without pyplot: a ``matplotlib.figure.Figure`` needs no backend, so library code never
switches the user's backend (notebooks keep theirs) and nothing is left open in pyplot's registry."""
from __future__ import annotations

from typing import Any, Tuple


def subplots(nrows: int = 1, ncols: int = 1, *, sharex: Any = False, sharey: Any = False,
             **fig_kw: Any) -> Tuple[Any, Any]:
    """(Figure, axes) like ``plt.subplots``; axes is always a 2-D array (``squeeze=False``)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError('figures need matplotlib: pip install "hullscope[plot]"') from exc
    fig = Figure(**fig_kw)
    return fig, fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=False)
