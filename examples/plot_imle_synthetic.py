"""
=====================================================================
I-MLE versus the straight-through estimator on a 5-subset toy problem
=====================================================================

This example re-runs the synthetic experiment of Niepert, Minervini and
Franceschi, "Implicit MLE: Backpropagating Through Discrete Exponential Family
Distributions" (NeurIPS 2021, section 6, Fig. 3) with
:class:`skdfl.methods.IMLE`.

The discrete object is a *5-subset* of 10 binary variables: a vector
``z`` in ``{0, 1}^10`` with exactly five ones. Its parameters ``theta`` in
``R^10`` are learned directly (there are no features and no model). A decision
is drawn by *perturb-and-MAP*: add noise ``eps`` to ``theta`` and keep the five
largest entries, ``z(theta + eps) = MAP(theta + eps)``, which is
:class:`~skdfl.optimizers.KSubset` with ``k=5``. The loss is

.. math::

    L(\\theta) = \\mathbb{E}_{\\epsilon}\\, \\lVert z(\\theta + \\epsilon) - b \\rVert^2,

with a vector ``b ~ N(0, I)`` drawn once per run and then kept fixed. The best
possible value is reached by the five largest entries of ``b``.
``z`` is piecewise constant in ``theta``, so ``dL/dtheta`` has to be
*estimated*. We compare three estimators:

- **I-MLE with sum-of-Gamma noise** (``noise="sog"``): the paper's method with
  the noise it proposes for k-subsets;
- **I-MLE with Gumbel noise** (``noise="gumbel"``);
- **the straight-through estimator (STE)**: the same perturbed MAP state in the
  forward pass, and ``dL/dz`` passed unchanged to ``theta`` in the backward
  pass. It uses the sum-of-Gamma noise, so that it differs from I-MLE (SoG)
  *only* in its backward pass.

Every run of the experiment is one row of a ``(n_runs, 10)`` tensor: all runs
are trained at once, with one batched solver call per step.
"""

# %%
# The problem
# -----------
# Besides the perturbed loss that each method is trained on, we track two
# noise-free quantities that put all methods on common ground:
#
# - the **exact loss** under the 5-subset exponential-family distribution
#   ``p(z; theta) ~ exp(theta @ z)``, the distribution that the paper's loss is
#   defined with and that perturb-and-MAP approximates. With only
#   ``C(10, 5) = 252`` subsets it is computed exactly by enumeration.
# - the **MAP loss** ``||MAP(theta) - b||^2``: the loss of the decision taken
#   without noise, i.e. the quality of the subset the learned ``theta`` picks.
#
# Each of the two does not depend on the noise a method was trained with. A
# common Gumbel (or sum-of-Gamma) noise would not do that: it would favour
# the method trained with that very noise.

import itertools
import math
import time

import matplotlib.pyplot as plt
import torch

from skdfl.methods import IMLE, gumbel_noise, sum_of_gamma_noise
from skdfl.optimizers import KSubset

# This example runs its own torch loop, not an estimator (whose n_threads=None
# picks the threads): on tensors this tiny, one thread is fastest.
torch.set_num_threads(1)
start = time.perf_counter()

N_ITEMS, K = 10, 5
subset = KSubset(k=K)

ALL_SUBSETS = torch.zeros(math.comb(N_ITEMS, K), N_ITEMS)
for row, items in enumerate(itertools.combinations(range(N_ITEMS), K)):
    ALL_SUBSETS[row, list(items)] = 1.0


def draw(noise, shape, generator):
    """Noise of the given kind: sum-of-Gamma for 5-subsets, or Gumbel."""
    if noise == "sog":
        return sum_of_gamma_noise(shape, k=K, tau=1.0, generator=generator)
    return gumbel_noise(shape, tau=1.0, generator=generator)


def solve(theta):
    """Top-5 indicator of every row of a tensor of any leading shape."""
    return subset.solve(theta.reshape(-1, N_ITEMS)).reshape(theta.shape)


def squared_error(z, b):
    return ((z - b) ** 2).sum(-1)


def exact_loss(theta, b):
    """E ||z - b||^2 under p(z; theta) ~ exp(theta @ z), by enumeration."""
    probs = torch.softmax(theta @ ALL_SUBSETS.T, dim=-1)  # (n_runs, 252)
    return (probs * squared_error(ALL_SUBSETS, b.unsqueeze(1))).sum(-1)


def perturbed_loss(theta, b, eval_noise):
    """Monte-Carlo estimate of E ||MAP(theta + eps) - b||^2 over fixed draws."""
    return squared_error(solve(theta + eval_noise), b).mean(0)


def best_loss(b):
    """The loss of the best 5-subset: the five largest entries of b."""
    return squared_error(solve(b), b)


# %%
# The gradient estimators
# -----------------------
# I-MLE is :class:`skdfl.methods.IMLE`. Its forward pass returns the mean of
# ``n_samples`` perturbed MAP states; its backward pass solves once more at
# ``theta + eps - lambd * dL/dz`` with the same noise and returns the
# difference of the two MAP states divided by ``lambd``. The loss
# ``||z - b||^2`` is not linear in ``z``, so the loss of the *mean* state is
# not the mean loss of the states. We therefore stack the ``S`` samples of a
# step into the batch (``n_samples=1``, ``S * n_runs`` rows, still one solver
# call) and average the ``S`` per-sample losses: each sample then receives its
# own ``dL/dz = 2 (z - b)``.
#
# The straight-through estimator is three lines: the forward value is the
# perturbed MAP state, the backward pass is the identity.


class StraightThrough(torch.nn.Module):
    """Perturb-and-MAP forward, identity backward."""

    def __init__(self, noise, generator):
        super().__init__()
        self.noise, self.generator = noise, generator

    def forward(self, theta):
        z = solve(theta.detach() + draw(self.noise, theta.shape, self.generator))
        return theta + (z - theta).detach()  # value z, gradient dL/dz


def make_estimator(name, lambd, seed):
    generator = torch.Generator().manual_seed(seed)
    if name == "STE (SoG)":
        return StraightThrough("sog", generator)
    noise = "sog" if name == "I-MLE (SoG)" else "gumbel"
    return IMLE(subset, lambd=lambd, noise=noise, tau=1.0, n_samples=1, k=K,
                generator=generator)


def own_noise(name):
    return "gumbel" if name == "I-MLE (Gumbel)" else "sog"


# %%
# Training
# --------
# Plain SGD on ``theta`` (initialized at zero: all subsets equally likely),
# with the same learning rate, number of steps and samples per step for every
# method. ``b`` is drawn per run; the runs differ by ``b`` and by the noise.
# The perturbed loss is evaluated at every step on 1000 noise draws per run
# that are fresh (not used in training) and kept fixed over the steps, so that
# the curves move only because ``theta`` does.

N_STEPS, LEARNING_RATE, N_SAMPLES, N_EVAL = 200, 1.0, 10, 1000


def train(name, lambd, n_runs, seed, record=True):
    """Train one (n_runs, 10) batch of theta; return the loss curves."""
    data = torch.Generator().manual_seed(seed)
    b = torch.randn(n_runs, N_ITEMS, generator=data)
    eval_noise = draw(own_noise(name), (N_EVAL, n_runs, N_ITEMS), data)
    estimator = make_estimator(name, lambd, seed + 1)

    theta = torch.zeros(n_runs, N_ITEMS, requires_grad=True)
    sgd = torch.optim.SGD([theta], lr=LEARNING_RATE)
    curves = {"perturbed": [], "exact": [], "map": []}
    for step in range(N_STEPS + 1):
        if record or step == N_STEPS:
            with torch.no_grad():
                curves["perturbed"].append(perturbed_loss(theta, b, eval_noise))
                curves["exact"].append(exact_loss(theta, b))
                curves["map"].append(squared_error(solve(theta), b))
        if step == N_STEPS:
            break
        rows = theta.expand(N_SAMPLES, n_runs, N_ITEMS).reshape(-1, N_ITEMS)
        z = estimator(rows).reshape(N_SAMPLES, n_runs, N_ITEMS)
        loss = squared_error(z, b).mean(0).sum()  # runs are independent
        sgd.zero_grad()
        loss.backward()
        sgd.step()
    curves = {key: torch.stack(value) for key, value in curves.items()}
    curves["best"] = best_loss(b)
    curves["theta"] = theta.detach()
    return curves


# %%
# Choosing ``lambd``
# ------------------
# As in the paper, ``lambd`` is tuned per I-MLE variant (the STE has no
# hyperparameter). The selection uses 20 runs with their own ``b`` and noise
# (seed 100), not the runs reported below, and keeps the ``lambd`` with the
# lowest final perturbed loss -- the quantity each method is trained on. The
# learning rate 1.0 was chosen beforehand, outside this script, from
# ``{0.1, 0.3, 1, 3}`` (with ``lambd`` in ``{0.3, 1, 3, 10}``): it is among the
# best for both I-MLE variants, and the STE's final loss barely depended on
# it. With Adam instead of SGD, the STE fell much further behind; SGD is the
# fairer choice for it.

METHODS = ["I-MLE (SoG)", "I-MLE (Gumbel)", "STE (SoG)"]
LAMBDAS = [0.3, 1.0, 3.0, 10.0]

chosen = {"STE (SoG)": None}
print(f"{'lambd':>6} " + " ".join(f"{name:>15}" for name in METHODS[:2]))
scores = {name: [] for name in METHODS[:2]}
for lambd in LAMBDAS:
    for name in METHODS[:2]:
        final = train(name, lambd, n_runs=20, seed=100, record=False)["perturbed"][-1]
        scores[name].append(float(final.mean()))
    print(f"{lambd:>6} " + " ".join(f"{scores[name][-1]:>15.3f}" for name in METHODS[:2]))
for name in METHODS[:2]:
    chosen[name] = LAMBDAS[min(range(len(LAMBDAS)), key=scores[name].__getitem__)]
print("chosen lambd:", {name: chosen[name] for name in METHODS[:2]})

# %%
# The comparison
# --------------
# 50 runs per method. All three methods see the same 50 vectors ``b``.

N_RUNS = 50
results = {name: train(name, chosen[name], n_runs=N_RUNS, seed=0) for name in METHODS}
best = results[METHODS[0]]["best"]
print(f"{N_RUNS} runs, {N_STEPS} steps; best possible loss {float(best.mean()):.3f} on average")

# %%
# The curves show the *excess* loss, the loss minus that of the best 5-subset
# of the run, on a log scale: ``||b||^2`` varies a lot from run to run and
# would otherwise hide the differences between the methods (the runs are
# paired: every method sees the same ``b``). Bands are +- one standard error
# of the mean over the runs.

colors = {"I-MLE (SoG)": "tab:blue", "I-MLE (Gumbel)": "tab:orange", "STE (SoG)": "tab:gray"}
panels = [("perturbed", "perturbed loss, each method's own noise"),
          ("exact", "exact loss under p(z; theta)"),
          ("map", "loss of the MAP state (no noise)")]
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained", sharey=True)
steps = torch.arange(N_STEPS + 1)
for ax, (key, title) in zip(axes, panels):
    for name in METHODS:
        excess = results[name][key] - best  # (steps, runs)
        mean = excess.mean(1)
        sem = excess.std(1) / math.sqrt(N_RUNS)
        label = name if chosen[name] is None else f"{name}, lambd={chosen[name]:g}"
        ax.plot(steps, mean, color=colors[name], label=label)
        ax.fill_between(steps, (mean - sem).clamp_min(1e-3), mean + sem,
                        color=colors[name], alpha=0.25)
    ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("SGD step")
    ax.grid(alpha=0.3, which="both")
axes[0].set_ylabel(f"loss - best loss (mean +- s.e., {N_RUNS} runs)")
axes[0].legend()
fig.suptitle("5-subset of 10 variables: I-MLE versus straight-through")

# %%
# Final losses
# ------------
# After the last step: the excess loss over the best 5-subset, mean +- standard
# deviation over the 50 runs, and the share of runs whose noise-free decision
# ``MAP(theta)`` is the best 5-subset, and the *margin* of the learned
# ``theta`` (its 5th largest entry minus its 6th, averaged over the runs):
# how firmly it separates the chosen items from the others. The second table gives paired
# differences between methods (mean +- standard error over the runs; negative
# means that the first method is lower).

KEYS = ("perturbed", "exact", "map")
final = {name: {key: results[name][key][-1] - best for key in KEYS} for name in METHODS}
print(f"best 5-subset: loss {float(best.mean()):.3f} on average over the runs")
print(f"{'excess loss':<16} {'lambd':>5} {'perturbed (own)':>16} {'exact p(z;theta)':>17} "
      f"{'MAP state':>14} {'MAP optimal':>12} {'margin':>7}")
for name in METHODS:
    cells = " ".join(f"{float(v.mean()):>9.3f} +-{float(v.std()):>5.3f}"
                     for v in (final[name][key] for key in KEYS))
    optimal = float(final[name]["map"].abs().lt(1e-6).float().mean())
    top = results[name]["theta"].topk(K + 1, dim=-1).values
    margin = float((top[:, K - 1] - top[:, K]).mean())
    lambd = "-" if chosen[name] is None else f"{chosen[name]:g}"
    print(f"{name:<16} {lambd:>5} {cells} {optimal:>11.0%} {margin:>7.2f}")

print(f"\n{'paired difference':<29} {'perturbed (own)':>16} {'exact p(z;theta)':>17} "
      f"{'MAP state':>14}")
for first, second in [("I-MLE (SoG)", "STE (SoG)"), ("I-MLE (Gumbel)", "STE (SoG)"),
                      ("I-MLE (SoG)", "I-MLE (Gumbel)")]:
    diffs = [final[first][key] - final[second][key] for key in KEYS]
    cells = " ".join(f"{float(d.mean()):>+9.3f} +-{float(d.std()) / math.sqrt(N_RUNS):>5.3f}"
                     for d in diffs)
    print(f"{first + ' - ' + second:<29} {cells}")
print(f"\nrun time: {time.perf_counter() - start:.1f} s")

# %%
# Results
# -------
# The numbers below are those of our run (torch 2, CPU; every draw is seeded,
# so a re-run prints the same tables up to floating-point details).
#
# **I-MLE ends below the STE** -- on the loss each method is trained on and on
# the quality of the noise-free decision. With its own noise, I-MLE (SoG) ends
# 0.334 +- 0.042 below the STE and I-MLE (Gumbel) 0.336 +- 0.039 below; the
# MAP state is the best 5-subset in 84% and 92% of the runs, against 62% for
# the STE. The STE has the lowest loss after the first step, then stalls: its
# gradient ``2 (z - b)`` keeps pushing down every chosen item with
# ``b_i < 1`` and pushing up every other item with ``b_j > 0``, whether or not
# that would change the decision, so ``theta`` drifts instead of settling on
# the best subset. Under the exact distribution ``p(z; theta)``, I-MLE (Gumbel)
# is again far below the STE (0.597 +- 0.052), but I-MLE (SoG) only ties with
# it (0.050 +- 0.067).
#
# **Sum-of-Gamma noise ties with Gumbel noise on its own terms, and is
# clearly behind under the exact distribution.** It is ahead during the
# first ~50 steps on its own noise and ends level: I-MLE (SoG) minus I-MLE
# (Gumbel) is +0.003 +- 0.009 on the own-noise loss and +0.010 +- 0.009 on
# the MAP state (both within about one standard error of zero), so "at or
# below" holds only as a tie, not as a win. Under ``p(z; theta)`` Gumbel is
# lower by 0.547 +- 0.030. That gap has a plain cause. The I-MLE gradient is
# zero whenever the target MAP state equals the perturbed one, so ``theta``
# stops moving once its margins are larger than what the noise (plus the
# ``lambd`` step) can overturn. Sum-of-Gamma noise for ``k = 5`` is small
# per entry (standard deviation about 0.55, against
# 1.28 for Gumbel), so the SoG-trained ``theta`` stops at a margin of 3.5
# instead of 5.4. Under its own noise that is enough; under
# ``p(z; theta) ~ exp(theta @ z)`` it still leaves much probability on other
# subsets.
#
# These findings held beyond this one set of runs: with ``lambd = 3`` and four
# other seeds for the 50 runs (10, 20, 30 and 40; measured with an earlier
# sampler that summed the ten Gamma terms one by one, which draws the same
# law), I-MLE (SoG) minus STE on the own-noise loss was between -0.23 and
# -0.29 every time, and I-MLE (SoG) minus I-MLE (Gumbel) between -0.005 and
# +0.037. With Adam (learning rate 0.3)
# instead of SGD, the two I-MLE variants tied on their own noise and the STE
# ended much higher. We do not claim to match the paper's exact protocol: we
# did not reproduce its learning rate, number of steps, noise temperature or
# the precise quantity on the axis of its figure, and both noises use
# ``tau = 1`` here without tuning.

plt.show()
