"""Multi-dimensional knapsack: skdfl's integer programs against PyEPO 2.2.7 with gurobi.

What is measured
----------------
PyEPO's multi-dimensional knapsack data (``pyepo.data.knapsack.genData``: 2
dimensions, 32 items, 5 features, polynomial degree 4, noise half-width 0.5,
1000 training and 1000 test instances), with the item weights rounded to
integers (PyEPO draws them in {3.00, ..., 7.99}; rounded, every library
solves the same integer problem) and a capacity of 20 per dimension. The
decision maximizes ``value @ x`` subject to ``weights @ x <= 20`` per
dimension, ``x`` in {0, 1}^32.

Every library trains the same model with spo+: one linear layer (5 features ->
32 values), Adam with learning rate 0.01, batch 32, the same epochs, no early
stopping, on values divided by their mean absolute training value (skdfl's
``target_scale_``; PyEPO gets ``c / scale``: no decision changes). Solvers:

- ``PyEPO gurobi``: ``pyepo.model.grb.knapsackModel`` and ``pyepo.func.SPOPlus``
  (one gurobi solve per instance, ``processes=1``; at ``solve_ratio`` 0.1 its
  solution pool, seeded with the training optima);
- ``skdfl MILP``: ``MixedIntegerProgram`` (HiGHS, licence-free), ``n_jobs=2``
  (and ``n_jobs=1`` at ``solve_ratio`` 1.0, to show what the threads buy);
- ``skdfl DP``: the multi-dimensional ``Knapsack``, an exact batched dynamic
  program over the 21 x 21 capacities.

Each at ``solve_ratio`` 1.0 and 0.1 (skdfl's solution pool: the training optima,
growing with every solve; a pooled instance takes its best pool entry).
Reported per row, mean over the seeds: normalized test regret, whole-fit
seconds (the training optima included), and the time ratio against PyEPO at
the same solve_ratio and against PyEPO solving every instance.

Targets: regret within PyEPO's + 0.005 everywhere; the DP at least 5x faster
than PyEPO; the MILP (2 threads) at most 5x PyEPO's time at solve_ratio 1 and,
at 0.1, no slower than PyEPO solving every instance; ``n_jobs=2`` at least 1.5x
faster than ``n_jobs=1``.

Run alone: ``python benchmarks/milp.py --threads 1`` (``--help`` for options).

Measured (2026-12-02, 3 seeds, one torch thread). The whole table, with other
jobs running on the machine (so the two HiGHS threads had less than two
cores: n_jobs=2 came out 1.03x n_jobs=1 here)::

    multi-dimensional knapsack: 2 x 32 items, capacity 20, 1000/1000 instances, spo+, 10 epochs, seeds [0, 1, 2], torch threads 1
    solver               solve_ratio  regret  PyEPO regret  regret ok  seconds  PyEPO/this  PyEPO(1.0)/this
    -------------------  -----------  ------  ------------  ---------  -------  ----------  ---------------
    PyEPO gurobi                   1  0.0886        0.0886        yes    11.86       1.00x            1.00x
    PyEPO gurobi                 0.1  0.0897        0.0897        yes     4.36       1.00x            2.72x
    skdfl MILP n_jobs=2            1  0.0883        0.0886        yes    31.33       0.38x            0.38x
    skdfl MILP n_jobs=2          0.1  0.0882        0.0897        yes    10.28       0.42x            1.15x
    skdfl MILP n_jobs=1            1  0.0883        0.0886        yes    32.33       0.37x            0.37x
    skdfl DP                       1  0.0897        0.0886        yes     1.88       6.29x            6.29x
    skdfl DP                     0.1  0.0896        0.0897        yes     0.95       4.58x           12.48x
    Targets:
      DP >= 5x faster than PyEPO: yes
      MILP (2 threads) <= 5x PyEPO at solve_ratio 1: yes
      MILP at solve_ratio 0.1 no slower than PyEPO at 1: yes
      n_jobs=2 >= 1.5x faster than n_jobs=1: NO (1.03x)

Then, on the idle machine, after the HiGHS threads became kept between calls
(with their models), ``--solvers MILP``::

    multi-dimensional knapsack: 2 x 32 items, capacity 20, 1000/1000 instances, spo+, 10 epochs, seeds [0, 1, 2], torch threads 1
    solver               solve_ratio  regret  PyEPO regret  regret ok  seconds  PyEPO/this  PyEPO(1.0)/this
    -------------------  -----------  ------  ------------  ---------  -------  ----------  ---------------
    PyEPO gurobi                   1  0.0886        0.0886        yes    11.25       1.00x            1.00x
    PyEPO gurobi                 0.1  0.0898        0.0898        yes     3.91       1.00x            2.88x
    skdfl MILP n_jobs=2            1  0.0883        0.0886        yes    16.88       0.67x            0.67x
    skdfl MILP n_jobs=2          0.1  0.0882        0.0898        yes     5.37       0.73x            2.10x
    skdfl MILP n_jobs=1            1  0.0883        0.0886        yes    30.01       0.37x            0.37x
    Targets:
      MILP (2 threads) <= 5x PyEPO at solve_ratio 1: yes
      MILP at solve_ratio 0.1 no slower than PyEPO at 1: yes
      n_jobs=2 >= 1.5x faster than n_jobs=1: yes (1.78x)

Every target held in one of the two: the DP 6.29x PyEPO (was 4.44x: its
strided views planned once per weights and batch, the trace back in numpy on
the CPU), the MILP 1.5x PyEPO's time at ``solve_ratio`` 1 and 0.48x at 0.1,
``n_jobs=2`` 1.78x ``n_jobs=1`` (was 1.45x with a joblib pool per call),
regret within PyEPO's + 0.005 everywhere.
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn
from torch.utils.data import DataLoader

import pyepo
from _common import (format_table, progress_log, pyepo_dataset, silenced_stdout_fd,
                     train_pyepo_epoch, verdict)
from skdfl import DecisionFocusedRegressor
from skdfl.optimizers import Knapsack, MixedIntegerProgram

N_ITEMS, N_DIMS, N_FEATURES, CAPACITY = 32, 2, 5, 20
LEARNING_RATE, BATCH_SIZE = 0.01, 32


def make_data(n_train, n_test, seed=135):
    weights, X, C = pyepo.data.knapsack.genData(n_train + n_test, N_FEATURES, N_ITEMS,
                                                dim=N_DIMS, deg=4, noise_width=0.5, seed=seed)
    weights = np.round(weights).astype(np.int64)
    C = C.astype(np.float64)
    return weights, X[:n_train], C[:n_train], X[n_train:], C[n_train:]


def skdfl_optimizer(kind, weights, n_jobs):
    capacity = [CAPACITY] * N_DIMS
    if kind == "DP":
        return Knapsack(weights, capacity)
    return MixedIntegerProgram(A_ub=weights.astype(float), b_ub=np.array(capacity, float),
                               bounds=(0, 1), integrality=1, sense="maximize", n_jobs=n_jobs)


def run_skdfl(kind, n_jobs, ratio, data, epochs, seed):
    weights, X, C, X_test, C_test = data
    est = DecisionFocusedRegressor(skdfl_optimizer(kind, weights, n_jobs), method="spo+",
                                   solve_ratio=ratio, learning_rate_init=LEARNING_RATE,
                                   batch_size=BATCH_SIZE, max_iter=epochs,
                                   n_iter_no_change=10**6, random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, C)
    seconds = time.perf_counter() - start
    # Test regret with the exact DP (the same optima as every solver here).
    theta_hat = est.predict(X_test)
    return _regret(weights, C_test, theta_hat), seconds, est.target_scale_


def _regret(weights, C, theta_hat):
    from skdfl.metrics import regret

    return regret(C, theta_hat, optimizer=Knapsack(weights, [CAPACITY] * N_DIMS))


def run_pyepo(ratio, data, epochs, seed, scale):
    weights, X, C, X_test, C_test = data
    start = time.perf_counter()
    with silenced_stdout_fd():
        optmodel = pyepo.model.grb.knapsackModel(weights=weights, capacity=[CAPACITY] * N_DIMS)
        dataset = pyepo_dataset(optmodel, X, C / scale)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Linear(N_FEATURES, N_ITEMS)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    spo = pyepo.func.SPOPlus(optmodel, processes=1, solve_ratio=ratio, dataset=dataset)
    for _ in range(epochs):
        train_pyepo_epoch(model, loader, spo, optimizer)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        theta_hat = model(torch.as_tensor(X_test, dtype=torch.float32)).double().numpy()
    return _regret(weights, C_test, theta_hat), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--solvers", nargs="+", choices=("MILP", "DP"), default=("MILP", "DP"),
                        help="skdfl's solvers to run (PyEPO always runs: the ratios need it)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    log = progress_log(args.quiet)
    data = make_data(args.n_train, args.n_test)
    rows = {}   # (library, ratio) -> list of (regret, seconds)
    configs = [("PyEPO gurobi", None, None), ("skdfl MILP n_jobs=2", "MILP", 2),
               ("skdfl MILP n_jobs=1", "MILP", 1), ("skdfl DP", "DP", None)]
    with silenced_stdout_fd():   # warm-up: imports, licence check
        run_pyepo(1.0, data, 1, 0, 1.0)
    # skdfl's warm-up too (imports, first calls), on a few rows: neither library's first
    # fit pays for loading code in the table.
    weights, X, C = data[:3]
    small = (weights, X[:64], C[:64], X[:64], C[:64])
    for kind in ("DP", "MILP"):
        run_skdfl(kind, 2, 1.0, small, 1, 0)
    scale = float(np.mean(np.abs(data[2])))   # skdfl's target_scale_ (checked below)
    configs = [c for c in configs if c[1] is None or c[1] in args.solvers]
    for seed in args.seeds:
        for label, kind, n_jobs in configs:
            for ratio in (1.0, 0.1):
                if n_jobs == 1 and ratio != 1.0:
                    continue
                if kind is None:
                    result = run_pyepo(ratio, data, args.epochs, seed, scale)
                else:
                    *result, target_scale = run_skdfl(kind, n_jobs, ratio, data,
                                                      args.epochs, seed)
                    assert np.isclose(target_scale, scale)
                rows.setdefault((label, ratio), []).append(result)
                log(f"seed {seed} {label} solve_ratio {ratio}: regret {result[0]:.4f}, "
                    f"{result[1]:.1f} s")
    mean = {key: np.mean(values, axis=0) for key, values in rows.items()}
    pyepo_full = mean[("PyEPO gurobi", 1.0)][1]
    table = []
    for (label, ratio), (reg, seconds) in mean.items():
        pyepo_same = mean[("PyEPO gurobi", ratio)]
        table.append({"solver": label, "solve_ratio": f"{ratio:g}", "regret": f"{reg:.4f}",
                      "PyEPO regret": f"{pyepo_same[0]:.4f}",
                      "regret ok": verdict(reg <= pyepo_same[0] + 0.005),
                      "seconds": f"{seconds:.2f}",
                      "PyEPO/this": f"{pyepo_same[1] / seconds:.2f}x",
                      "PyEPO(1.0)/this": f"{pyepo_full / seconds:.2f}x"})
    print(f"multi-dimensional knapsack: {N_DIMS} x {N_ITEMS} items, capacity {CAPACITY}, "
          f"{args.n_train}/{args.n_test} instances, spo+, {args.epochs} epochs, seeds "
          f"{args.seeds}, torch threads {torch.get_num_threads()}")
    print(format_table(table, left=("solver",)))
    print("Targets:")
    if "DP" in args.solvers:
        dp = mean[("skdfl DP", 1.0)][1]
        print(f"  DP >= 5x faster than PyEPO: {verdict(pyepo_full / dp >= 5)}")
    if "MILP" not in args.solvers:
        return
    milp1, milp2 = mean[("skdfl MILP n_jobs=1", 1.0)][1], mean[("skdfl MILP n_jobs=2", 1.0)][1]
    print(f"  MILP (2 threads) <= 5x PyEPO at solve_ratio 1: {verdict(milp2 <= 5 * pyepo_full)}")
    print(f"  MILP at solve_ratio 0.1 no slower than PyEPO at 1: "
          f"{verdict(mean[('skdfl MILP n_jobs=2', 0.1)][1] <= pyepo_full)}")
    print(f"  n_jobs=2 >= 1.5x faster than n_jobs=1: {verdict(milp1 / milp2 >= 1.5)} "
          f"({milp1 / milp2:.2f}x)")


if __name__ == "__main__":
    main()
