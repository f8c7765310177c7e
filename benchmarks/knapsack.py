"""Energy knapsack on real data: skdfl against PyEPO 2.2.7 (gurobi), side by side.

What is measured
----------------
The data is ``skdfl.datasets.load_energy_knapsack()``: 789 days, each a
decision instance of 48 half-hour slots with 8 features per slot and the 48
energy prices to predict, split by the original ``train_mask`` into 552
training and 237 test days. The decision is the 0-1 knapsack ``maximize
price @ x subject to weights @ x <= capacity`` with the data's integer slot
weights (they sum to 240), for every capacity given (default 60, 120, 180):
``skdfl.optimizers.Knapsack(weights, capacity)`` (an exact batched dynamic
program) against ``pyepo.model.grb.knapsackModel(weights[None, :],
[capacity])`` (a gurobi MIP).

Both libraries train the same model with the same settings:

- one linear layer shared by the 48 slots (8 features -> 1 price; weight
  sharing): ``DecisionFocusedRegressor(..., per_item=True)`` in skdfl, a
  plain ``torch.nn.Linear(8, 1)`` applied slot by slot on PyEPO's side;
- the same inputs: features standardized by
  ``skdfl.preprocessing.PerItemStandardScaler(n_items=48)`` fitted on the
  training days (one mean and scale per feature, shared by all slots); the
  transformed arrays are handed to both libraries;
- Adam, learning rate 0.01, batch size 32 days, the same number of epochs,
  no early stopping.

skdfl divides the targets internally by their mean absolute value on the
training days (the fitted ``target_scale_``). PyEPO is trained on prices
divided by the same number (checked against ``target_scale_`` at start-up),
so both see unit-scale targets; a positive rescaling changes no knapsack
decision, and test regret is measured on the raw prices.

Methods (the same training objective in both libraries):

- ``spo+``: the SPO+ loss (``pyepo.func.SPOPlus``).
- ``dbb``: the regret of the blackbox-differentiated decisions with
  ``lambd=1`` on the rescaled prices in both (``pyepo.func.blackboxOpt``
  followed by ``mean(z* - price @ x_hat)``, exactly skdfl's loss; both divide
  the interpolation gradient by ``lambd``).
- ``two-stage``: mean squared error of the prices, skdfl only: the reference
  that the decision-focused methods should beat.

Reported per capacity and method (mean over the seeds; a seed changes the
initialization and the batch order, the data split is fixed):

- **regret**: normalized test regret ``sum_i regret_i / sum_i |z*_i|``
  (PyEPO's definition): ``-est.score(X_test, y_test)`` for skdfl,
  ``pyepo.metric.regret`` for PyEPO.
- **seconds**: wall time (``time.perf_counter``) of the whole fit, including
  solving the true optima of the training days: skdfl's ``fit`` (validation,
  the optima, skorch set-up, the epochs); PyEPO's ``knapsackModel``,
  ``optDataset`` (one gurobi solve per day), ``DataLoader`` and the plain
  torch training loop. Test evaluation is not timed. An untimed warm-up run
  of each library and method comes first, so one-off costs (imports, the
  gurobi licence check) are charged to neither side.
- **PyEPO/skdfl**: the speed ratio, PyEPO seconds / skdfl seconds.

Targets, printed after the table: skdfl's spo+ at least 3x faster than
PyEPO's at a normalized regret no worse than PyEPO's + 0.005, and skdfl's
spo+ regret below skdfl's two-stage regret, at every capacity.

Timings are wall-clock and sensitive to other load on the machine: torch's
thread count is left as it is unless ``--threads N`` sets it for both
libraries (on a busy machine, torch's intra-op threads can stall on every
operation large enough to be parallelized; ``--threads 1`` avoids that).

Run ``python benchmarks/knapsack.py --help`` for the options.
"""

import argparse
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn
from torch.utils.data import DataLoader

import pyepo
import skdfl
from skdfl import DecisionFocusedRegressor
from skdfl.datasets import load_energy_knapsack
from skdfl.optimizers import Knapsack
from skdfl.preprocessing import PerItemStandardScaler

from _common import (as_in_pyepo, format_table, mean_of, progress_log, pyepo_dataset,
                     silenced_stdout_fd, train_pyepo_epoch, usable_cpus, verdict)

N_SLOTS = 48
SLOT_FEATURES = 8
CAPACITIES = (60, 120, 180)
LEARNING_RATE = 0.01
BATCH_SIZE = 32
LAMBD = 1.0

SPEEDUP_TARGET = 3.0
REGRET_SLACK = 0.005
TARGET_METHOD = "spo+"
BASELINE = "two-stage"


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

@dataclass
class Data:
    """The fixed train/test split, features already standardized."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    weights: np.ndarray
    scale: float          # mean |price| of the training days

    @property
    def y_train_scaled(self):
        return self.y_train / self.scale


def load_data():
    """The energy days split by ``train_mask``, scaled with shared per-slot statistics."""
    energy = load_energy_knapsack()
    train = energy.train_mask
    scaler = PerItemStandardScaler(n_items=N_SLOTS).fit(energy.data[train])
    X = scaler.transform(energy.data)
    y = energy.target
    return Data(X[train], y[train], X[~train], y[~train], energy.weights,
                float(np.mean(np.abs(y[train]))))


# --------------------------------------------------------------------------
# Methods: one entry per row group of the table. A PyEPO loss builder takes
# the gurobi model and returns ``loss(pred, price, true_sol, true_obj)``;
# None means the method has no PyEPO row (the skdfl-only reference).
# --------------------------------------------------------------------------

def _pyepo_spo_plus(optmodel):
    spo_plus = pyepo.func.SPOPlus(optmodel, processes=1)
    return lambda cp, c, w, z: spo_plus(cp, c, w, z)


def _pyepo_blackbox_regret(optmodel):
    dbb = pyepo.func.blackboxOpt(optmodel, lambd=LAMBD, processes=1)

    def loss(cp, c, w, z):
        value = (dbb(cp) * c).sum(dim=1)
        return (z.reshape(-1) - value).mean()   # a maximization: regret = z* - value
    return loss


@dataclass(frozen=True)
class Method:
    """A training method as both libraries spell it."""

    name: str
    skdfl_params: dict
    pyepo_loss: Optional[Callable]


METHODS = {m.name: m for m in (
    Method("two-stage", {"method": "two-stage"}, None),
    Method("spo+", {"method": "spo+"}, _pyepo_spo_plus),
    Method("dbb", {"method": "dbb", "lambd": LAMBD}, _pyepo_blackbox_regret),
)}


@dataclass
class Run:
    """One fit of one library: normalized test regret and fit seconds."""

    regret: float
    seconds: float


# --------------------------------------------------------------------------
# skdfl
# --------------------------------------------------------------------------

def fit_skdfl(method, data, capacity, epochs, seed):
    """A fitted per-item DecisionFocusedRegressor (all epochs run: no early stop)."""
    optimizer = Knapsack(data.weights, capacity)
    est = DecisionFocusedRegressor(
        optimizer, **as_in_pyepo(method.skdfl_params, optimizer), per_item=True,
        learning_rate_init=LEARNING_RATE, batch_size=BATCH_SIZE, max_iter=epochs,
        n_iter_no_change=10**6, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter reached on purpose
        return est.fit(data.X_train, data.y_train)


def run_skdfl(method, data, capacity, epochs, seed):
    start = time.perf_counter()
    est = fit_skdfl(method, data, capacity, epochs, seed)
    seconds = time.perf_counter() - start
    return Run(-est.score(data.X_test, data.y_test), seconds)


# --------------------------------------------------------------------------
# PyEPO
# --------------------------------------------------------------------------

class SharedSlotLinear(nn.Module):
    """One ``Linear(8, 1)`` applied to every slot of a day (plain torch)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(SLOT_FEATURES, 1)

    def forward(self, x):
        return self.linear(x.reshape(-1, SLOT_FEATURES)).reshape(x.shape[0], N_SLOTS)


def knapsack_model(data, capacity):
    return pyepo.model.grb.knapsackModel(weights=data.weights[None, :], capacity=[capacity])


def fit_pyepo(method, data, capacity, epochs, seed):
    """The plain PyEPO training loop on the rescaled prices; returns model and gurobi model."""
    optmodel = knapsack_model(data, capacity)
    dataset = pyepo_dataset(optmodel, data.X_train, data.y_train_scaled)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SharedSlotLinear()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = method.pyepo_loss(optmodel)
    model.train()
    for _ in range(epochs):
        train_pyepo_epoch(model, loader, loss_fn, optimizer)
    return model, optmodel


def pyepo_test_regret(model, optmodel, data):
    """Normalized regret on the raw test prices (decisions ignore the scale)."""
    loader = DataLoader(pyepo_dataset(optmodel, data.X_test, data.y_test),
                        batch_size=BATCH_SIZE)
    return float(pyepo.metric.regret(model, optmodel, loader))


def run_pyepo(method, data, capacity, epochs, seed):
    start = time.perf_counter()
    model, optmodel = fit_pyepo(method, data, capacity, epochs, seed)
    seconds = time.perf_counter() - start
    return Run(pyepo_test_regret(model, optmodel, data), seconds)


LIBRARIES = {"skdfl": run_skdfl, "pyepo": run_pyepo}


def libraries_of(method):
    return list(LIBRARIES) if method.pyepo_loss is not None else ["skdfl"]


# --------------------------------------------------------------------------
# Checks and warm-up
# --------------------------------------------------------------------------

def check_same_setup(data, capacities):
    """Both solvers reach the same optima, and skdfl rescales by ``data.scale``.

    Compares the optimal objective of every test day under each capacity
    (gurobi's relative MIP gap allows a hair of difference).
    """
    for capacity in capacities:
        optmodel = knapsack_model(data, capacity)
        z_gurobi = pyepo_dataset(optmodel, data.X_test, data.y_test).objs.numpy().reshape(-1)
        x_dp = Knapsack(data.weights, capacity).solve(data.y_test)
        z_dp = (x_dp * data.y_test).sum(axis=1)
        assert np.allclose(z_dp, z_gurobi, rtol=1e-4, atol=0), \
            f"skdfl and gurobi optima differ at capacity {capacity}"
    est = fit_skdfl(METHODS[BASELINE], data, capacities[0], epochs=1, seed=0)
    assert np.isclose(est.target_scale_, data.scale), \
        f"skdfl's target_scale_ {est.target_scale_} is not mean |y_train| {data.scale}"


def warm_up(methods, data, capacity):
    """One untimed one-epoch run per library and method."""
    for method in methods:
        for library in libraries_of(method):
            LIBRARIES[library](method, data, capacity, epochs=1, seed=0)


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------

def run_all(methods, data, capacities, seeds, epochs, log):
    """results[(capacity, method name, library)] -> list of Run, one per seed.

    The libraries alternate which goes first, so background load on a
    shared machine falls on both alike.
    """
    results = {}
    for i, seed in enumerate(seeds):
        for capacity in capacities:
            for method in methods:
                order = libraries_of(method)
                for library in (order if i % 2 == 0 else order[::-1]):
                    run = LIBRARIES[library](method, data, capacity, epochs, seed)
                    results.setdefault((capacity, method.name, library), []).append(run)
                    log(f"seed={seed} capacity={capacity} {method.name:<9} {library:<5} "
                        f"regret={run.regret:.4f} fit={run.seconds:7.2f}s")
    return results


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

def summarize(results, methods, capacities):
    """One dict of figures per (capacity, method); PyEPO figures None where it has no row."""
    rows = []
    for capacity in capacities:
        for method in methods:
            ours = results[(capacity, method.name, "skdfl")]
            theirs = results.get((capacity, method.name, "pyepo"))
            row = {"capacity": capacity, "method": method.name,
                   "skdfl regret": mean_of(ours, "regret"), "skdfl s": mean_of(ours, "seconds"),
                   "PyEPO regret": None, "PyEPO s": None, "ratio": None}
            if theirs is not None:
                row.update({"PyEPO regret": mean_of(theirs, "regret"),
                            "PyEPO s": mean_of(theirs, "seconds")})
                row["ratio"] = row["PyEPO s"] / row["skdfl s"]
            rows.append(row)
    return rows


def target_checks(row, baseline_regret):
    """The three verdicts of a row: speed, regret against PyEPO, regret against two-stage."""
    if row["method"] != TARGET_METHOD or row["ratio"] is None:
        return None, None, None
    below = None if baseline_regret is None else row["skdfl regret"] < baseline_regret
    return (row["ratio"] >= SPEEDUP_TARGET,
            row["skdfl regret"] <= row["PyEPO regret"] + REGRET_SLACK, below)


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def table_rows(summary):
    baseline = {r["capacity"]: r["skdfl regret"] for r in summary if r["method"] == BASELINE}
    rows = []
    for r in summary:
        fast, close, below = target_checks(r, baseline.get(r["capacity"]))
        rows.append({
            "capacity": str(r["capacity"]), "method": r["method"],
            "skdfl regret": _fmt(r["skdfl regret"], ".4f"),
            "PyEPO regret": _fmt(r["PyEPO regret"], ".4f"),
            "skdfl s": _fmt(r["skdfl s"], ".2f"), "PyEPO s": _fmt(r["PyEPO s"], ".2f"),
            "PyEPO/skdfl": "-" if r["ratio"] is None else f"{r['ratio']:.2f}x",
            ">=3x": verdict(fast), "regret ok": verdict(close),
            "< two-stage": verdict(below),
        })
    return rows


def target_summary(summary):
    """Whether each target held at every capacity (None where it was not measured)."""
    baseline = {r["capacity"]: r["skdfl regret"] for r in summary if r["method"] == BASELINE}
    checks = [target_checks(r, baseline.get(r["capacity"])) for r in summary
              if r["method"] == TARGET_METHOD]
    checks = [c for c in checks if c[0] is not None]
    names = (f"skdfl {TARGET_METHOD} >= {SPEEDUP_TARGET:g}x faster than PyEPO's",
             f"skdfl {TARGET_METHOD} regret <= PyEPO's + {REGRET_SLACK}",
             f"skdfl {TARGET_METHOD} regret < skdfl {BASELINE} regret")
    lines = []
    for i, name in enumerate(names):
        verdicts = [c[i] for c in checks if c[i] is not None]
        held = "not measured" if not verdicts else ("HELD" if all(verdicts) else "NOT HELD")
        lines.append(f"  {name} at every capacity: {held}")
    return "\n".join(["Targets:", *lines])


def header(args, data):
    return "\n".join([
        f"energy knapsack (real data): {len(data.X_train)} train / {len(data.X_test)} test "
        f"days, {N_SLOTS} slots x {SLOT_FEATURES} features, weights sum "
        f"{int(data.weights.sum())}, capacities {args.capacities}",
        f"shared Linear({SLOT_FEATURES}, 1) per slot, Adam lr={LEARNING_RATE}, "
        f"batch={BATCH_SIZE}, epochs={args.epochs}, dbb lambd={LAMBD:g}, seeds={args.seeds}",
        f"prices divided by the training mean |y| = {data.scale:.2f} on both sides "
        "(skdfl's target_scale_; PyEPO trained on y / that)",
        f"skdfl {skdfl.__version__}, PyEPO {pyepo.__version__} (gurobi), torch "
        f"{torch.__version__} with {torch.get_num_threads()} threads, {usable_cpus()} usable CPUs",
        "regret: normalized test regret, mean over seeds; s: whole-fit wall seconds (true "
        "optima included), mean over seeds; PyEPO/skdfl: speed ratio.",
    ])


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs of every fit")
    parser.add_argument("--capacities", type=int, nargs="+", default=list(CAPACITIES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N) for both libraries (default: leave "
                             "torch's setting as it is)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line per fit (on stderr)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    methods = [METHODS[name] for name in dict.fromkeys(args.methods)]
    log = progress_log(args.quiet)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    data = load_data()
    with silenced_stdout_fd():
        check_same_setup(data, args.capacities)
        warm_up(methods, data, args.capacities[0])
    results = run_all(methods, data, args.capacities, args.seeds, args.epochs, log)
    summary = summarize(results, methods, args.capacities)
    print(header(args, data))
    print()
    print(format_table(table_rows(summary)))
    print()
    print(target_summary(summary))


if __name__ == "__main__":
    main()
