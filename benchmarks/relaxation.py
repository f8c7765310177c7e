"""method="relaxation" against a cvxpylayers QPTL layer, on the shortest-path benchmark.

What is measured
----------------
Both sides train a linear model (5 features -> 40 arc costs, Adam, learning
rate 0.01, batch size 32, the same number of epochs, no early stopping) on
the first 1000 instances of ``skdfl.datasets.make_shortest_path(2000,
degree=4, noise_width=0.5, random_state=seed)`` for the regret of the
decisions of the quadratic relaxation of Wilder et al. (2019),

    min_x  theta_hat @ x + gamma * ||x||^2   s.t.  node-arc incidence x = b, 0 <= x <= 1,

with the same ``gamma``, and are tested on the other 1000 with exact
shortest paths:

- **skdfl**: ``DecisionFocusedRegressor(ShortestPath(grid=(5, 5)),
  method="relaxation", gamma=gamma)``: the batched torch projection kernel of
  ``skdfl.optimizers._qp`` with its analytic KKT backward.
- **cvxpylayers**: the usual QPTL implementation: a ``CvxpyLayer`` of that
  QP (default solver: diffcp), in a plain torch training loop with the same
  loss ``mean(theta @ (x_relaxed - x*))``. The estimator trains on costs
  divided by their mean absolute value (``target_scale_``); this side divides
  by the same scale, so that ``gamma`` means the same thing on both sides.
  Its model starts from the same initial weights as the estimator's.

Columns: normalized test regret (``sum_i regret_i / sum_i |z*_i|``, PyEPO's
definition), wall seconds of the whole fit (skdfl: ``fit``, including its
validation and the true optima; cvxpylayers: building the layer, the true
optima, and the epochs; test evaluation is not timed), mean over the seeds,
and the speed-up (cvxpylayers seconds / skdfl seconds). Targets: at least
20x faster, with regret no worse than cvxpylayers' + 0.005.

Run ``python benchmarks/relaxation.py --help`` for the options.
"""

import argparse
import os
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

import skdfl
from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.estimators._defaults import start_at_mean_target
from skdfl.metrics import regret
from skdfl.nn import MLP
from skdfl.optimizers import ShortestPath

from _common import format_table, progress_log, verdict

GRID = (5, 5)
N_FEATURES = 5
N_TRAIN = 1000
N_TEST = 1000
DEGREE = 4
NOISE_WIDTH = 0.5
LEARNING_RATE = 0.01
BATCH_SIZE = 32

SPEEDUP_TARGET = 20.0
REGRET_SLACK = 0.005


def make_data(seed, n_train=N_TRAIN, n_test=N_TEST):
    X, C = make_shortest_path(n_train + n_test, n_features=N_FEATURES, grid=GRID,
                              degree=DEGREE, noise_width=NOISE_WIDTH, random_state=seed)
    return X[:n_train], C[:n_train], X[n_train:], C[n_train:]


def initial_model(seed, costs):
    """The estimator's initial network: the same seed draw and construction, its output
    started at the mean of the (rescaled) training costs."""
    torch_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed)
        model = MLP(N_FEATURES, GRID[0] * (GRID[1] - 1) * 2, (), "relu")
    start_at_mean_target(model, costs, link="identity")
    return model


# --------------------------------------------------------------------------
# skdfl
# --------------------------------------------------------------------------

def fit_skdfl(X, C, epochs, gamma, seed):
    est = DecisionFocusedRegressor(
        ShortestPath(grid=GRID), method="relaxation", gamma=gamma,
        learning_rate_init=LEARNING_RATE, batch_size=BATCH_SIZE, max_iter=epochs,
        n_iter_no_change=10**6, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter reached on purpose
        return est.fit(X, C)


def run_skdfl(data, epochs, gamma, seed):
    X, C, X_test, C_test = data
    start = time.perf_counter()
    est = fit_skdfl(X, C, epochs, gamma, seed)
    seconds = time.perf_counter() - start
    return -est.score(X_test, C_test), seconds


# --------------------------------------------------------------------------
# cvxpylayers
# --------------------------------------------------------------------------

def qptl_layer(gamma):
    """CvxpyLayer of min theta @ x + gamma ||x||^2 over the shortest-path flow polytope."""
    import cvxpy as cp
    from cvxpylayers.torch import CvxpyLayer

    lp = ShortestPath(grid=GRID).lp_form()
    n = lp.n_vars
    x, theta = cp.Variable(n), cp.Parameter(n)
    problem = cp.Problem(cp.Minimize(theta @ x + gamma * cp.sum_squares(x)),
                         [lp.A_eq @ x == lp.b_eq, x >= 0, x <= 1])
    return CvxpyLayer(problem, parameters=[theta], variables=[x])


def fit_cvxpylayers(X, C, epochs, gamma, seed):
    scale = float(np.mean(np.abs(C)))                  # the estimator's target_scale_
    layer = qptl_layer(gamma)
    optimizer = ShortestPath(grid=GRID)
    features = torch.tensor(X, dtype=torch.float32)
    costs = torch.tensor(C / scale, dtype=torch.float32)
    x_star = optimizer.solve(costs)
    model = initial_model(seed, costs.numpy())
    adam = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(features), generator=generator)
        for batch in order.split(BATCH_SIZE):
            x_relaxed, = layer(model(features[batch]))
            loss = (costs[batch] * (x_relaxed - x_star[batch])).sum(-1).mean()
            adam.zero_grad()
            loss.backward()
            adam.step()
    return model, scale


def run_cvxpylayers(data, epochs, gamma, seed):
    X, C, X_test, C_test = data
    start = time.perf_counter()
    model, scale = fit_cvxpylayers(X, C, epochs, gamma, seed)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        predictions = model(torch.tensor(X_test, dtype=torch.float32)).double().numpy()
    return regret(C_test, predictions * scale, optimizer=ShortestPath(grid=GRID)), seconds


LIBRARIES = {"skdfl": run_skdfl, "cvxpylayers": run_cvxpylayers}


# --------------------------------------------------------------------------
# Running and reporting
# --------------------------------------------------------------------------

def warm_up(gamma):
    """One tiny untimed run per side: first-use costs are charged to neither."""
    X, C, X_test, C_test = make_data(0, n_train=64, n_test=64)
    for run in LIBRARIES.values():
        run((X, C, X_test, C_test), 1, gamma, 0)


def run_all(args, log):
    results = {name: [] for name in LIBRARIES}
    order = list(LIBRARIES)
    for i, seed in enumerate(args.seeds):
        data = make_data(seed)
        for name in (order if i % 2 == 0 else order[::-1]):
            value, seconds = LIBRARIES[name](data, args.epochs, args.gamma, seed)
            results[name].append((value, seconds))
            log(f"seed={seed} {name:<11} regret={value:.4f} fit={seconds:7.2f}s")
    return results


def result_table(results):
    ours, theirs = np.mean(results["skdfl"], axis=0), np.mean(results["cvxpylayers"], axis=0)
    speedup = theirs[1] / ours[1]
    row = {"method": "relaxation", "skdfl regret": f"{ours[0]:.4f}",
           "cvxpylayers regret": f"{theirs[0]:.4f}", "skdfl s": f"{ours[1]:.2f}",
           "cvxpylayers s": f"{theirs[1]:.2f}", "speed-up": f"{speedup:.1f}x",
           f">={SPEEDUP_TARGET:g}x": verdict(speedup >= SPEEDUP_TARGET),
           "regret ok": verdict(ours[0] <= theirs[0] + REGRET_SLACK)}
    return format_table([row])


def header(args):
    import cvxpylayers
    import diffcp

    return "\n".join([
        f"shortest path {GRID[0]}x{GRID[1]}, degree {DEGREE}, {N_TRAIN} train / {N_TEST} test, "
        f"noise_width={NOISE_WIDTH}, linear model, Adam lr={LEARNING_RATE}, "
        f"batch={BATCH_SIZE}, epochs={args.epochs}, gamma={args.gamma:g} (on costs / mean|C|)",
        f"seeds={args.seeds}; skdfl {skdfl.__version__}, cvxpylayers "
        f"{cvxpylayers.__version__} (diffcp {diffcp.__version__}), torch {torch.__version__} "
        f"with {torch.get_num_threads()} thread(s), {os.cpu_count()} CPUs",
        "regret: normalized test regret, mean over seeds; s: fit wall seconds, mean over "
        "seeds; speed-up: cvxpylayers s / skdfl s.",
        f"Targets: >= {SPEEDUP_TARGET:g}x, regret <= cvxpylayers + {REGRET_SLACK}.",
    ])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs of every fit")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--gamma", type=float, default=0.1,
                        help="weight of the quadratic term, on the rescaled costs")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for both sides (0: leave torch's default)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line per fit (on stderr)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    log = progress_log(args.quiet)
    warm_up(args.gamma)
    results = run_all(args, log)
    print(header(args))
    print()
    print(result_table(results))


if __name__ == "__main__":
    main()
