"""What the benchmark scripts share: quiet gurobi, PyEPO's training loop, tables.

The scripts run from the repository root (``python benchmarks/<name>.py``),
so this folder is on ``sys.path`` and ``import _common`` finds this module.
"""

import argparse
import contextlib
import io
import os
import sys

import numpy as np
from scipy import stats


@contextlib.contextmanager
def silenced_stdout_fd():
    """Silence file descriptor 1 (gurobi's licence banner is printed from C)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def pyepo_dataset(optmodel, X, y):
    """PyEPO's optDataset (one gurobi solve per instance), its tqdm progress bar silenced."""
    import pyepo   # only the PyEPO benchmarks need it

    with contextlib.redirect_stderr(io.StringIO()):
        return pyepo.data.dataset.optDataset(optmodel, X, y)


def train_pyepo_epoch(model, loader, loss_fn, optimizer):
    """One epoch of the plain PyEPO training loop."""
    for x, c, w, z in loader:
        loss = loss_fn(model(x), c, w, z)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def as_in_pyepo(params, optimizer):
    """skdfl estimator parameters for the layer PyEPO trains with.

    skdfl's ``method="dbb"`` differentiates through the predictions projected
    onto a sphere (``BlackboxDifferentiation(normalize=True)``, against the
    predictions' collapse); PyEPO's ``blackboxOpt`` is the paper's layer, so
    the comparison trains skdfl's ``normalize=False`` layer.
    """
    if params.get("method") != "dbb":
        return params
    from skdfl.methods import BlackboxRegret

    params = dict(params)
    params["method"] = BlackboxRegret(optimizer, lambd=params.pop("lambd", 10.0),
                                      normalize=False)
    return params


def progress_log(quiet):
    """Where progress lines go: stderr (so that stdout keeps only the table), or nowhere."""
    if quiet:
        return lambda line: None
    return lambda line: print(line, file=sys.stderr, flush=True)


def mean_of(runs, field):
    """Mean over runs (one per seed) of one of their fields."""
    return float(np.mean([getattr(r, field) for r in runs]))


def t_interval(values):
    """Mean and the half-width of its 95% t-interval (NaN with fewer than two values)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)


def verdict(held):
    """A target cell: '-' where it does not apply, else yes or NO."""
    return "-" if held is None else ("yes" if held else "NO")


def format_table(rows, left=("method",)):
    """Plain-text table of string cells: ``left`` columns left-aligned, the rest right."""
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}

    def cell(column, value):
        return value.ljust(widths[column]) if column in left else value.rjust(widths[column])

    lines = ["  ".join(cell(c, c) for c in columns),
             "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(cell(c, r[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def usable_cpus():
    """CPUs this process may run on (honours ``taskset``), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def gamma_option(text):
    """An argparse type for ``gamma``: "auto" (the estimator resolves it at fit) or a
    positive number (a coverage relaxation with gamma 0 ends at a vertex)."""
    if text == "auto":
        return text
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"gamma must be > 0 or 'auto'; got {text}")
    return value
