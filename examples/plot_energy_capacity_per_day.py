"""
Instances that differ: a capacity per day on real electricity prices
====================================================================

The energy knapsack (see :ref:`sphx_glr_auto_examples_plot_energy_knapsack.py`)
picks the half-hour slots of a day with the highest prices under a capacity.
Real days differ: how much flexible load there is to place changes from day
to day, and it is *known* the evening before, when the plan is made. It is
not predicted; it travels with the row, like ``sample_weight``.

skdfl takes such per-instance problem data as keyword arrays named after the
constructor argument they override (``Knapsack.instance_params`` lists
``capacity`` and ``weights``): ``fit(X, y, capacity=...)``,
``decide(X, capacity=...)``, ``score(X, y, capacity=...)``. Every solve of
training (the true decisions, SPO+'s shifted solve) uses each day's own
capacity, batched: one dynamic-programming table per batch, read at each
day's capacity.

Here a model trained with each day's capacity is compared with the same model
trained as a library with constraints fixed across instances must train it:
with one capacity (120) for every day. Both then decide every test day with
that day's real capacity.
"""

# %%
# A capacity per day
# ------------------
import matplotlib.pyplot as plt
import numpy as np

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import load_energy_knapsack
from skdfl.metrics import regret
from skdfl.optimizers import Knapsack
from skdfl.pipeline import make_pipeline
from skdfl.preprocessing import PerItemStandardScaler

energy = load_energy_knapsack()
train, test = energy.train_mask, ~energy.train_mask
rng = np.random.RandomState(0)
capacity = rng.randint(60, 181, size=len(energy.target))   # known a day ahead
print(f"capacities from {capacity.min()} to {capacity.max()} "
      f"(the 48 slot weights sum to {energy.weights.sum()})")


def model(seed=0):
    return make_pipeline(
        PerItemStandardScaler(n_items=48),
        DecisionFocusedRegressor(Knapsack(energy.weights, capacity=120), method="spo+",
                                 per_item=True, max_iter=30, n_iter_no_change=None,
                                 random_state=seed))


# %%
# Train with and without the per-day capacity
# -------------------------------------------
# In a pipeline without metadata routing, a step's fit parameters carry the
# step's name; with ``sklearn.set_config(enable_metadata_routing=True)`` the
# plain name ``capacity=`` is routed to the estimator, which requests it by
# default.
per_day = model().fit(energy.data[train], energy.target[train],
                      decisionfocusedregressor__capacity=capacity[train])
fixed = model().fit(energy.data[train], energy.target[train])

X_test, y_test, cap_test = energy.data[test], energy.target[test], capacity[test]
results = {}
for name, fitted in (("trained per day", per_day), ("trained at capacity 120", fixed)):
    prices = fitted.predict(X_test)
    results[name] = regret(y_test, prices, optimizer=Knapsack(energy.weights, 120),
                           capacity=cap_test, reduction="none")
    total = regret(y_test, prices, optimizer=Knapsack(energy.weights, 120),
                   capacity=cap_test)
    print(f"{name:24s} normalized test regret {total:.4f}")

# The per-day model decides each test day with that day's capacity:
plan = per_day.decide(X_test[:3], capacity=cap_test[:3])
print("slots chosen on the first three test days:", plan.sum(1), "capacities", cap_test[:3])

# %%
# Regret against the day's capacity
# ---------------------------------
# A model trained at one capacity learns to rank the prices that matter at
# that capacity: the top slots of a day when 120 weight units fit. Days with
# much less or much more room need a different part of the ranking right,
# and there its decisions are worse. Trained with each day's capacity, the
# model ranks well wherever the days need it.
fig, ax = plt.subplots(figsize=(7, 4))
bins = np.array([60, 90, 120, 150, 181])
centers = (bins[:-1] + bins[1:] - 1) / 2
optimum = (y_test * Knapsack(energy.weights, 120).solve(y_test, capacity=cap_test)).sum(1)
for offset, (name, per_instance) in zip((-6, 6), results.items()):
    means = [per_instance[(cap_test >= lo) & (cap_test < hi)].sum()
             / optimum[(cap_test >= lo) & (cap_test < hi)].sum()
             for lo, hi in zip(bins[:-1], bins[1:])]
    ax.bar(centers + offset, means, width=12, label=name)
ax.axvline(120, color="grey", linestyle=":", label="the fixed training capacity")
ax.set_xlabel("capacity of the test day")
ax.set_ylabel("normalized test regret")
ax.set_title("Energy knapsack with a capacity per day")
ax.legend()
fig.tight_layout()
plt.show()
