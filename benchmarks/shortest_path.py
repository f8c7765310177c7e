"""Shortest path on a 5x5 grid: skdfl against PyEPO 2.2.7 (gurobi), side by side.

What is measured
----------------
For every polynomial degree, training method and seed, both libraries train
the same linear model (``torch.nn.Linear(5, 40)``, Adam, learning rate 0.01,
batch size 32, the same number of epochs, no early stopping) on the same
1000 training instances of
``skdfl.datasets.make_shortest_path(2000, n_features=5, grid=(5, 5),
degree=deg, noise_width=0.5, random_state=seed)``, which reproduces PyEPO's
``genData`` draw for draw (checked once at start-up); the other 1000
instances are the test set.

- **regret**: normalized test regret, ``sum_i regret_i / sum_i |z*_i|``
  (PyEPO's definition): ``-est.score(X_test, C_test)`` for skdfl and
  ``pyepo.metric.regret`` for PyEPO; mean over the seeds.
- **seconds**: wall time (``time.perf_counter``) of the whole fit, mean over
  the seeds (with ``--repeats R``, each fit is timed R times and the fastest
  kept; the fits are identical, so this only filters out background load).
  It includes everything each library must do before and during training:
  skdfl's ``DecisionFocusedRegressor(...).fit`` (validation, solving the
  true optima, skorch set-up, the epochs); PyEPO's ``shortestPathModel``,
  ``optDataset`` (one gurobi solve per training instance), the
  ``DataLoader`` and the plain torch training loop. Test evaluation is not
  timed. One untimed warm-up run per library and method comes first, so
  one-off costs (imports triggered by the first Adam, the gurobi licence
  check) are charged to neither side.
- **speed-up**: PyEPO seconds / skdfl seconds.
- **epoch ratio**: for skdfl, the mean per-epoch time of a method (skorch's
  ``dur``) divided by that of two-stage at the same degree and seed.

Methods are the same training objective in both libraries:

- ``two-stage``: mean squared error between predicted and true costs.
- ``spo+``: the SPO+ loss (``pyepo.func.SPOPlus``).
- ``dbb``: the regret of the blackbox-differentiated decisions, with
  ``lambd=10`` on both sides (``pyepo.func.blackboxOpt`` followed by PyEPO's
  recommended objective loss ``L1(c @ w_hat, z*)``, which equals the regret
  because the solver is exact). One numerical difference: where a decision
  is already optimal, ``c @ w_hat - z*`` is a float32 rounding error whose
  sign is random, so the L1 gradient is ``-c`` for some of those instances
  (about a fifth at degree 6) and the DBB step then moves towards worse
  decisions. skdfl's regret loss has no such sign. This makes PyEPO's dbb
  regret visibly worse at high degree; training PyEPO on
  ``mean(c @ w_hat - z*)`` instead removes most of the gap.

skdfl trains on costs divided by their mean absolute value. For dbb that is
invisible: the perturbation ``theta_hat + lambd * dL/dx`` scales with the
costs, so it picks the same decisions as PyEPO's with the same ``lambd``, and
the returned gradient ``(x' - x) / lambd`` is the same. It only changes the
units of the network's output (by a factor close to 1 here; printed in the
header), which Adam sees as a slightly different effective step size.

Targets (printed per row): spo+ and dbb at least 3x faster than PyEPO, with
normalized regret no worse than PyEPO's + 0.005, and skdfl's per-epoch time
of spo+ and dbb at most 2x that of two-stage.

Run ``python benchmarks/shortest_path.py --help`` for the options. More
methods (imle, fy) are added as entries of ``METHODS``: the skdfl
parameters and a builder of the matching PyEPO loss.
"""

import argparse
import contextlib
import io
import os
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn
from torch.utils.data import DataLoader

import pyepo
import skdfl
from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.optimizers import ShortestPath

GRID = (5, 5)
N_FEATURES = 5
N_TRAIN = 1000
N_TEST = 1000
NOISE_WIDTH = 0.5
LEARNING_RATE = 0.01
BATCH_SIZE = 32
LAMBD = 10.0

SPEEDUP_TARGET = 3.0
REGRET_SLACK = 0.005
EPOCH_RATIO_TARGET = 2.0
BASELINE = "two-stage"


# --------------------------------------------------------------------------
# Methods: one entry per row of the table, in both libraries.
# A PyEPO loss builder takes the gurobi model and returns
# ``loss(pred_cost, cost, true_sol, true_obj) -> scalar tensor``.
# --------------------------------------------------------------------------

def _pyepo_squared_error(optmodel):
    mse = nn.MSELoss()
    return lambda cp, c, w, z: mse(cp, c)


def _pyepo_spo_plus(optmodel):
    spo_plus = pyepo.func.SPOPlus(optmodel, processes=1)
    return lambda cp, c, w, z: spo_plus(cp, c, w, z)


def _pyepo_blackbox_regret(optmodel):
    dbb = pyepo.func.blackboxOpt(optmodel, lambd=LAMBD, processes=1)
    l1 = nn.L1Loss()

    def loss(cp, c, w, z):
        objective = (dbb(cp) * c).sum(dim=1, keepdim=True)
        return l1(objective, z)
    return loss


@dataclass(frozen=True)
class Method:
    """A training method as both libraries spell it."""

    name: str
    skdfl_params: dict
    pyepo_loss: Callable
    decision_focused: bool = True   # the speed and regret targets apply


METHODS = {m.name: m for m in (
    Method("two-stage", {"method": "two-stage"}, _pyepo_squared_error, decision_focused=False),
    Method("spo+", {"method": "spo+"}, _pyepo_spo_plus),
    Method("dbb", {"method": "dbb", "lambd": LAMBD}, _pyepo_blackbox_regret),
)}


@dataclass
class Run:
    """One fit of one library: test regret, fit seconds, mean epoch seconds."""

    regret: float
    seconds: float
    epoch_seconds: float


@dataclass
class Data:
    X_train: np.ndarray
    C_train: np.ndarray
    X_test: np.ndarray
    C_test: np.ndarray


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def make_data(degree, seed, n_train=N_TRAIN, n_test=N_TEST):
    """The shared train/test split of one degree and seed."""
    X, C = make_shortest_path(n_train + n_test, n_features=N_FEATURES, grid=GRID,
                              degree=degree, noise_width=NOISE_WIDTH, random_state=seed)
    return Data(X[:n_train], C[:n_train], X[n_train:], C[n_train:])


def check_same_draws(degree, seed):
    """skdfl's generator gives PyEPO's genData draws (PyEPO rounds costs to float32)."""
    n = N_TRAIN + N_TEST
    X, C = make_shortest_path(n, n_features=N_FEATURES, grid=GRID, degree=degree,
                              noise_width=NOISE_WIDTH, random_state=seed)
    x, c = pyepo.data.shortestpath.genData(n, N_FEATURES, GRID, deg=degree,
                                           noise_width=NOISE_WIDTH, seed=seed)
    assert np.array_equal(X, x), "features differ from PyEPO's genData"
    assert np.allclose(C, c, rtol=1e-6, atol=0), "costs differ from PyEPO's genData"


# --------------------------------------------------------------------------
# skdfl
# --------------------------------------------------------------------------

def fit_skdfl(method, X, C, epochs, seed):
    """A fitted DecisionFocusedRegressor (all epochs run: no early stop)."""
    est = DecisionFocusedRegressor(
        ShortestPath(grid=GRID), **method.skdfl_params, learning_rate_init=LEARNING_RATE,
        batch_size=BATCH_SIZE, max_iter=epochs, n_iter_no_change=10**6, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter reached on purpose
        return est.fit(X, C)


def run_skdfl(method, data, epochs, seed):
    start = time.perf_counter()
    est = fit_skdfl(method, data.X_train, data.C_train, epochs, seed)
    seconds = time.perf_counter() - start
    epoch_seconds = float(np.mean(est.net_.history[:, "dur"]))
    return Run(-est.score(data.X_test, data.C_test), seconds, epoch_seconds)


# --------------------------------------------------------------------------
# PyEPO
# --------------------------------------------------------------------------

def pyepo_dataset(optmodel, X, C):
    """optDataset (solves every instance once), its tqdm progress bar silenced."""
    with contextlib.redirect_stderr(io.StringIO()):
        return pyepo.data.dataset.optDataset(optmodel, X, C)


def train_pyepo_epoch(model, loader, loss_fn, optimizer):
    for x, c, w, z in loader:
        loss = loss_fn(model(x), c, w, z)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def fit_pyepo(method, X, C, epochs, seed):
    """The plain PyEPO training loop; returns the model, gurobi model, epoch times."""
    optmodel = pyepo.model.grb.shortestPathModel(GRID)
    dataset = pyepo_dataset(optmodel, X, C)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Linear(N_FEATURES, C.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = method.pyepo_loss(optmodel)
    epoch_times = []
    model.train()
    for _ in range(epochs):
        start = time.perf_counter()
        train_pyepo_epoch(model, loader, loss_fn, optimizer)
        epoch_times.append(time.perf_counter() - start)
    return model, optmodel, epoch_times


def pyepo_test_regret(model, optmodel, X, C):
    loader = DataLoader(pyepo_dataset(optmodel, X, C), batch_size=BATCH_SIZE)
    return float(pyepo.metric.regret(model, optmodel, loader))


def run_pyepo(method, data, epochs, seed):
    start = time.perf_counter()
    model, optmodel, epoch_times = fit_pyepo(method, data.X_train, data.C_train, epochs, seed)
    seconds = time.perf_counter() - start
    regret = pyepo_test_regret(model, optmodel, data.X_test, data.C_test)
    return Run(regret, seconds, float(np.mean(epoch_times)))


LIBRARIES = {"skdfl": run_skdfl, "pyepo": run_pyepo}


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------

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


def warm_up(methods):
    """One tiny untimed run per library and method: first-use costs are charged to neither."""
    data = make_data(degree=1, seed=0, n_train=64, n_test=64)
    with silenced_stdout_fd():
        for method in methods:
            for run in LIBRARIES.values():
                run(method, data, epochs=1, seed=0)


def best_of(repeats, run, *args):
    """The fastest of ``repeats`` identical fits (same seed, so the same model)."""
    return min((run(*args) for _ in range(repeats)), key=lambda r: r.seconds)


def run_all(methods, degrees, seeds, epochs, log, repeats=1):
    """results[(degree, method name, library)] -> list of Run, one per seed.

    The libraries alternate which goes first, so background load on a shared
    machine falls on both alike; ``repeats > 1`` keeps the fastest of that
    many identical fits, which filters out bursts of load.
    """
    results = {}
    order = list(LIBRARIES)
    for i, seed in enumerate(seeds):
        for degree in degrees:
            data = make_data(degree, seed)
            for method in methods:
                for library in (order if i % 2 == 0 else order[::-1]):
                    run = best_of(repeats, LIBRARIES[library], method, data, epochs, seed)
                    results.setdefault((degree, method.name, library), []).append(run)
                    log(f"seed={seed} degree={degree} {method.name:<9} {library:<5} "
                        f"regret={run.regret:.4f} fit={run.seconds:7.2f}s "
                        f"epoch={run.epoch_seconds:.3f}s")
    return results


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

def _mean(runs, field):
    return float(np.mean([getattr(r, field) for r in runs]))


def epoch_ratio(results, degree, name):
    """Mean over seeds of skdfl's epoch time of ``name`` / that of two-stage."""
    baseline = results.get((degree, BASELINE, "skdfl"))
    if baseline is None:
        return None
    runs = results[(degree, name, "skdfl")]
    return float(np.mean([r.epoch_seconds / b.epoch_seconds for r, b in zip(runs, baseline)]))


def _verdict(held):
    return "-" if held is None else ("yes" if held else "NO")


def table_rows(results, methods, degrees):
    rows = []
    for degree in degrees:
        for method in methods:
            ours = results[(degree, method.name, "skdfl")]
            theirs = results[(degree, method.name, "pyepo")]
            r_ours, r_theirs = _mean(ours, "regret"), _mean(theirs, "regret")
            s_ours, s_theirs = _mean(ours, "seconds"), _mean(theirs, "seconds")
            speedup = s_theirs / s_ours
            ratio = epoch_ratio(results, degree, method.name)
            focused = method.decision_focused
            rows.append({
                "degree": str(degree), "method": method.name,
                "skdfl regret": f"{r_ours:.4f}", "PyEPO regret": f"{r_theirs:.4f}",
                "skdfl s": f"{s_ours:.2f}", "PyEPO s": f"{s_theirs:.2f}",
                "speed-up": f"{speedup:.2f}x",
                "epoch/2s": "-" if ratio is None else f"{ratio:.2f}x",
                ">=3x": _verdict(speedup >= SPEEDUP_TARGET if focused else None),
                "regret ok": _verdict(r_ours <= r_theirs + REGRET_SLACK if focused else None),
                "epoch<=2x": _verdict(ratio <= EPOCH_RATIO_TARGET
                                      if focused and ratio is not None else None),
            })
    return rows


def format_table(rows):
    """Plain-text table: text columns left-aligned, numbers right-aligned."""
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    left = {"method"}
    cell = lambda c, v: v.ljust(widths[c]) if c in left else v.rjust(widths[c])  # noqa: E731
    lines = ["  ".join(cell(c, c) for c in columns),
             "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(cell(c, r[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def header(args):
    scales = ", ".join(
        f"deg {d}: {np.mean(np.abs(make_data(d, args.seeds[0]).C_train)):.2f}"
        for d in args.degrees)
    return "\n".join([
        f"shortest path {GRID[0]}x{GRID[1]}, {N_TRAIN} train / {N_TEST} test, "
        f"noise_width={NOISE_WIDTH}, Linear({N_FEATURES}, 40), Adam lr={LEARNING_RATE}, "
        f"batch={BATCH_SIZE}, epochs={args.epochs}, lambd={LAMBD:g}",
        f"seeds={args.seeds}, fastest of {args.repeats} fit(s) each; skdfl "
        f"{skdfl.__version__}, PyEPO {pyepo.__version__} (gurobi), torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads, {os.cpu_count()} CPUs",
        f"skdfl's internal target scale mean|C| (seed {args.seeds[0]}): {scales}",
        "regret: normalized test regret, mean over seeds; s: fit wall seconds, mean over "
        "seeds; speed-up: PyEPO s / skdfl s;",
        "epoch/2s: skdfl epoch time / skdfl two-stage epoch time. Targets for spo+ and dbb: "
        f">= {SPEEDUP_TARGET:g}x, regret <= PyEPO + {REGRET_SLACK}, epoch/2s <= "
        f"{EPOCH_RATIO_TARGET:g}x.",
    ])


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs of every fit")
    parser.add_argument("--degrees", type=int, nargs="+", default=[1, 2, 4, 6])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--repeats", type=int, default=1,
                        help="time each fit this many times and keep the fastest")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line per fit (on stderr)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    methods = [METHODS[name] for name in dict.fromkeys(args.methods)]
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    check_same_draws(args.degrees[0], args.seeds[0])
    warm_up(methods)
    results = run_all(methods, args.degrees, args.seeds, args.epochs, log, args.repeats)
    print(header(args))
    print()
    print(format_table(table_rows(results, methods, args.degrees)))


if __name__ == "__main__":
    main()
