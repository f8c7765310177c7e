"""
Scheduling on real electricity prices: the energy knapsack
==========================================================

Each day, a flexible consumer picks half-hour slots to sell (or run) in,
and wants the slots with the highest wholesale prices. Each slot has a
weight (the energy it needs), and a day's total weight is capped: a 0-1
knapsack over the 48 slots of the day, with the prices unknown in advance and
predicted from calendar and forecast features. This is the energy benchmark
of Mandi et al. (JAIR 2024) on the real ICON challenge prices that skdfl ships
(:func:`skdfl.datasets.load_energy_knapsack`).

One row is one day: 48 slots times 8 features, flattened slot by slot. With
``per_item=True`` a single linear model is shared by all slots, as in the
benchmark, and :class:`skdfl.preprocessing.PerItemStandardScaler` puts the
features on one scale without erasing what tells the slots apart.
"""

# %%
# The data and the capacities
# ---------------------------
import time

import matplotlib.pyplot as plt
import numpy as np

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import load_energy_knapsack
from skdfl.optimizers import Knapsack
from skdfl.pipeline import make_pipeline
from skdfl.preprocessing import PerItemStandardScaler


energy = load_energy_knapsack()
train, test = energy.train_mask, ~energy.train_mask
X_train, y_train = energy.data[train], energy.target[train]
X_test, y_test = energy.data[test], energy.target[test]
print(f"{train.sum()} training days, {test.sum()} test days, "
      f"{X_train.shape[1]} features and {y_train.shape[1]} prices a day")

capacities = [60, 120, 180]
methods = {
    "two-stage": {},
    "spo+": {},
    "dbb": {"lambd": 1.0},
    "imle": {"lambd": 10.0, "n_samples": 1},
    "relaxation": {"gamma": 0.1},
}

# %%
# Train every method at every capacity
# ------------------------------------
# The targets are prices in the hundreds; the estimator trains on internally
# rescaled prices (no decision changes under a positive rescaling), so the
# default learning rate works as it is. ``lambd`` and ``gamma`` act on those
# rescaled prices too. The values below are this example's own choices. With
# the defaults (``"auto"``: ``lambd`` 32 for ``dbb``, 96 for ``imle``,
# ``gamma`` 1) the test regret was within 0.01 of theirs for ``dbb`` at
# capacities 120 and 180, for ``imle`` at 120 and for ``relaxation`` at 60
# and 180, and 0.01 to 0.04 higher otherwise (one seed, 2026-12-03, before
# the network's output started at the mean target;
# ``benchmarks/defaults.py`` checks the defaults over seeds). ``relaxation``
# trains through the
# knapsack's LP relaxation with a quadratic term (Wilder et al. 2019) and still
# decides with the exact dynamic program.
regrets = {name: [] for name in methods}
for capacity in capacities:
    for name, params in methods.items():
        start = time.perf_counter()
        model = make_pipeline(
            PerItemStandardScaler(n_items=48),
            DecisionFocusedRegressor(Knapsack(energy.weights, capacity), method=name,
                                     per_item=True, max_iter=30, n_iter_no_change=30,
                                     random_state=0, **params),
        ).fit(X_train, y_train)
        regrets[name].append(-model.score(X_test, y_test))
        print(f"capacity {capacity:3d}  {name:10s} test regret {regrets[name][-1]:.4f} "
              f"({time.perf_counter() - start:.1f} s)")

# %%
# Test regret per method and capacity
# -----------------------------------
# The tighter the capacity, the fewer slots are chosen and the more a wrong
# ranking of the top prices costs. Decision-focused training ranks the slots
# that matter.
fig, ax = plt.subplots(figsize=(7, 4))
width = 0.8 / len(methods)
for i, (name, values) in enumerate(regrets.items()):
    ax.bar(np.arange(len(capacities)) + i * width, values, width, label=name)
ax.set_xticks(np.arange(len(capacities)) + width * (len(methods) - 1) / 2)
ax.set_xticklabels([f"capacity {c}" for c in capacities])
ax.set_ylabel("normalized test regret")
ax.set_title("Energy knapsack: real prices, linear per-slot model")
ax.legend()
fig.tight_layout()
plt.show()
