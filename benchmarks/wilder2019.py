"""Table 1 of Wilder, Dilkina and Tambe (AAAI 2019) on the three synthetic domains.

What is measured
----------------
"Melding the Data-Decisions Pipeline: Decision-Focused Learning for
Combinatorial Optimization" compares, on three problems, networks trained
decision-focused (through a continuous relaxation of the problem) with the
same networks trained two-stage (for accuracy of the parameters), a random
forest trained two-stage, and random decisions. Its Table 1 reports the
objective value that each one's decisions achieve, under the true
parameters, on held-out instances. This script lays out the same table on
skdfl's synthetic versions of the three domains:

- **budget allocation** (``make_budget_allocation``): choose ``k`` channels
  to reach as many customers as possible, ``CoverageMaximizer(k,
  n_items=n_channels, n_targets=n_customers)``; probabilities ``theta`` in
  ``[0, 0.2]`` predicted by a regressor (squared error for two-stage);
- **diverse recommendation** (``make_diverse_recommendation``): choose
  ``k`` items that cover as many topics as possible; 0/1 coverage labels
  predicted as probabilities by ``DecisionFocusedClassifier`` (log-loss for
  two-stage);
- **bipartite matching** (``make_bipartite_matching``): match as many
  present edges as possible, ``LinearProgram.bipartite_matching(n_left,
  n_right)``; 0/1 edge labels predicted by ``DecisionFocusedClassifier``.

Rows (the paper's methods):

- ``NN1-Decision`` / ``NN2-Decision``: no hidden layer / one hidden layer
  (``--hidden`` units, ReLU), trained with ``method="relaxation"``: the
  multilinear extension of coverage maximized with ``-gamma ||x||^2``
  (``--gamma-budget``, ``--gamma-recommendation``), and for matching the
  quadratic program ``max theta @ x - gamma ||x||^2`` over the matching
  polytope (``--gamma-matching``). ``gamma`` must be positive for coverage
  too: with ``gamma = 0`` an exactly converged maximizer of the multilinear
  extension ends at a vertex, where the gradient is exactly 0. How large it
  must be depends on the scale of the objective's gradient: an item that
  covers 100 topics with predicted probability 0.5 has a gradient near 50, and
  there ``gamma = 0.1`` still leaves the relaxation at a vertex - the loss
  does not move at all. The defaults (1.0 for budget allocation, 3.0 for
  recommendation, 0.1 for matching) are the best of small pilot runs on one
  split (budget 0.3/1.0; recommendation 1/3/10; matching 0.03/0.1/0.5);
- ``NN1-2Stage`` / ``NN2-2Stage``: the same networks with
  ``method="two-stage"``;
- ``RF-2Stage``: ``PredictThenOptimize(RandomForestRegressor(...))``. On
  0/1 labels a regression forest predicts the fraction of positive labels in
  its leaves, i.e. the probabilities a classification forest would give
  (``RandomForestClassifier.predict`` would give 0/1 labels instead), so the
  regression forest is used in all three domains;
- ``Random``: the optimizer's decision for parameters drawn uniformly at
  random, independently of the features (``k`` random channels or items; a
  random maximal matching);
- ``Optimal``: the decision on the true parameters, for reference
  (coverage is solved by greedy, within ``1 - 1/e`` of the optimum, so a
  learned model can occasionally beat it on an instance).

All networks share one model across the items of an instance
(``per_item=True``: a channel's features -> its row of probabilities, an
item's ratings -> its topics, an edge's features -> its presence), as in the
paper. The decision-focused networks train for ``--epochs`` epochs, the
two-stage ones (cheap) for up to ``--two-stage-epochs`` with the default
stopping rule at ``tol=0``, so that the baseline is not under-trained.

Each cell is the mean over ``--splits`` random train/test splits of one
generated data set and its 95% t-interval (half-width after ``+-``); a
second table gives the normalized regret ``sum_i (f(x*_i) - f(x_i)) /
sum_i f(x*_i)`` (skdfl's definition; lower is better). The last table
checks the paper's finding: decision-focused beats two-stage with the same
network, per column, with the mean paired difference over the splits and its
95% interval.

Instances are much smaller than the paper's, so that the default run takes a
few minutes on 2 cores (about 6 minutes on 2 cores of a Xeon server); see
``python benchmarks/wilder2019.py --help``.

What we found
-------------
On these synthetic domains the paper's finding (decision-focused beats
two-stage with the same network in every column) did not hold. With the
defaults, decision-focused was ahead in 3 of the 14 (column, network) pairs,
never significantly, and significantly behind in 6 (budget allocation k=10
NN1 and k=20 both, recommendation k=20 both, matching NN1). With
``--epochs 45`` it was again ahead in 3 of 14 - NN1 on recommendation k=5,
10 and 20, significantly for k=10 (+0.6 topics) and k=20 (+0.8) - and
behind in all budget-allocation columns (significantly for k=5 NN1 and
k=20). Every learned model is far above random decisions. In budget
allocation the decision depends mostly on each channel's total reach, which
the squared-error fit already predicts about as well as the features allow.
"""

import argparse
from functools import partial
import os
import sys
import time
import warnings

import numpy as np
import torch
from joblib import Parallel, delayed
from scipy import stats
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ShuffleSplit

from skdfl import DecisionFocusedClassifier, DecisionFocusedRegressor
from skdfl.datasets import (make_bipartite_matching, make_budget_allocation,
                            make_diverse_recommendation)
from skdfl.estimators import PredictThenOptimize
from skdfl.optimizers import CoverageMaximizer, LinearProgram

METHODS = ["NN1-Decision", "NN2-Decision", "NN1-2Stage", "NN2-2Stage", "RF-2Stage", "Random",
           "Optimal"]
DOMAINS = ("budget", "recommendation", "matching")
TITLES = {"budget": "Budget allocation", "recommendation": "Diverse recommendation",
          "matching": "Matching"}


# --------------------------------------------------------------------------
# Domains
# --------------------------------------------------------------------------

def make_domain(name, args):
    """``X, y``, a function ``k -> optimizer`` and the estimator class of a domain."""
    n = args.n_train + args.n_test
    if name == "budget":
        X, y = make_budget_allocation(n, n_channels=args.channels, n_customers=args.customers,
                                      random_state=args.seed)
        # Coverage needs probabilities in [0, 1]: the regressor's output is
        # clipped there, gradients passing straight through (a sigmoid fits
        # these small probabilities badly and starts the relaxation at a vertex).
        clipped = partial(DecisionFocusedRegressor, out_activation="clip")
        return X, y, (lambda k: CoverageMaximizer(k, args.channels, args.customers)), \
            clipped, args.channels
    if name == "recommendation":
        X, y = make_diverse_recommendation(n, n_items=args.items, n_topics=args.topics,
                                           random_state=args.seed)
        return X, y, (lambda k: CoverageMaximizer(k, args.items, args.topics)), \
            DecisionFocusedClassifier, args.items
    X, y = make_bipartite_matching(n, n_left=args.nodes, n_right=args.nodes,
                                   random_state=args.seed)
    return X, y, (lambda k: LinearProgram.bipartite_matching(args.nodes, args.nodes)), \
        DecisionFocusedClassifier, args.nodes ** 2


def columns(args):
    """(domain, k) of every column of the table; k is None for matching."""
    out = []
    for domain in args.domains:
        if domain == "matching":
            out.append((domain, None))
        else:
            out += [(domain, k) for k in args.ks]
    return out


def column_name(domain, k):
    return TITLES[domain] if k is None else f"{TITLES[domain]} k={k}"


# --------------------------------------------------------------------------
# One split of one column: every method
# --------------------------------------------------------------------------

def run_split(domain, k, split, train, test, args):
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y, optimizer_for, Estimator, _ = make_domain(domain, args)
    optimizer = optimizer_for(k)
    X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
    gamma = {"budget": args.gamma_budget, "recommendation": args.gamma_recommendation,
             "matching": args.gamma_matching}[domain]
    common = dict(per_item=True, batch_size=args.batch_size,
                  learning_rate_init=args.learning_rate, random_state=split)
    models = {}
    for depth, hidden in (("NN1", ()), ("NN2", (args.hidden,))):
        models[f"{depth}-Decision"] = Estimator(
            optimizer, method="relaxation", gamma=gamma, hidden_layer_sizes=hidden,
            max_iter=args.epochs, n_iter_no_change=args.epochs, **common)
        models[f"{depth}-2Stage"] = Estimator(
            optimizer, method="two-stage", hidden_layer_sizes=hidden,
            max_iter=args.two_stage_epochs, tol=0.0, **common)
    forest = RandomForestRegressor(n_estimators=args.trees, min_samples_leaf=5,
                                   max_features=0.5, random_state=split, n_jobs=1)
    models["RF-2Stage"] = PredictThenOptimize(forest, optimizer, per_item=True)

    best = optimizer.objective(optimizer.solve(y_test), y_test)
    rng = np.random.RandomState(split)
    values = {"Random": optimizer.objective(optimizer.solve(rng.uniform(size=y_test.shape)),
                                            y_test),
              "Optimal": best}
    seconds = {}
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds[name] = time.perf_counter() - start
        values[name] = optimizer.objective(model.decide(X_test), y_test)
    result = {name: (float(np.mean(v)), float(np.sum(best - v) / np.sum(np.abs(best))))
              for name, v in values.items()}
    return domain, k, split, result, seconds


# --------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------

def interval(values):
    """Mean and half-width of the 95% t-interval."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return values.mean(), float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean(), half


def print_table(title, cols, cells, width):
    name_width = max(len(m) for m in METHODS) + 2
    print(f"\n{title}")
    header = " " * name_width + "".join(f"{c:>{width}}" for c in cols)
    print(header)
    print("-" * len(header))
    for method in METHODS:
        print(f"{method:<{name_width}}" + "".join(f"{cells[c][method]:>{width}}" for c in cols))


def report(results, cols, args):
    names = [column_name(d, k) for d, k in cols]
    width = max(20, max(len(n) for n in names) + 2)
    by_column = {column_name(d, k): {} for d, k in cols}
    for domain, k, split, result, _ in results:
        for method, pair in result.items():
            by_column[column_name(domain, k)].setdefault(method, {})[split] = pair
    objective = {c: {} for c in names}
    regret = {c: {} for c in names}
    for c in names:
        for method in METHODS:
            pairs = by_column[c][method]
            m, h = interval([p[0] for p in pairs.values()])
            objective[c][method] = f"{m:.2f} +- {h:.2f}"
            m, h = interval([p[1] for p in pairs.values()])
            regret[c][method] = f"{m:.3f} +- {h:.3f}"
    print_table(f"Objective under the true parameters (test mean per instance, higher is "
                f"better), mean +- 95% half-width over {args.splits} splits", names, objective,
                width)
    print_table("Normalized regret (lower is better)", names, regret, width)

    print("\nDecision-focused minus two-stage, same network (objective; paired over splits, "
          "mean and 95% interval):")
    held = []
    for c in names:
        for depth in ("NN1", "NN2"):
            dfl, two = by_column[c][f"{depth}-Decision"], by_column[c][f"{depth}-2Stage"]
            diff = [dfl[s][0] - two[s][0] for s in sorted(dfl)]
            m, h = interval(diff)
            verdict = "holds" if m > 0 else "FAILS"
            significant = "significant" if m - h > 0 or m + h < 0 else "not significant"
            held.append(m > 0)
            print(f"  {c:<{width}} {depth}: {m:+8.3f} [{m - h:+.3f}, {m + h:+.3f}]  "
                  f"{verdict} ({significant})")
    print(f"\nDecision-focused beats two-stage with the same network in {sum(held)} of "
          f"{len(held)} (column, network) pairs.")

    seconds = {}
    for _, _, _, _, s in results:
        for method, t in s.items():
            seconds.setdefault(method, []).append(t)
    print("\nMean fit seconds: " + ", ".join(f"{m} {np.mean(t):.1f}" for m, t in seconds.items()))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS))
    parser.add_argument("--ks", nargs="+", type=int, default=[5, 10, 20],
                        help="budgets k of the coverage domains")
    parser.add_argument("--splits", type=int, default=5, help="random train/test splits")
    parser.add_argument("--n-train", type=int, default=120, help="training instances")
    parser.add_argument("--n-test", type=int, default=100, help="test instances")
    parser.add_argument("--epochs", type=int, default=15,
                        help="epochs of the decision-focused networks")
    parser.add_argument("--two-stage-epochs", type=int, default=100,
                        help="largest number of epochs of the two-stage networks")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--hidden", type=int, default=32, help="hidden units of NN2")
    parser.add_argument("--gamma-budget", type=float, default=1.0,
                        help="gamma of the budget-allocation relaxation (> 0)")
    parser.add_argument("--gamma-recommendation", type=float, default=3.0,
                        help="gamma of the recommendation relaxation (> 0)")
    parser.add_argument("--gamma-matching", type=float, default=0.1,
                        help="gamma of the matching quadratic program (> 0)")
    parser.add_argument("--trees", type=int, default=50, help="trees of the random forest")
    parser.add_argument("--channels", type=int, default=30, help="budget: channels")
    parser.add_argument("--customers", type=int, default=60, help="budget: customers")
    parser.add_argument("--items", type=int, default=50, help="recommendation: items")
    parser.add_argument("--topics", type=int, default=100, help="recommendation: topics")
    parser.add_argument("--nodes", type=int, default=10, help="matching: nodes per side")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data")
    parser.add_argument("--n-jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="parallel processes (one split of one column each)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if min(args.gamma_budget, args.gamma_recommendation, args.gamma_matching) <= 0:
        parser.error("--gamma-budget, --gamma-recommendation and --gamma-matching must be > 0")
    for domain in args.domains:
        size = {"budget": args.channels, "recommendation": args.items}.get(domain)
        if size is not None and max(args.ks) > size:
            parser.error(f"--ks must be at most the number of items of {domain} ({size})")
    return args


def main(argv=None):
    args = parse_args(argv)
    cols = columns(args)
    splitter = ShuffleSplit(n_splits=args.splits, train_size=args.n_train,
                            test_size=args.n_test, random_state=args.seed)
    n = args.n_train + args.n_test
    tasks = [(domain, k, s, train, test) for domain, k in cols
             for s, (train, test) in enumerate(splitter.split(np.zeros(n)))]
    print(f"skdfl wilder2019: {len(cols)} columns x {args.splits} splits, "
          f"{args.n_train} train / {args.n_test} test instances, {args.n_jobs} processes",
          file=sys.stderr)
    start = time.perf_counter()
    results = []
    for result in Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(
            delayed(run_split)(*task, args) for task in tasks):
        results.append(result)
        if not args.quiet:
            domain, k, split, values, _ = result
            print(f"[{time.perf_counter() - start:6.0f}s] {column_name(domain, k)} split "
                  f"{split}: " + ", ".join(f"{m} {v[0]:.2f}" for m, v in values.items()),
                  file=sys.stderr)
    print(f"Wilder, Dilkina & Tambe (2019), Table 1 layout on skdfl's synthetic domains "
          f"({args.n_train} train / {args.n_test} test instances per split; budget "
          f"{args.channels}x{args.customers}, recommendation {args.items}x{args.topics}, "
          f"matching {args.nodes}x{args.nodes}; decision-focused: {args.epochs} epochs, gamma "
          f"{args.gamma_budget} / {args.gamma_recommendation} / {args.gamma_matching})")
    report(results, cols, args)
    print(f"\nTotal wall time: {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
