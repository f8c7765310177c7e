"""Cost of an epoch of the coverage relaxation against a two-stage epoch.

What is measured
----------------
``DecisionFocusedRegressor`` / ``DecisionFocusedClassifier`` with
``CoverageMaximizer(k, n_items, n_targets)``, ``method="relaxation"``
(``gamma``, default 1.0) against ``method="two-stage"``: the same network
(``per_item=True``, no hidden layer unless ``--hidden``), the same data,
batch size 32, the same number of epochs, no early stopping. Each fit is
timed whole (validation, true optima and the epochs) and divided by the
number of epochs. Problems:

- budget allocation: ``make_budget_allocation(n_samples, n_channels=30,
  n_customers=60)`` and ``n_customers=100`` (the regressor, with its
  default sigmoid output, or ``--link clip``: clipped to ``[0, 1]``, as
  measured before 3 December 2026);
- recommendation: ``make_diverse_recommendation(n_samples, n_items=30,
  n_topics=100)`` (the classifier).

Columns: seconds per epoch of each method, and their ratio. Target (issue
14): relaxation at most 5x two-stage on every row. The ratio is what to
read: both sides run side by side in one process, so a loaded machine
slows them alike, but absolute seconds are noisy.

Measured (``--quick``, 2 shared cores under a load of about 4, so noisy;
seconds per relaxation epoch, ratio to two-stage): before the Newton and
stopping changes of December 2026 1.50 / 1.24 / 0.55 s (63x / 39x / 26x),
after them 0.92 / 1.12 / 0.47 s (58x / 39x / 17x) for budget 30x60 / 30x100
/ recommendation. On 2 December 2026 (``--threads 1``, under the bench lock,
both in one run, two runs): the projected gradient loop 0.68-0.69 / 0.79-0.80
/ 0.34-0.38 s (36-39x / 28-35x / 9-11x); the Newton ascent of
``skdfl.optimizers._coverage_newton``, the default for ``gamma > 0`` since,
0.32-0.33 / 0.44-0.54 / 0.17-0.20 s (14-18x / 14-25x / 4.7-7.4x); the
two-stage epochs themselves varied by 30% between the runs.
The 5x target is met for recommendation at best. In cProfile (budget 30x100)
the ascent is 80% of the epoch, about 20 iterations per batch of some 150
small operations each (Newton point 33%, the fused value / gradient /
Hessian 24%, projections 19%, fallback gradient steps 17% of it); the KKT
backward is 11%. Warm starts from the previous epoch's solution of each
instance, measured on 3 December 2026 (budget 30x100, gamma 1, a batch of 32
predicted by the same model after epochs t and t + 1, the ascent started at
t's solution against the cold start): 22 evaluations against 27 (epoch 1 to
2), 19 against 18 (5 to 6), 43 against 17 (9 to 10), the same points to
1e-15 after epoch 5. They do not help: the clipped predictions move by 0.5 to
0.97 between epochs, and the ascent's cost is its step-length ramp from the
smallest step, not the distance to the point; so they were not built. What
is left is fewer operations per iteration.

On 3 December 2026 (the default 200 samples and 10 epochs, ``--threads 1``,
the code before and after the changes of that day, alternating, two runs
each): relaxation 0.150-0.155 -> 0.111-0.115 s per epoch (budget 30x60),
0.248-0.263 -> 0.156-0.162 (30x100), 0.171-0.174 -> 0.127-0.133
(recommendation); ratios 23x / 29-31x / 17x -> 16-17x / 19x / 12.5-13x. The
target is not met. What changed (benchmarks/README.rst lists it): the
backward in product form (3.1 -> 1.6 ms a batch), the ascent in inference
mode, one Cholesky factor per Newton proposal, a first step at the start's
curvature, a refused Newton point cut at the box, negative curvature after 6
idle iterations. Tried and left out (in the ``_coverage_newton`` docstring):
one evaluation per iteration and shorter Newton retries (16-77% slower on the
recommendation batches), a larger first step (a worse local maximum more
often), cutting every Newton point at the box. An iteration at batch 32 costs
about 1 ms, about 200 small operations (the Newton point a third of it, of
which 0.23 ms the Cholesky factor and solve); 8-15 iterations a batch.

At the estimators' defaults (3 December 2026, one run each, ``--threads
1``): with the budget regressor's default sigmoid instead of the clipped
output of the runs above, 0.078 / 0.101 / 0.137 s (11.9x / 11.1x / 13.1x)
at ``gamma`` 1, and 0.080 / 0.099 / 0.091 s (11.6x / 11.0x / 8.5x) with
``--gamma auto``, what a user's default fit gets; the clipped output in
the same session 16.5x / 18.1x / 12.5x. Still not 5x.

On 3 December 2026 (session 14, ``--gamma auto``, one thread): one run in
the morning 7.6x / 8.5x / 5.3x; in the afternoon, the code of the morning
and of the afternoon (classifiers started at the base rate of their
labels) taking turns, two runs each, 12.0-12.3x / 10.6-11.0x / 9.3-9.5x
and 11.8-11.9x / 9.4-10.8x / 8.4-9.2x: the same within the machine's
drift, which moved both sides' seconds by a third during the day. Warm
starts re-measured with the sigmoid predictions of the defaults (a batch
of 32 of budget 30x100 and of recommendation, predicted after epochs t and
t + 1, the ascent started at t's solution): 4-5 iterations against 5-7
cold, the same points to 1e-15; a quarter of the ascent at best, which
does not reach 5x either, and they need each row's identity in the
method layer, so they were not built. A fused ``addcmul`` for the factors
``1 - x theta`` was no faster than the three in-place operations.

Run ``python benchmarks/coverage_relaxation.py --help`` for the options;
``--quick`` (fewer samples and epochs) runs in well under a minute.
"""

import argparse
import time
import warnings

import torch
from sklearn.exceptions import ConvergenceWarning

from skdfl import DecisionFocusedClassifier, DecisionFocusedRegressor
from skdfl.datasets import make_budget_allocation, make_diverse_recommendation
from skdfl.optimizers import CoverageMaximizer

from _common import format_table, gamma_option, progress_log, verdict

RATIO_TARGET = 5.0


def problems(args):
    """(name, X, y, estimator class, extra keywords, optimizer) of every row."""
    out = []
    for customers in (60, 100):
        X, y = make_budget_allocation(args.n_samples, n_channels=30, n_customers=customers,
                                      random_state=args.seed)
        out.append((f"budget 30x{customers}", X, y, DecisionFocusedRegressor,
                    {"out_activation": args.link}, CoverageMaximizer(args.k, 30, customers)))
    X, y = make_diverse_recommendation(args.n_samples, n_items=30, n_topics=100,
                                       random_state=args.seed)
    out.append(("recommendation 30x100", X, y, DecisionFocusedClassifier, {},
                CoverageMaximizer(args.k, 30, 100)))
    return out


def seconds_per_epoch(Estimator, optimizer, X, y, method, extra, args):
    kwargs = dict(per_item=True, batch_size=32, max_iter=args.epochs, n_iter_no_change=None,
                  hidden_layer_sizes=tuple(args.hidden), random_state=args.seed, **extra)
    if method == "relaxation":
        kwargs["gamma"] = args.gamma
    est = Estimator(optimizer, method=method, **kwargs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter reached on purpose
        est.fit(X, y)
    return (time.perf_counter() - start) / args.epochs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n-samples", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--k", type=int, default=10, help="budget of the coverage problems")
    parser.add_argument("--gamma", type=gamma_option, default=1.0, help="> 0, or 'auto'")
    parser.add_argument("--link", choices=("sigmoid", "clip"), default="sigmoid",
                        help="output link of the budget-allocation regressor (sigmoid: "
                             "its default for coverage)")
    parser.add_argument("--hidden", type=int, nargs="*", default=[],
                        help="hidden layer sizes (none: a linear model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--quick", action="store_true", help="100 samples, 3 epochs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.epochs = 100, 3
    torch.set_num_threads(args.threads)
    log = progress_log(args.quiet)
    rows = []
    for i, (name, X, y, Estimator, extra, optimizer) in enumerate(problems(args)):
        if i == 0:      # warm up: the first fit pays torch's one-time start-up costs
            for method in ("two-stage", "relaxation"):
                seconds_per_epoch(Estimator, optimizer, X[:32], y[:32], method, extra, args)
        two_stage = seconds_per_epoch(Estimator, optimizer, X, y, "two-stage", extra, args)
        relaxation = seconds_per_epoch(Estimator, optimizer, X, y, "relaxation", extra, args)
        ratio = relaxation / two_stage
        log(f"{name}: two-stage {two_stage:.3f} s, relaxation {relaxation:.3f} s per epoch")
        rows.append({"problem": name, "two-stage s/epoch": f"{two_stage:.4f}",
                     "relaxation s/epoch": f"{relaxation:.4f}", "ratio": f"{ratio:.1f}",
                     f"<= {RATIO_TARGET:g}x": verdict(ratio <= RATIO_TARGET)})
    print(f"{args.n_samples} samples, batch 32, k={args.k}, gamma={args.gamma}, "
          f"budget link {args.link}, "
          f"{args.epochs} epochs, {torch.get_num_threads()} torch thread(s)")
    print(format_table(rows, left=("problem",)))


if __name__ == "__main__":
    main()
