"""
==================================================
Tuning decision-focused models with GridSearchCV
==================================================

Decision-focused methods have hyperparameters of their own: the weight
``gamma`` of the quadratic term of ``method="relaxation"``, the smoothing
scale ``lambd`` of blackbox differentiation (``method="dbb"``), and, as for
any neural network, the learning rate. Because
:class:`~skdfl.DecisionFocusedRegressor` is a scikit-learn estimator, they are
tuned with :class:`~sklearn.model_selection.GridSearchCV` like any other
hyperparameter.

What should the search optimize? Not the accuracy of the predicted costs --
a decision-focused model is not trained for it -- but the quality of the
decisions. That is what the estimator's ``score`` returns: *minus* the
normalized regret of its decisions (higher is better, as scikit-learn expects
of a score), so ``GridSearchCV`` picks the lowest cross-validated regret
without any extra argument. (``scoring=make_regret_scorer(optimizer)`` from
:mod:`skdfl.metrics` computes the same value for any regressor, e.g. inside a
pipeline.)

The problem is the 5x5 shortest-path problem of Elmachtoub & Grigas: 40 arc
costs that are a polynomial of degree 6 of 5 features, with multiplicative
noise, predicted by a linear model.
"""

# %%
# Data
# ----
# 600 instances for the search (each of the 3 folds trains on 400 of them)
# and 900 held out to test the chosen model.

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.optimizers import ShortestPath

# Every fit runs a fixed 10 epochs on purpose; do not warn that it stopped at max_iter.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, C = make_shortest_path(1500, degree=6, noise_width=0.5, random_state=0)
X_train, X_test = X[:600], X[600:]
C_train, C_test = C[:600], C[600:]
optimizer = ShortestPath(grid=(5, 5))

# %%
# Two searches
# ------------
# A 3x3 grid for each method: its own hyperparameter times the learning rate,
# with 3-fold cross-validation (27 fits per search, plus one refit of the best
# candidate on all 600 instances). Both hyperparameters act on the costs as
# the estimator rescales them internally (to a mean absolute value of 1), so
# the same grids suit costs of any scale.

learning_rates = [0.01, 0.03, 0.1]
searches = {
    "relaxation": ("gamma", [0.1, 1.0, 10.0]),
    "dbb": ("lambd", [3.0, 30.0, 300.0]),
}
results = {}
for method, (name, values) in searches.items():
    est = DecisionFocusedRegressor(optimizer, method=method, max_iter=10,
                                   n_iter_no_change=10, random_state=0)
    search = GridSearchCV(est, {name: values, "learning_rate_init": learning_rates}, cv=3)
    search.fit(X_train, C_train)
    results[method] = search
    print(f"{method}: best parameters {search.best_params_}, cross-validated regret "
          f"{-search.best_score_:.4f}, test regret of the refitted model "
          f"{-search.score(X_test, C_test):.4f}")

baseline = DecisionFocusedRegressor(optimizer, method="two-stage", max_iter=10,
                                    n_iter_no_change=10, random_state=0)
print(f"two-stage baseline: test regret "
      f"{-baseline.fit(X_train, C_train).score(X_test, C_test):.4f}")

# %%
# Heat maps of the cross-validated regret
# ---------------------------------------
# ``cv_results_`` holds, for each candidate, its parameters (``"params"``)
# and the mean and standard deviation of its scores over the folds. We put
# them into a (method parameter, learning rate) table, plot minus the mean
# score -- the regret -- and frame the best cell.
#
# Both methods need their hyperparameter in the right range: a ``gamma`` that
# is too small leaves the relaxation close to the piecewise-constant linear
# program, whose gradient carries little information; one that is too large
# pulls the relaxed decision towards one fixed flow, whatever the costs. A
# ``lambd`` that is too small leaves the perturbed decision of blackbox
# differentiation equal to the unperturbed one for most instances, so the
# gradient is mostly zero.

fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
all_regrets = np.concatenate([-s.cv_results_["mean_test_score"] for s in results.values()])
vmin, vmax = all_regrets.min(), all_regrets.max()
for ax, (method, search) in zip(axes, results.items()):
    name, values = searches[method]
    shape = (len(values), len(learning_rates))
    mean, std = np.empty(shape), np.empty(shape)
    for k, params in enumerate(search.cv_results_["params"]):
        cell = values.index(params[name]), learning_rates.index(params["learning_rate_init"])
        mean[cell] = -search.cv_results_["mean_test_score"][k]
        std[cell] = search.cv_results_["std_test_score"][k]
    image = ax.imshow(mean, cmap="viridis", vmin=vmin, vmax=vmax)
    for row in range(shape[0]):
        for col in range(shape[1]):
            dark = mean[row, col] < (vmin + vmax) / 2
            ax.text(col, row, f"{mean[row, col]:.3f}\n\u00b1{std[row, col]:.3f}",
                    ha="center", va="center", color="white" if dark else "black")
    best = np.unravel_index(np.argmin(mean), shape)
    ax.add_patch(plt.Rectangle((best[1] - 0.5, best[0] - 0.5), 1, 1, fill=False,
                               edgecolor="red", linewidth=3))
    ax.set_xticks(range(shape[1]), [f"{v:g}" for v in learning_rates])
    ax.set_yticks(range(shape[0]), [f"{v:g}" for v in values])
    ax.set_xlabel("learning_rate_init")
    ax.set_ylabel(name)
    ax.set_title(f'method="{method}"')
fig.colorbar(image, ax=axes, label="mean cross-validated regret (lower is better)")
fig.suptitle("Grid search by regret (mean \u00b1 std over 3 folds)")
plt.show()
