"""Shortest path (5x5 grid) and k-subset: skdfl against PyEPO 2.2.7 (gurobi), side by side.

What is measured
----------------
For every polynomial degree, training method and seed, both libraries train
the same linear model (``torch.nn.Linear(5, n_params)``, Adam, learning rate
0.01, batch size 32, the same number of epochs, no early stopping) on the
same 1000 training instances of one of two problems (``--problem``); the
other 1000 instances are the test set.

- ``shortest_path`` (default): ``skdfl.datasets.make_shortest_path(2000,
  n_features=5, grid=(5, 5), degree=deg, noise_width=0.5,
  random_state=seed)``, decided by ``skdfl.optimizers.ShortestPath((5, 5))``
  and PyEPO's ``shortestPathModel((5, 5))`` (minimize; 40 arcs, a path has 8).
- ``k_subset``: the item values ``C`` of ``skdfl.datasets.make_knapsack(2000,
  n_items=32, n_features=5, degree=deg, noise_width=0.5, random_state=seed)``
  (the weights are ignored), decided by ``skdfl.optimizers.KSubset(k=5)`` and
  by ``KSubsetModel`` below, a gurobi model written here (32 binaries,
  ``sum x == 5``, maximize).

Both generators reproduce PyEPO's ``genData`` draw for draw (checked once at
start-up).

- **regret**: normalized test regret, ``sum_i regret_i / sum_i |z*_i|``
  (PyEPO's definition): ``-est.score(X_test, C_test)`` for skdfl and
  ``pyepo.metric.regret`` for PyEPO; mean over the seeds.
- **seconds**: wall time (``time.perf_counter``) of the whole fit, mean over
  the seeds (with ``--repeats R``, each fit is timed R times and the fastest
  kept; the fits are identical, so this only filters out background load).
  It includes everything each library must do before and during training:
  skdfl's ``DecisionFocusedRegressor(...).fit`` (validation, solving the
  true optima, skorch set-up, the epochs); PyEPO's gurobi model,
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
- ``imle``: I-MLE with 10 sum-of-Gamma perturbations per instance and
  ``lambd=10``: skdfl's ``method="imle", n_samples=10, lambd=10,
  noise="sog"`` (``tau=1``; the Gamma shape ``k`` is the mean number of
  non-zeros of the true decisions: 8 arcs, 5 items) beside
  ``pyepo.func.implicitMLE(optmodel, n_samples=10, sigma=1.0, lambd=10,
  distribution=pyepo.func.utils.sumGammaDistribution(kappa=K))`` with ``K``
  the solution size (8 or 5). PyEPO's layer returns the smoothed decisions
  and leaves the downstream loss to the user; it is trained here on the
  regret-like objective ``mean(c @ w_hat - z*)`` (``mean(z* - c @ w_hat)``
  for a maximization), the downstream loss skdfl uses, and not on the L1
  loss used for dbb: with ``L1(c @ w_hat, z*)`` the gradient flips sign
  wherever float32 rounding makes ``c @ w_hat`` fall on the wrong side of
  ``z*``, the distortion measured for PyEPO's dbb above.
- ``fy``: the perturbed Fenchel-Young loss with 10 Gaussian perturbations of
  scale ``sigma=1``: skdfl's ``method="fy", n_samples=10, sigma=1.0`` beside
  ``pyepo.func.perturbedFenchelYoung(optmodel, n_samples=10, sigma=1.0)``
  applied to the predicted costs and the true decisions.

skdfl trains on costs divided by their mean absolute value (printed in the
header). For spo+ and dbb that is invisible: the decisions and the returned
gradients are the same as PyEPO's with the same ``lambd`` (the perturbation
``theta_hat + lambd * dL/dx`` scales with the costs); it only changes the
units of the network's output, which Adam sees as a slightly different
effective step size. For imle and fy the noise (``tau``, ``sigma``) is drawn
on the rescaled costs, PyEPO's on the raw costs: on the shortest path
``mean|C|`` is close to 1 so the two match; on the k-subset values
(``mean|C|`` about 3.6 at degree 4) skdfl's perturbation is that many times
larger relative to the costs than PyEPO's with the same ``sigma``.

PyEPO's solver is gurobi, one instance at a time; skdfl solves the whole
batch (all samples of all instances) with one batched torch kernel. With
``--threads N`` both libraries' torch uses N threads
(``torch.set_num_threads``) and gurobi gets ``Threads=N``; by default torch's
and gurobi's thread counts are left alone.

Targets (printed per row): spo+ and dbb at least 3x faster than PyEPO and
skdfl's per-epoch time at most 2x that of two-stage; imle at least 20x and fy
at least 10x faster than PyEPO with the same number of samples; for every
decision-focused method a normalized regret no worse than PyEPO's + 0.005.

Run ``python benchmarks/shortest_path.py --help`` for the options. More
methods are added as entries of ``METHODS``: the skdfl parameters and a
builder of the matching PyEPO loss.
"""

import argparse
import dataclasses
import os
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import gurobipy as gp
import numpy as np
import torch
from gurobipy import GRB
from sklearn.exceptions import ConvergenceWarning
from torch import nn
from torch.utils.data import DataLoader

import pyepo
import skdfl
from pyepo.model.grb.grbmodel import optGrbModel
from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_knapsack, make_shortest_path
from skdfl.optimizers import KSubset, ShortestPath

from _common import (format_table, mean_of, progress_log, pyepo_dataset,
                     silenced_stdout_fd, train_pyepo_epoch, verdict)

GRID = (5, 5)
N_ITEMS = 32
K = 5
N_FEATURES = 5
N_TRAIN = 1000
N_TEST = 1000
NOISE_WIDTH = 0.5
LEARNING_RATE = 0.01
BATCH_SIZE = 32
LAMBD = 10.0
N_SAMPLES = 10
SIGMA = 1.0

REGRET_SLACK = 0.005
BASELINE = "two-stage"


# --------------------------------------------------------------------------
# Problems: the data, skdfl's optimizer and PyEPO's gurobi model.
# --------------------------------------------------------------------------

class KSubsetModel(optGrbModel):
    """Choose exactly ``k`` of ``n_items`` binaries, maximize ``c @ x`` (gurobi)."""

    def __init__(self, n_items, k):
        self.n_items, self.k = n_items, k
        super().__init__()

    def _getModel(self):
        m = gp.Model("k_subset")
        x = m.addMVar(self.n_items, vtype=GRB.BINARY, name="x")
        m.modelSense = GRB.MAXIMIZE
        m.addConstr(x.sum() == self.k)
        return m, x


def _shortest_path_data(n, degree, seed):
    return make_shortest_path(n, n_features=N_FEATURES, grid=GRID, degree=degree,
                              noise_width=NOISE_WIDTH, random_state=seed)


def _shortest_path_pyepo_data(n, degree, seed):
    return pyepo.data.shortestpath.genData(n, N_FEATURES, GRID, deg=degree,
                                           noise_width=NOISE_WIDTH, seed=seed)


def _k_subset_data(n, degree, seed):
    X, C, _ = make_knapsack(n, n_items=N_ITEMS, n_features=N_FEATURES, degree=degree,
                            noise_width=NOISE_WIDTH, random_state=seed)
    return X, C


def _k_subset_pyepo_data(n, degree, seed):
    _, x, c = pyepo.data.knapsack.genData(n, N_FEATURES, N_ITEMS, dim=1, deg=degree,
                                          noise_width=NOISE_WIDTH, seed=seed)
    return x, c


@dataclass(frozen=True)
class Problem:
    """A decision problem as both libraries build it."""

    name: str
    description: str
    generate: Callable          # (n, degree, seed) -> X, C (skdfl's generator)
    pyepo_generate: Callable    # (n, degree, seed) -> X, C (PyEPO's genData)
    optimizer: Callable         # () -> skdfl optimizer
    gurobi_model: Callable      # () -> PyEPO optGrbModel
    solution_size: int          # non-zeros of a decision (sum-of-Gamma kappa)
    gurobi_threads: Optional[int] = None   # None: gurobi's default

    def pyepo_model(self):
        optmodel = self.gurobi_model()
        if self.gurobi_threads is not None:
            optmodel._model.Params.Threads = self.gurobi_threads
        return optmodel


PROBLEMS = {p.name: p for p in (
    Problem("shortest_path",
            f"shortest path {GRID[0]}x{GRID[1]} (minimize, 40 arcs, 8 per path)",
            _shortest_path_data, _shortest_path_pyepo_data,
            lambda: ShortestPath(grid=GRID),
            lambda: pyepo.model.grb.shortestPathModel(GRID), solution_size=8),
    Problem("k_subset",
            f"k-subset, {K} of {N_ITEMS} items (maximize; make_knapsack values, "
            "weights ignored)",
            _k_subset_data, _k_subset_pyepo_data,
            lambda: KSubset(k=K),
            lambda: KSubsetModel(N_ITEMS, K), solution_size=K),
)}


# --------------------------------------------------------------------------
# Methods: one entry per row of the table, in both libraries.
# A PyEPO loss builder takes the gurobi model and the problem and returns
# ``loss(pred_cost, cost, true_sol, true_obj) -> scalar tensor``.
# --------------------------------------------------------------------------

def _pyepo_squared_error(optmodel, problem):
    mse = nn.MSELoss()
    return lambda cp, c, w, z: mse(cp, c)


def _pyepo_spo_plus(optmodel, problem):
    spo_plus = pyepo.func.SPOPlus(optmodel, processes=1)
    return lambda cp, c, w, z: spo_plus(cp, c, w, z)


def _pyepo_blackbox_regret(optmodel, problem):
    dbb = pyepo.func.blackboxOpt(optmodel, lambd=LAMBD, processes=1)
    l1 = nn.L1Loss()

    def loss(cp, c, w, z):
        objective = (dbb(cp) * c).sum(dim=1, keepdim=True)
        return l1(objective, z)
    return loss


def _pyepo_imle_regret(optmodel, problem):
    """I-MLE decisions, trained on ``mean(c @ w_hat - z*)`` (sign for the sense)."""
    imle = pyepo.func.implicitMLE(
        optmodel, n_samples=N_SAMPLES, sigma=SIGMA, lambd=LAMBD, processes=1,
        distribution=pyepo.func.utils.sumGammaDistribution(kappa=problem.solution_size))
    sign = 1.0 if optmodel.modelSense == pyepo.EPO.MINIMIZE else -1.0

    def loss(cp, c, w, z):
        objective = (imle(cp) * c).sum(dim=1, keepdim=True)
        return sign * (objective - z).mean()
    return loss


def _pyepo_fenchel_young(optmodel, problem):
    fy = pyepo.func.perturbedFenchelYoung(optmodel, n_samples=N_SAMPLES, sigma=SIGMA,
                                          processes=1)
    return lambda cp, c, w, z: fy(cp, w)


@dataclass(frozen=True)
class Method:
    """A training method as both libraries spell it, and its targets."""

    name: str
    skdfl_params: dict
    pyepo_loss: Callable
    speedup_target: Optional[float] = None       # None: not decision-focused, no targets
    epoch_ratio_target: Optional[float] = None   # skdfl epoch time / two-stage's

    @property
    def decision_focused(self):
        return self.speedup_target is not None


METHODS = {m.name: m for m in (
    Method("two-stage", {"method": "two-stage"}, _pyepo_squared_error),
    Method("spo+", {"method": "spo+"}, _pyepo_spo_plus, 3.0, 2.0),
    Method("dbb", {"method": "dbb", "lambd": LAMBD}, _pyepo_blackbox_regret, 3.0, 2.0),
    Method("imle", {"method": "imle", "n_samples": N_SAMPLES, "lambd": LAMBD, "noise": "sog"},
           _pyepo_imle_regret, 20.0),
    Method("fy", {"method": "fy", "n_samples": N_SAMPLES, "sigma": SIGMA},
           _pyepo_fenchel_young, 10.0),
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

def make_data(problem, degree, seed, n_train=N_TRAIN, n_test=N_TEST):
    """The shared train/test split of one degree and seed."""
    X, C = problem.generate(n_train + n_test, degree, seed)
    return Data(X[:n_train], C[:n_train], X[n_train:], C[n_train:])


def check_same_draws(problem, degree, seed):
    """skdfl's generator gives PyEPO's genData draws (PyEPO rounds costs to float32)."""
    n = N_TRAIN + N_TEST
    X, C = problem.generate(n, degree, seed)
    x, c = problem.pyepo_generate(n, degree, seed)
    assert np.array_equal(X, x), "features differ from PyEPO's genData"
    assert np.allclose(C, c, rtol=1e-6, atol=0), "costs differ from PyEPO's genData"


# --------------------------------------------------------------------------
# skdfl
# --------------------------------------------------------------------------

def fit_skdfl(problem, method, X, C, epochs, seed):
    """A fitted DecisionFocusedRegressor (all epochs run: no early stop)."""
    est = DecisionFocusedRegressor(
        problem.optimizer(), **method.skdfl_params, learning_rate_init=LEARNING_RATE,
        batch_size=BATCH_SIZE, max_iter=epochs, n_iter_no_change=10**6, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter reached on purpose
        return est.fit(X, C)


def run_skdfl(problem, method, data, epochs, seed):
    start = time.perf_counter()
    est = fit_skdfl(problem, method, data.X_train, data.C_train, epochs, seed)
    seconds = time.perf_counter() - start
    epoch_seconds = float(np.mean(est.net_.history[:, "dur"]))
    return Run(-est.score(data.X_test, data.C_test), seconds, epoch_seconds)


# --------------------------------------------------------------------------
# PyEPO
# --------------------------------------------------------------------------

def fit_pyepo(problem, method, X, C, epochs, seed):
    """The plain PyEPO training loop; returns the model, gurobi model, epoch times."""
    optmodel = problem.pyepo_model()
    dataset = pyepo_dataset(optmodel, X, C)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Linear(N_FEATURES, C.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = method.pyepo_loss(optmodel, problem)
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


def run_pyepo(problem, method, data, epochs, seed):
    start = time.perf_counter()
    model, optmodel, epoch_times = fit_pyepo(problem, method, data.X_train, data.C_train,
                                             epochs, seed)
    seconds = time.perf_counter() - start
    regret = pyepo_test_regret(model, optmodel, data.X_test, data.C_test)
    return Run(regret, seconds, float(np.mean(epoch_times)))


LIBRARIES = {"skdfl": run_skdfl, "pyepo": run_pyepo}


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------

def warm_up(problem, methods):
    """One tiny untimed run per library and method: first-use costs are charged to neither."""
    data = make_data(problem, degree=1, seed=0, n_train=64, n_test=64)
    with silenced_stdout_fd():
        for method in methods:
            for run in LIBRARIES.values():
                run(problem, method, data, epochs=1, seed=0)


def best_of(repeats, run, *args):
    """The fastest of ``repeats`` identical fits (same seed, so the same model)."""
    return min((run(*args) for _ in range(repeats)), key=lambda r: r.seconds)


def run_all(problem, methods, degrees, seeds, epochs, log, repeats=1):
    """results[(degree, method name, library)] -> list of Run, one per seed.

    The libraries alternate which goes first, so background load on a shared
    machine falls on both alike; ``repeats > 1`` keeps the fastest of that
    many identical fits, which filters out bursts of load.
    """
    results = {}
    order = list(LIBRARIES)
    for i, seed in enumerate(seeds):
        for degree in degrees:
            data = make_data(problem, degree, seed)
            for method in methods:
                for library in (order if i % 2 == 0 else order[::-1]):
                    run = best_of(repeats, LIBRARIES[library], problem, method, data,
                                  epochs, seed)
                    results.setdefault((degree, method.name, library), []).append(run)
                    log(f"seed={seed} degree={degree} {method.name:<9} {library:<5} "
                        f"regret={run.regret:.4f} fit={run.seconds:7.2f}s "
                        f"epoch={run.epoch_seconds:.3f}s")
    return results


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

def epoch_ratio(results, degree, name):
    """Mean over seeds of skdfl's epoch time of ``name`` / that of two-stage."""
    baseline = results.get((degree, BASELINE, "skdfl"))
    if baseline is None:
        return None
    runs = results[(degree, name, "skdfl")]
    return float(np.mean([r.epoch_seconds / b.epoch_seconds for r, b in zip(runs, baseline)]))


def table_rows(results, methods, degrees):
    rows = []
    for degree in degrees:
        for method in methods:
            ours = results[(degree, method.name, "skdfl")]
            theirs = results[(degree, method.name, "pyepo")]
            r_ours, r_theirs = mean_of(ours, "regret"), mean_of(theirs, "regret")
            s_ours, s_theirs = mean_of(ours, "seconds"), mean_of(theirs, "seconds")
            speedup = s_theirs / s_ours
            ratio = epoch_ratio(results, degree, method.name)
            focused = method.decision_focused
            speed_target, ratio_target = method.speedup_target, method.epoch_ratio_target
            rows.append({
                "degree": str(degree), "method": method.name,
                "skdfl regret": f"{r_ours:.4f}", "PyEPO regret": f"{r_theirs:.4f}",
                "skdfl s": f"{s_ours:.2f}", "PyEPO s": f"{s_theirs:.2f}",
                "speed-up": f"{speedup:.2f}x",
                "target": "-" if speed_target is None else f">={speed_target:g}x",
                "speed ok": verdict(speedup >= speed_target if focused else None),
                "regret ok": verdict(r_ours <= r_theirs + REGRET_SLACK if focused else None),
                "epoch/2s": "-" if ratio is None else f"{ratio:.2f}x",
                "epoch ok": verdict(ratio <= ratio_target
                                     if ratio_target is not None and ratio is not None
                                     else None),
            })
    return rows


def header(args, problem, methods):
    scales = ", ".join(
        f"deg {d}: {np.mean(np.abs(make_data(problem, d, args.seeds[0]).C_train)):.2f}"
        for d in args.degrees)
    n_params = make_data(problem, args.degrees[0], args.seeds[0], 1, 1).C_train.shape[1]
    targets = "; ".join(
        f"{m.name} >= {m.speedup_target:g}x"
        + ("" if m.epoch_ratio_target is None else f", epoch/2s <= {m.epoch_ratio_target:g}x")
        for m in methods if m.decision_focused)
    gurobi = ("default" if problem.gurobi_threads is None
              else str(problem.gurobi_threads))
    return "\n".join([
        f"{problem.description}, {N_TRAIN} train / {N_TEST} test, "
        f"noise_width={NOISE_WIDTH}, Linear({N_FEATURES}, {n_params}), Adam "
        f"lr={LEARNING_RATE}, batch={BATCH_SIZE}, epochs={args.epochs}, lambd={LAMBD:g}, "
        f"n_samples={N_SAMPLES}, sigma={SIGMA:g}",
        f"seeds={args.seeds}, fastest of {args.repeats} fit(s) each; skdfl "
        f"{skdfl.__version__}, PyEPO {pyepo.__version__} (gurobi threads: {gurobi}), "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        f"skdfl's internal target scale mean|C| (seed {args.seeds[0]}): {scales}",
        "regret: normalized test regret, mean over seeds; s: fit wall seconds, mean over "
        "seeds; speed-up: PyEPO s / skdfl s;",
        "epoch/2s: skdfl epoch time / skdfl two-stage epoch time. Targets: "
        + (targets or "none") + f"; regret <= PyEPO + {REGRET_SLACK} for each.",
    ])


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problem", default="shortest_path", choices=list(PROBLEMS),
                        help="decision problem (default: shortest_path)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of every fit")
    parser.add_argument("--degrees", type=int, nargs="+", default=[1, 2, 4, 6])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--repeats", type=int, default=1,
                        help="time each fit this many times and keep the fastest")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N) and gurobi Threads=N for both "
                             "libraries (default: leave both alone)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line per fit (on stderr)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    problem = PROBLEMS[args.problem]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        problem = dataclasses.replace(problem, gurobi_threads=args.threads)
    methods = [METHODS[name] for name in dict.fromkeys(args.methods)]
    log = progress_log(args.quiet)
    check_same_draws(problem, args.degrees[0], args.seeds[0])
    warm_up(problem, methods)
    results = run_all(problem, methods, args.degrees, args.seeds, args.epochs, log,
                      args.repeats)
    print(header(args, problem, methods))
    print()
    print(format_table(table_rows(results, methods, args.degrees)))


if __name__ == "__main__":
    main()
