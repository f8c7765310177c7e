"""
==========================================================================
TaskMet on a cubic top-k problem: a learned loss for a misspecified model
==========================================================================

This example follows the spirit of the *cubic* experiment of Bansal, Chen,
Mukadam and Amos, "TaskMet: Task-Driven Metric Learning for Model Learning"
(NeurIPS 2023): the true utilities are cubic functions of the features, the
model is **linear**, so it cannot be right everywhere, and the decision is a
**top-k** choice, so it only has to be right where the choice is made.

TaskMet (``method="taskmet"``) keeps training the model on a squared error,
but a *weighted* one, ``sum_n w_n(x) (theta_hat_n - theta_n)^2``. The weights
``w(x)``, the *metric*, are learned so that the model that minimizes this
weighted error decides well: the gradient of the decision loss reaches the
metric through the model's argmin by implicit differentiation. The paper's
claim, which we check here, is that this lowers the regret of plain
least-squares training ("two-stage") while keeping the prediction error much
closer to two-stage than end-to-end decision-focused training does (here
``"spo+"``).

The problem
-----------
Each instance has one scalar feature ``x ~ U(-1, 1)`` (think of a market
signal) and ten items, of which exactly ``k = 2`` are chosen
(:class:`~skdfl.optimizers.KSubset`). Item ``n`` has utility
``theta_n = u_n(x) + noise`` with Gaussian noise of standard deviation 0.3:

========  =======================  =================================
item      ``u_n(x)``               role
========  =======================  =================================
0         ``8 x^3``                cubic, in the top 2 for x > 0.45
1         ``-8 x^3``               cubic, in the top 2 for x < -0.48
2         ``8 x^3 - 1.5``          cubic, in the top 2 for x > 0.69
3, 4      ``1 + 0.2 x``,           linear, the choice in the middle
          ``0.8 - 0.2 x``
5 to 9    five low utilities       never among the best two
========  =======================  =================================

The model is :class:`~skdfl.DecisionFocusedRegressor` with
``hidden_layer_sizes=()``: one straight line ``a_n x + b_n`` per item. The
least-squares line of ``8 x^3`` on ``[-1, 1]`` is ``4.8 x``; it overtakes the
weaker linear item, ``0.8 - 0.2 x``, at ``x = 0.16``, whereas ``8 x^3`` itself
only does at ``x = 0.45``. Two-stage therefore picks item 0 on ``[0.16, 0.45]``,
where it is worse than both linear items (and likewise for items 1 and 2). A line
*can* make the right choices -- it only has to cross the level of the linear
items at the right place -- but least squares does not put it there. Only a
few items (0 to 4) and only a few regions of ``x`` (around the crossings)
matter for the decision.
"""

# %%
# Data
# ----
# All the randomness comes from seeded generators: a re-run prints the same
# numbers (on CPU, up to floating-point details).

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from skdfl import DecisionFocusedRegressor
from skdfl.metrics import regret
from skdfl.optimizers import KSubset

start = time.perf_counter()

K, NOISE = 2, 0.3
# u_n(x) = c0 + c1 * x + c3 * x^3, one row per item
COEFS = np.array([
    [0.0, 0.0, 8.0],      # 0: cubic
    [0.0, 0.0, -8.0],     # 1: cubic
    [-1.5, 0.0, 8.0],     # 2: cubic
    [1.0, 0.2, 0.0],      # 3: linear
    [0.8, -0.2, 0.0],     # 4: linear
    [-0.5, 0.0, 0.8],     # 5 to 9: never among the best two
    [-0.5, 0.0, -0.8],
    [-0.2, 0.3, 0.0],
    [-0.4, -0.3, 0.0],
    [-1.0, 0.0, 2.0],
])
N_ITEMS = len(COEFS)
GROUPS = {"items 0-2": slice(0, 3), "items 3-4": slice(3, 5), "items 5-9": slice(5, 10)}
top_k = KSubset(k=K)


def utilities(x):
    """Noise-free utilities, shape (len(x), N_ITEMS)."""
    return np.stack([np.ones_like(x), x, x**3], axis=1) @ COEFS.T


def make_instances(n, rng):
    """Features X of shape (n, 1) and noisy true utilities y of shape (n, N_ITEMS)."""
    x = rng.uniform(-1.0, 1.0, size=n)
    return x[:, None], utilities(x) + NOISE * rng.normal(size=(n, N_ITEMS))


# %%
# The true utilities (solid) and their least-squares lines (dashed, fitted
# on noise-free values) for the three cubic items. The thick parts of the
# curves mark where an item is among the best two.

grid = np.linspace(-1.0, 1.0, 401)
true_grid = utilities(grid)
in_top = top_k.solve(true_grid).astype(bool)
design = np.c_[grid, np.ones_like(grid)]
ls_lines = design @ np.linalg.lstsq(design, true_grid, rcond=None)[0]
colors = ["tab:red", "tab:blue", "tab:orange", "tab:green", "tab:olive"]

fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
for n in range(N_ITEMS):
    color = colors[n] if n < 5 else "0.6"
    ax.plot(grid, true_grid[:, n], color=color, lw=1, label=f"item {n}" if n < 5 else None)
    ax.plot(grid, np.where(in_top[:, n], true_grid[:, n], np.nan), color=color, lw=4)
    if n < 3:
        ax.plot(grid, ls_lines[:, n], "--", color=color, lw=1)
ax.plot([], [], color="0.6", label="items 5-9")
ax.set(xlabel="feature x", ylabel="utility", ylim=(-9, 9),
       title="True utilities (thick: among the best two) and least-squares lines (dashed)")
ax.legend(ncol=3, fontsize="small")
ax.grid(alpha=0.3)

# %%
# Three ways to train the same linear model
# -----------------------------------------
# - ``"two-stage"``: plain mean squared error on the utilities;
# - ``"spo+"``: the SPO+ surrogate of the regret (Elmachtoub and Grigas);
# - ``"taskmet"`` with ``metric="conditional"`` ("taskmet-cond"): a small
#   network maps the feature ``x`` to one positive weight per item
#   (normalized to mean 1 over a batch). Its task loss is SPO+ (skdfl uses the
#   ``"auto"`` method of the problem for it). Each batch makes one model step
#   on the weighted error (``inner_steps=1``) and one metric step (Adam,
#   ``metric_learning_rate``) along the implicit gradient, solved by 5
#   conjugate-gradient iterations (``cg_iter=5``; the model has only 20
#   weights);
# - ``"taskmet"`` with ``metric="diagonal"`` ("taskmet-diag"): one weight per
#   item, the same for every ``x``. We expect it to do nothing here: each item
#   has its own line, so the weighted error splits into one independent
#   least-squares problem per item, and a constant weight per item changes
#   none of their minimizers. It is a control.
#
# Every method trains for the same **fixed budget of 100 epochs** (Adam,
# learning rate 0.01, batches of 32), with the default stopping rule switched
# off (``n_iter_no_change=max_iter``): TaskMet's reported training loss is its
# task loss, and how far its metric has moved depends on how long it trains,
# so comparing at equal budgets is the fair choice. A small skorch callback records the test regret
# and the test MSE after every epoch, to show where each method is heading.
# The metric learning rate (0.01, the default, against 0.03 and 0.1),
# ``inner_steps`` (1 against 3) and the budget were chosen on three other
# seeds (100 to 102), not on the seeds reported below.

EPOCHS, N_TRAIN, N_TEST, SEEDS = 100, 300, 4000, [0, 1, 2, 3, 4]
METHODS = {
    "two-stage": dict(method="two-stage"),
    "spo+": dict(method="spo+"),
    "taskmet-diag": dict(method="taskmet", metric="diagonal", metric_learning_rate=0.01,
                         inner_steps=1, cg_iter=5),
    "taskmet-cond": dict(method="taskmet", metric="conditional", metric_learning_rate=0.01,
                         inner_steps=1, cg_iter=5),
}


class TestCurve(Callback):
    """Test regret and MSE of the estimator's current predictions, every epoch.

    ``fit`` sets up the estimator (its target scale, its network) before the
    first epoch, so ``predict`` works from inside the training loop.
    """

    def __init__(self, estimator, X, y):
        self.estimator, self.X, self.y = estimator, X, y

    def initialize(self):
        self.regret, self.mse = [], []
        return self

    def on_epoch_end(self, net, **kwargs):
        theta_hat = self.estimator.predict(self.X)
        self.regret.append(regret(self.y, theta_hat, optimizer=top_k))
        self.mse.append(np.mean((theta_hat - self.y) ** 2))


# %%
# Training
# --------
# Every seed draws its own 300 training and 4000 test instances; all methods
# see the same data and the same ``random_state``. As a floor we also score
# the noise-free utilities ``u(x)`` themselves: the best any model of ``x``
# can do.

results = {name: {"regret": [], "mse": [], "group_mse": [], "curve_regret": [],
                  "curve_mse": [], "seconds": []} for name in METHODS}
floor = []
fitted = {}  # the estimators of the first seed, for the pictures below
for seed in SEEDS:
    rng = np.random.default_rng(seed)
    X_train, y_train = make_instances(N_TRAIN, rng)
    X_test, y_test = make_instances(N_TEST, rng)
    floor.append(regret(y_test, utilities(X_test[:, 0]), optimizer=top_k))
    for name, params in METHODS.items():
        est = DecisionFocusedRegressor(top_k, hidden_layer_sizes=(), max_iter=EPOCHS,
                                       n_iter_no_change=EPOCHS, random_state=seed, **params)
        curve = TestCurve(est, X_test, y_test)
        est.set_params(callbacks=[curve])
        tic = time.perf_counter()
        with warnings.catch_warnings():  # "reached max_iter": the fixed budget, on purpose
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X_train, y_train)
        seconds = time.perf_counter() - tic
        theta_hat = est.predict(X_test)
        squared = (theta_hat - y_test) ** 2
        res = results[name]
        res["regret"].append(regret(y_test, theta_hat, optimizer=top_k))
        res["mse"].append(squared.mean())
        res["group_mse"].append([squared[:, cols].mean() for cols in GROUPS.values()])
        res["curve_regret"].append(curve.regret)
        res["curve_mse"].append(curve.mse)
        res["seconds"].append(seconds)
        if seed == SEEDS[0]:
            fitted[name] = est

# %%
# Results
# -------
# Normalized test regret (``skdfl.metrics.regret``: total regret over the
# total optimal value) and test MSE on the raw utilities, mean +- standard
# deviation over the five seeds; the MSE is also split by item group. The
# noise alone gives an MSE of 0.09. ``s/fit`` is the mean training time.

print(f"{len(SEEDS)} seeds, {N_TRAIN} training / {N_TEST} test instances, "
      f"{EPOCHS} epochs each")
print(f"noise-free utilities u(x): regret {np.mean(floor):.3f}")
header = "".join(f"{'MSE ' + group:>15}" for group in GROUPS)
print(f"{'method':<13} {'regret':>15} {'MSE':>15}{header} {'s/fit':>6}")
for name, res in results.items():
    groups = np.mean(res["group_mse"], axis=0)
    print(f"{name:<13} {np.mean(res['regret']):>7.3f} +-{np.std(res['regret']):.3f}"
          f" {np.mean(res['mse']):>7.3f} +-{np.std(res['mse']):.3f}"
          + "".join(f"{value:>15.3f}" for value in groups)
          + f" {np.mean(res['seconds']):>6.1f}")

print("\nper seed (regret / MSE):")
for name, res in results.items():
    cells = "  ".join(f"{r:.3f}/{m:.2f}" for r, m in zip(res["regret"], res["mse"]))
    print(f"{name:<13} {cells}")

# %%
# Left and middle: mean test regret and MSE after every epoch (bands: +- one
# standard deviation over the seeds). Right: the final models, one dot per
# seed and method; lower left is better on both counts.

method_colors = {"two-stage": "tab:gray", "spo+": "tab:purple", "taskmet-diag": "tab:cyan",
                 "taskmet-cond": "tab:green"}
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), layout="constrained")
epochs = np.arange(1, EPOCHS + 1)
for name, res in results.items():
    for ax, key in zip(axes[:2], ("curve_regret", "curve_mse")):
        values = np.array(res[key])
        mean, std = values.mean(0), values.std(0)
        ax.plot(epochs, mean, color=method_colors[name], label=name)
        ax.fill_between(epochs, mean - std, mean + std, color=method_colors[name], alpha=0.2)
    axes[2].scatter(res["mse"], res["regret"], color=method_colors[name], label=name)
axes[0].axhline(np.mean(floor), color="k", ls=":", lw=1, label="noise-free u(x)")
axes[0].set(xlabel="epoch", ylabel="normalized test regret", yscale="log",
            title="Test regret during training")
axes[1].set(xlabel="epoch", ylabel="test MSE", yscale="log", title="Test MSE during training")
axes[2].set(xlabel="test MSE", ylabel="normalized test regret",
            title=f"After {EPOCHS} epochs (one dot per seed)")
for ax in axes:
    ax.grid(alpha=0.3, which="both")
axes[0].legend()

# %%
# The learned metric
# ------------------
# ``metric_`` is the fitted metric module: it maps a float32 tensor of features
# to positive weights, one per item. Its output is normalized to mean 1 over
# the batch it is given, so we give it a uniform grid of ``x``, like the
# training data: the weights are relative. Left: the weights of the first
# seed's conditional TaskMet model. Right: the lines that each method fitted for the three
# cubic items (same seed), against the true cubics.

taskmet = fitted["taskmet-cond"]
with torch.no_grad():
    weights = taskmet.metric_(torch.tensor(grid[:, None], dtype=torch.float32)).numpy()

fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
for n in range(N_ITEMS):
    color = colors[n] if n < 5 else "0.6"
    axes[0].plot(grid, weights[:, n], color=color, lw=2 if n < 5 else 1,
                 label=f"item {n}" if n < 5 else ("items 5-9" if n == 5 else None))
axes[0].set(xlabel="feature x", ylabel="metric weight w_n(x)", yscale="log",
            ylim=(1e-3, None), title="Learned conditional metric (TaskMet, seed 0)")
axes[0].legend(fontsize="small", ncol=2)

styles = {"two-stage": ":", "spo+": "--", "taskmet-cond": "-"}
for n in range(3):
    axes[1].plot(grid, true_grid[:, n], color=colors[n], lw=4, alpha=0.3)
    for name, style in styles.items():
        est = fitted[name]
        axes[1].plot(grid, est.predict(grid[:, None])[:, n], style, color=colors[n],
                     lw=1.5, label=name if n == 0 else None)
axes[1].axhspan(0.7, 1.2, color="tab:green", alpha=0.15, lw=0,
                label="level of the linear items 3-4")
axes[1].set(xlabel="feature x", ylabel="utility", ylim=(-5, 5),
            title="Fitted lines of the cubic items 0 (red), 1 (blue), 2 (orange)")
axes[1].legend(fontsize="small")
for ax in axes:
    ax.grid(alpha=0.3, which="both")


# %%
# Where does each model put the cubic items in its top 2 (seed 0)? The
# decisions on the grid of ``x``, against the decisions on the noise-free
# utilities. And the diagonal metric's weights, one per item.


def entry_point(chosen, item, side):
    """The smallest (side=+1) or largest (side=-1) x where item is chosen."""
    xs = grid[chosen[:, item].astype(bool)]
    if len(xs) == 0:
        return "  never"
    return f"{xs.min():+7.2f}" if side > 0 else f"{xs.max():+7.2f}"


print("\nin the top 2 (seed 0):  item 0 for x >  item 1 for x <  item 2 for x >")
decisions = {"noise-free u(x)": in_top}
decisions.update({name: est.decide(grid[:, None]) for name, est in fitted.items()})
for name, chosen in decisions.items():
    cells = [entry_point(chosen, 0, +1), entry_point(chosen, 1, -1), entry_point(chosen, 2, +1)]
    print(f"{name:<16} {cells[0]:>17} {cells[1]:>15} {cells[2]:>15}")

with torch.no_grad():
    diagonal = fitted["taskmet-diag"].metric_(torch.zeros(1, 1))[0].numpy()
print("\ndiagonal metric weights (seed 0):", np.array2string(diagonal, precision=2))

print(f"\nrun time: {time.perf_counter() - start:.1f} s")

# %%
# What we found
# -------------
# The numbers quoted here are those of our run (torch 2.13, CPU, one thread;
# 3 December 2026, since the linear models start at the mean target; the
# caveats' tuning runs are from before that).
#
# **The claim held here, at this budget, in the form stated above -- for the
# conditional metric.**
#
# - *Regret.* TaskMet's regret is 0.045 +- 0.003, against 0.066 +- 0.008 for
#   two-stage: 32% lower, and lower on each of the five seeds. SPO+ is much
#   lower still, 0.024 +- 0.002, close to the 0.017 of the noise-free
#   utilities. TaskMet thus closes about half of the gap between two-stage and
#   SPO+; it does not match SPO+.
# - *Prediction error.* TaskMet's MSE is 0.626 +- 0.025, 13% above
#   two-stage's 0.554 +- 0.024; SPO+'s is 1.115 +- 0.188, 101% above. Nearly
#   all of TaskMet's extra error sits in the cubic items 0-2 (1.82 against
#   1.60): the linear items keep two-stage's error (0.091, next to the noise
#   floor of 0.09) and the never-chosen items nearly (0.123 against 0.115).
#   TaskMet's model still minimizes a squared error for every item, and an
#   item's weights cannot move another item's line. SPO+ only asks for the right ranking, and it degrades every
#   group: the linear items go from 0.09 to 1.16 and the never-chosen items
#   from 0.12 to 0.59.
# - *The diagonal metric did nothing useful*, as expected: 0.068 +- 0.008
#   regret and 0.551 MSE, within the seed-to-seed spread of two-stage. Its
#   weights did move (seed 0: from 1 to between 1.1 and 4.2), but a constant
#   weight per item cannot move any item's least-squares line here.
# - *Where the decisions changed* (seed 0, the small table above). The least
#   squares lines put item 0 in the top 2 from ``x = 0.17`` instead of 0.45,
#   item 1 up to ``x = -0.17`` instead of -0.48, item 2 from 0.53 instead of
#   0.70. SPO+ moved all three entry points most of the way (0.37, -0.35,
#   0.64). TaskMet moved item 1 most of the way (-0.33), item 0 part of it
#   (0.28) and item 2 hardly (0.53).
# - *The learned metric is a lever, not a map of importance.* Item 1, whose
#   decisions TaskMet fixed best, gets almost all its weight for ``x > 0``,
#   where it is never chosen; item 0 gets its largest weight at ``x = -1``,
#   where it is never chosen either. A line has two parameters; there,
#   ``-8 x^3`` (or ``8 x^3``) lies far below its least-squares line, so
#   weighting those points pulls the line down, and it crosses the level of
#   the linear items later, closer to where the cubic does (right panel). A
#   tuning seed we looked at had the same shapes.
#
# **Caveats.** TaskMet's task loss is SPO+ (skdfl uses the problem's
# ``"auto"`` method), which keeps rewarding wider margins after the decisions
# are right, so the metric never settles: TaskMet's MSE creeps up after epoch
# 60 in the middle panel. Its small MSE cost comes from the metric starting at
# the identity (that is, at two-stage) and moving slowly towards the SPO+
# solution; how far it gets depends on the budget and the learning rates. On
# the tuning seeds, TaskMet went from 0.033 regret / 0.74 MSE after 100 epochs
# to 0.028 / 0.85 after 150. With a model learning rate of 0.03, or with
# ``inner_steps=3``, its MSE after 150 epochs was 4.0 and 4.8, far *above*
# SPO+'s: the metric had put the cubic items' weight on a narrow range of
# ``x``, and their lines became steep tangents, very wrong elsewhere. Note also
# that two-stage passes through a regret of about 0.05 around epoch 50, before
# converging to the least-squares lines (0.065): half-trained lines happen to
# decide better here, which one could only exploit with a decision-aware
# stopping rule.

plt.show()
