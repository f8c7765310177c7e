"""Shortest path (5x5 grid) and k-subset: skdfl against PyEPO 2.2.7 (gurobi), side by side.

What is measured
----------------
For every polynomial degree, training method and seed, both libraries train
the same linear model (``torch.nn.Linear(5, n_params)``, the same initial
weights, Adam, learning rate
0.01, batch size 32, the same number of epochs, no early stopping) on the
same 1000 training instances of one of two problems (``--problem``); the
other 1000 instances are the test set.

- ``shortest_path`` (default): ``skdfl.datasets.make_shortest_path(2000,
  n_features=5, grid=(5, 5), degree=deg, noise_width=0.5,
  random_state=seed)``, decided by ``skdfl.optimizers.ShortestPath((5, 5))``
  and PyEPO's ``shortestPathModel((5, 5))`` (minimize; 40 arcs, a path has 8).
- ``k_subset``: the item values ``C`` of ``skdfl.datasets.make_knapsack(2000,
  n_items=32, n_features=5, degree=deg, noise_width=0.5, random_state=seed)``
  (the weights are ignored), decided by ``skdfl.optimizers.KSubset(k=5)`` and
  by ``KSubsetModel`` below, a gurobi model written here (32 binaries,
  ``sum x == 5``, maximize).

Both generators reproduce PyEPO's ``genData`` draw for draw (checked once at
start-up).

- **regret**: normalized test regret, ``sum_i regret_i / sum_i |z*_i|``
  (PyEPO's definition): ``-est.score(X_test, C_test)`` for skdfl and
  ``pyepo.metric.regret`` for PyEPO; mean over the seeds.
- **seconds**: wall time (``time.perf_counter``) of the whole fit, mean over
  the seeds (with ``--repeats R``, each fit is timed R times and the fastest
  kept; the fits are identical, so this only filters out background load).
  It includes everything each library must do before and during training:
  skdfl's ``DecisionFocusedRegressor(...).fit`` (validation, solving the
  true optima, skorch set-up, the epochs); PyEPO's gurobi model,
  ``optDataset`` (one gurobi solve per training instance), the
  ``DataLoader`` and the plain torch training loop. Test evaluation is not
  timed. One untimed warm-up run per library and method comes first, so
  one-off costs (imports triggered by the first Adam, the gurobi licence
  check) are charged to neither side.
- **speed-up**: PyEPO seconds / skdfl seconds.
- **epoch ratio**: for skdfl, the mean per-epoch time of a method (skorch's
  ``dur``) divided by that of two-stage at the same degree and seed.

Methods are the same training objective in both libraries. PyEPO's layers
that return decisions (``negativeIdentity``, ``implicitMLE``,
``adaptiveImplicitMLE``, ``perturbedOpt``, ``perturbedOptMul``) leave the
downstream loss to the user; here it is the regret-like objective
``mean(c @ w_hat - z*)`` (``mean(z* - c @ w_hat)`` for a maximization), the
loss skdfl uses, except for dbb (below). Its gradient with respect to the
decisions is ``c / batch size`` (``-c / batch size``), as in skdfl.

- ``two-stage``: mean squared error between predicted and true costs.
- ``spo+``: the SPO+ loss (``pyepo.func.SPOPlus``).
- ``dbb``: the regret of the blackbox-differentiated decisions, with
  ``lambd=10`` on both sides (``pyepo.func.blackboxOpt`` followed by PyEPO's
  recommended objective loss ``L1(c @ w_hat, z*)``, which equals the regret
  because the solver is exact). One numerical difference: where a decision
  is already optimal, ``c @ w_hat - z*`` is a float32 rounding error whose
  sign is random, so the L1 gradient is ``-c`` for some of those instances
  (about a fifth at degree 6) and the DBB step then moves towards worse
  decisions. skdfl's regret loss has no such sign. This makes PyEPO's dbb
  regret visibly worse at high degree; training PyEPO on
  ``mean(c @ w_hat - z*)`` instead removes most of the gap.
- ``imle``: I-MLE with 10 sum-of-Gamma perturbations per instance and
  ``lambd=10``: skdfl's ``method="imle", n_samples=10, lambd=10,
  noise="sog"`` (``tau=1``; the Gamma shape ``k`` is the mean number of
  non-zeros of the true decisions: 8 arcs, 5 items) beside
  ``pyepo.func.implicitMLE(optmodel, n_samples=10, sigma=1.0, lambd=10,
  distribution=pyepo.func.utils.sumGammaDistribution(kappa=K))`` with ``K``
  the solution size (8 or 5), trained on ``mean(c @ w_hat - z*)`` and not on
  the L1 loss used for dbb: with ``L1(c @ w_hat, z*)`` the gradient flips
  sign wherever float32 rounding makes ``c @ w_hat`` fall on the wrong side
  of ``z*``, the distortion measured for PyEPO's dbb above. One known
  difference: the sum-of-Gamma noise (skewed, not symmetric) is added to
  the costs by PyEPO for either sense, while skdfl follows the paper's
  max-form (logits plus noise), so it subtracts the noise from the costs of
  a minimization (the shortest path) and adds it for a maximization.
- ``fy``: the perturbed Fenchel-Young loss with 10 Gaussian perturbations of
  scale ``sigma=1``: skdfl's ``method="fy", n_samples=10, sigma=1.0`` beside
  ``pyepo.func.perturbedFenchelYoung(optmodel, n_samples=10, sigma=1.0)``
  applied to the predicted costs and the true decisions.
- ``nid``: the regret of the exact decisions with the negative identity as
  the solver's backward pass (``-dL/dw``, ``+dL/dw`` for a maximization):
  skdfl's ``method="nid"`` beside ``pyepo.func.negativeIdentity(optmodel)``
  trained on ``mean(c @ w_hat - z*)``; one solve per instance, none in the
  backward pass. Known difference: skdfl projects each prediction onto the
  unit sphere before the solver (the paper's projection; the estimator's
  ``NegativeIdentityRegret`` always does), which changes no decision but
  makes the gradient ``-c`` without its component along ``theta_hat``,
  divided by ``||theta_hat||``. PyEPO has no projection: its gradient is
  ``-c / batch size`` whatever the decision, so it keeps growing the
  predictions along the true costs.
- ``aimle``: adaptive I-MLE, 10 sum-of-Gamma perturbations (temperature 1,
  ``kappa`` as for imle) and the two-sided difference: skdfl's
  ``method="aimle", n_samples=10, lambd=1, noise="sog",
  finite_difference="central"`` beside
  ``pyepo.func.adaptiveImplicitMLE(optmodel, n_samples=10, sigma=1.0,
  distribution=sumGammaDistribution(kappa=K), two_sides=True)`` trained on
  ``mean(c @ w_hat - z*)``. Both solve 30 problems per instance and step
  (10 perturbed, then each shifted both ways along ``dL/dw``, the same
  noise) and size the shift relative to the predictions, starting at
  ``||shift|| = 1 * ||theta_hat||``. They adapt it differently: skdfl per
  instance (``lambd_ * ||theta_hat_i|| / ||dL/dw_i||``), multiplying
  ``lambd_`` by ``exp(+-0.05)`` per step so that a running mean of the
  non-zero gradient entries per sample approaches 1; PyEPO per batch
  (``alpha * ||C_hat|| / ||dL/dW||``, Frobenius norms), adding ``+-0.001``
  to ``alpha`` per step depending on whether a running mean of the
  fraction of non-zero entries of the batch's gradient is below 1, which
  it practically always is: PyEPO's ``alpha`` only grows, from 1 to about
  1.6 after 20 epochs of 32 batches. The noise differs as for imle.
- ``dpo``: the regret of the expected decision under 10 Gaussian
  perturbations of scale ``sigma=1``: skdfl's ``method="dpo", n_samples=10,
  sigma=1.0`` beside ``pyepo.func.perturbedOpt(optmodel, n_samples=10,
  sigma=1.0)`` trained on ``mean(c @ w_hat - z*)``. Both return the mean of
  the perturbed decisions and estimate its Jacobian by Gaussian integration
  by parts (``E[w Z^T] / sigma``) with the same baseline, the mean of the
  other samples (PyEPO's default ``variance_reduction``; 10 solves per
  instance). Until 2026-12-02 skdfl subtracted the unperturbed decision
  (11 solves): on 3 seeds at 10 epochs that reached 0.120 / 0.142 at
  degree 6 (dpo / dpo-mul) against 0.116 / 0.132 with the leave-one-out
  mean, and PyEPO's 0.133 for dpo-mul.
- ``dpo-mul``: the same with multiplicative log-normal noise,
  ``theta_hat * exp(sigma Z - sigma^2 / 2)`` with ``sigma=1``: skdfl's
  ``method="dpo-mul"`` beside ``pyepo.func.perturbedOptMul``. Both divide
  the Jacobian estimate by the prediction; at a prediction of exactly 0
  skdfl gives no gradient, PyEPO divides by its epsilon (1e-8).
- ``fy-mul``: the perturbed Fenchel-Young loss with that multiplicative
  noise, 10 samples, ``sigma=1``: skdfl's ``method="fy-mul"`` beside
  ``pyepo.func.perturbedFenchelYoungMul(optmodel, n_samples=10,
  sigma=1.0)`` on the predicted costs and the true decisions; the gradient
  is ``E[M * w(theta_hat * M)] - w*`` (mirrored for a minimization) on both.
- For these two the model is ``Linear(5, n_params)`` followed by a softplus
  on both sides (skdfl's ``out_activation="softplus"``, PyEPO's
  ``nn.Sequential(nn.Linear(...), nn.Softplus())``): multiplicative noise
  keeps each prediction's sign, and both libraries' documentation pairs
  it with positive predictions for these non-negative costs. With the
  bare linear model (how this benchmark ran them before 2026-12-02) the
  predictions cross zero, where the noise vanishes, and both libraries
  trained poorly and erratically: on 3 seeds at degree 6 and 10 epochs
  skdfl's fy-mul reached 0.169 (seeds 0.215 / 0.126 / 0.166) and PyEPO's
  0.158; with the softplus skdfl's reached 0.092.
- ``pg``: the perturbation-gradient loss with the central difference (PGC)
  and step ``sigma=1`` along the true costs, ``(V(c_hat + c) - V(c_hat -
  c)) / 2`` with ``V`` the optimal value, whose gradient is ``(w(c_hat + c)
  - w(c_hat - c)) / 2`` (mirrored for a maximization): skdfl's
  ``method="pg", sigma=1.0, finite_difference="central"`` (its defaults)
  beside ``pyepo.func.perturbationGradient(optmodel, sigma=1.0,
  two_sides=True)`` on the predicted and true costs (PyEPO's defaults are
  the backward difference and ``sigma=0.1``). Two solves per instance.
- ``nce``, ``cmap``: the contrastive losses over the solution pool, the
  mean (nce) or the largest (cmap) over the pooled decisions ``w'`` of
  ``c_hat @ (w* - w')`` (mirrored for a maximization): skdfl's
  ``method="nce"`` / ``"cmap"`` beside
  ``pyepo.func.noiseContrastiveEstimation`` / ``contrastiveMAP(optmodel,
  dataset=<the training optDataset>)`` on the predicted costs and the true
  decisions. The pool is the same on both sides: the distinct optimal
  decisions of the training set, joined by the decisions of the predicted
  costs of every batch (of the batches that solve, with ``--solve-ratio``
  below 1). One solve per instance, no solver in the backward pass.
- ``ltr-point``, ``ltr-pair``, ``ltr-list``: learning to rank over that
  pool: skdfl's ``method="ltr-point"``, ``"ltr-pair"``, ``"ltr-list"`` (its
  ``tau=1``) beside ``pyepo.func.pointwiseLearningToRank``,
  ``pairwiseLearningToRank``, ``listwiseLearningToRank(optmodel,
  dataset=...)`` on the predicted and true costs. Pointwise: the mean over
  the pool of ``(c_hat @ w' - c @ w')^2``, the same on both. Pairwise: the
  hinge ``relu(c_hat @ w_b - c_hat @ w')`` (mirrored for a maximization;
  no margin) against the pool entry ``w_b`` with the best true value;
  PyEPO sums it over every other entry and divides by the pool size minus
  one, so entries tied with ``w_b`` in true value count too, while skdfl
  averages over the strictly worse entries only (the same here: distinct
  pooled decisions do not tie under continuous costs). Listwise: the
  cross-entropy between ``softmax(-c @ w')`` and ``softmax(-c_hat @ w')``
  over the pool, without the minus signs for a maximization, on both
  sides (PyEPO 2.2.7's sign is right for either sense); PyEPO clamps the
  true probabilities at 1e-8 from below, a negligible difference.

PyEPO's perturbed modules and its sum-of-Gamma distribution draw from
generators of their own with a fixed seed (135), the same for every seed of
the benchmark; skdfl's perturbations follow ``random_state``.

skdfl trains on costs divided by their mean absolute value (printed in the
header). By default the benchmark hands skdfl PyEPO's very network, the
same ``Linear(5, n_params)`` with the same initial weights, its output
divided by that scale (``InCostUnits``): skdfl reads it in its own units,
and since Adam's steps do not depend on the gradient's scale both
libraries then take the same steps on the same weights. The additive noise
of imle, aimle, fy and dpo (skdfl's ``tau``/``sigma``, PyEPO's ``sigma``)
and ltr-list's softmax temperature ``tau`` act on the costs themselves:
the benchmark gives them in the raw costs' units, as PyEPO takes them, and
divides them by the scale for skdfl (``Method.cost_units``). The other
losses (spo+, dbb, nid, pg, nce, cmap, ltr-point and ltr-pair, aimle's
shift, the multiplicative noise of dpo-mul and fy-mul) compare the
predictions only with decisions or with a multiple of the true costs, so
their decisions and gradients do not depend on the units.
``--nominal-units`` instead gives skdfl the nominal hyperparameters and its
own network (``torch.nn.Linear`` initialized in skdfl's units, which is
then, relative to the costs, the scale times larger than PyEPO's).

Why the convention matters (k-subset, where the scale is about 4.4; on the
shortest path, scale 0.7-1.1, the conventions nearly coincide). Before
2026-12-02 skdfl got the nominal noise and temperature: imle's degree-6
regret was 0.0753/0.0688 on seeds 0/1 against PyEPO's 0.0726/0.0663, and
ltr-list's 0.0900/0.0760 against 0.0705/0.0648; matching the units alone
brought them to 0.0730/0.0663 and 0.0753/0.0649. dpo still trailed by
+0.0115 (10 epochs, 3 seeds) and two-stage by 0.038 (0.1173 against
0.0796 at degree 6), on an identical loss. The rest came from the network:
skdfl's own initialization is, relative to the costs, 4.4 times larger,
and the dpo and two-stage fits start far from the costs and do not
recover in 10 epochs. Dividing the learning rate by the scale as well made
it worse (two-stage 0.18); PyEPO's initial weights divided by the scale,
with the same learning rate, gave two-stage 0.0792 and dpo 0.0842 at
degree 6 (PyEPO 0.0796 and 0.1353), i.e. the initialization relative to
the rescaled targets, not the losses, made the difference. It is not a
defect of skdfl's initialization: two-stage's least-squares fit is unique,
and trained longer both starts reach it (skdfl's own network and PyEPO's
initialization: 0.1194 and 0.1050 at 30 epochs, 0.1202 and 0.1206 at
100). At degree 6 the linear model is misspecified, and PyEPO's 10-epoch
model, still far from the least-squares fit, happens to decide better
than that fit. With skdfl's default (nominal) noise, dpo from skdfl's own
initialization is ahead at every length: 0.2692 / 0.1597 / 0.1102 against
0.2969 / 0.2278 / 0.1471 at 10 / 30 / 100 epochs (3 seeds). With the same
network every k-subset row is within PyEPO + 0.005 except ltr-point at
degree 6 (+0.0055 +- 0.0174 over 3 seeds; +0.0020 +- 0.0048 over seeds
0-9).

``--solve-ratio r`` (default 1, both libraries' default) sets, for every
method and in both libraries (skdfl's ``solve_ratio=r``, PyEPO's
``solve_ratio=r`` with ``dataset=`` the training optDataset), the fraction
of the solver calls of training made by the solver. The other calls take,
for each instance, the best decision of the pool above (Mulamba et al.
2021). Both libraries draw solve-or-pool once per solver call (a batch,
with all its samples), and both add only exact solves to the pool.

PyEPO's solver is gurobi, one instance at a time; skdfl solves the whole
batch (all samples of all instances) with one batched torch kernel. With
``--threads N`` both libraries' torch uses N threads
(``torch.set_num_threads``) and gurobi gets ``Threads=N``; by default torch's
and gurobi's thread counts are left alone.

Targets (printed per row; the header groups them): spo+ and dbb at least 3x
faster than PyEPO and skdfl's per-epoch time at most 2x that of two-stage;
the methods that solve once or twice per instance (nid, pg, nce, cmap,
ltr-point, ltr-pair, ltr-list) at least 5x; fy at least 10x; the sampling
methods (imle, aimle, dpo, dpo-mul, fy-mul) at least 20x, with the same
number of samples on both sides; for every decision-focused method a
normalized regret no worse than PyEPO's + 0.005.

Run ``python benchmarks/shortest_path.py --help`` for the options. More
methods are added as entries of ``METHODS``: the skdfl parameters, a
builder of the matching PyEPO loss and the targets.
"""

import argparse
import dataclasses
import os
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import gurobipy as gp
import numpy as np
import torch
from gurobipy import GRB
from sklearn.exceptions import ConvergenceWarning
from torch import nn
from torch.utils.data import DataLoader

import pyepo
import skdfl
from pyepo.model.grb.grbmodel import optGrbModel
from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_knapsack, make_shortest_path
from skdfl.optimizers import KSubset, ShortestPath

from _common import (as_in_pyepo, format_table, mean_of, progress_log, pyepo_dataset,
                     silenced_stdout_fd, t_interval, train_pyepo_epoch, verdict)

GRID = (5, 5)
N_ITEMS = 32
K = 5
N_FEATURES = 5
N_TRAIN = 1000
N_TEST = 1000
NOISE_WIDTH = 0.5
LEARNING_RATE = 0.01
BATCH_SIZE = 32
LAMBD = 10.0
N_SAMPLES = 10
SIGMA = 1.0
AIMLE_LAMBD = 1.0              # aimle's initial step, relative to the predictions
PG_SIGMA = 1.0                 # pg's finite-difference step, relative to the true costs
FINITE_DIFFERENCE = "central"  # of pg and aimle (PyEPO: two_sides=True)
LTR_TAU = 1.0                  # ltr-list's softmax temperature (PyEPO's is 1)
SOLVE_RATIO = 1.0              # PyEPO's and skdfl's default: every call solves

REGRET_SLACK = 0.005
BASELINE = "two-stage"


# --------------------------------------------------------------------------
# Problems: the data, skdfl's optimizer and PyEPO's gurobi model.
# --------------------------------------------------------------------------

class KSubsetModel(optGrbModel):
    """Choose exactly ``k`` of ``n_items`` binaries, maximize ``c @ x`` (gurobi)."""

    def __init__(self, n_items, k):
        self.n_items, self.k = n_items, k
        super().__init__()

    def _getModel(self):
        m = gp.Model("k_subset")
        x = m.addMVar(self.n_items, vtype=GRB.BINARY, name="x")
        m.modelSense = GRB.MAXIMIZE
        m.addConstr(x.sum() == self.k)
        return m, x


def _shortest_path_data(n, degree, seed):
    return make_shortest_path(n, n_features=N_FEATURES, grid=GRID, degree=degree,
                              noise_width=NOISE_WIDTH, random_state=seed)


def _shortest_path_pyepo_data(n, degree, seed):
    return pyepo.data.shortestpath.genData(n, N_FEATURES, GRID, deg=degree,
                                           noise_width=NOISE_WIDTH, seed=seed)


def _k_subset_data(n, degree, seed):
    X, C, _ = make_knapsack(n, n_items=N_ITEMS, n_features=N_FEATURES, degree=degree,
                            noise_width=NOISE_WIDTH, random_state=seed)
    return X, C


def _k_subset_pyepo_data(n, degree, seed):
    _, x, c = pyepo.data.knapsack.genData(n, N_FEATURES, N_ITEMS, dim=1, deg=degree,
                                          noise_width=NOISE_WIDTH, seed=seed)
    return x, c


@dataclass(frozen=True)
class Problem:
    """A decision problem as both libraries build it."""

    name: str
    description: str
    generate: Callable          # (n, degree, seed) -> X, C (skdfl's generator)
    pyepo_generate: Callable    # (n, degree, seed) -> X, C (PyEPO's genData)
    optimizer: Callable         # () -> skdfl optimizer
    gurobi_model: Callable      # () -> PyEPO optGrbModel
    solution_size: int          # non-zeros of a decision (sum-of-Gamma kappa)
    gurobi_threads: Optional[int] = None   # None: gurobi's default

    def pyepo_model(self):
        optmodel = self.gurobi_model()
        if self.gurobi_threads is not None:
            optmodel._model.Params.Threads = self.gurobi_threads
        return optmodel


PROBLEMS = {p.name: p for p in (
    Problem("shortest_path",
            f"shortest path {GRID[0]}x{GRID[1]} (minimize, 40 arcs, 8 per path)",
            _shortest_path_data, _shortest_path_pyepo_data,
            lambda: ShortestPath(grid=GRID),
            lambda: pyepo.model.grb.shortestPathModel(GRID), solution_size=8),
    Problem("k_subset",
            f"k-subset, {K} of {N_ITEMS} items (maximize; make_knapsack values, "
            "weights ignored)",
            _k_subset_data, _k_subset_pyepo_data,
            lambda: KSubset(k=K),
            lambda: KSubsetModel(N_ITEMS, K), solution_size=K),
)}


# --------------------------------------------------------------------------
# Methods: one entry per row of the table, in both libraries.
# A PyEPO loss builder takes a PyepoSetup (the gurobi model, the problem, the
# training optDataset and the solve ratio) and returns
# ``loss(pred_cost, cost, true_sol, true_obj) -> scalar tensor``.
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class PyepoSetup:
    """What a PyEPO loss builder needs: the gurobi model, the problem, the pool settings."""

    optmodel: object
    problem: Problem
    dataset: object        # the training optDataset: the solution pool's seed
    solve_ratio: float

    def common(self):
        """The arguments every PyEPO module of this script shares."""
        return dict(processes=1, solve_ratio=self.solve_ratio, dataset=self.dataset)

    @property
    def sign(self):
        """+1 for a minimization, -1 for a maximization."""
        return 1.0 if self.optmodel.modelSense == pyepo.EPO.MINIMIZE else -1.0


def _regret_of(layer, pe):
    """A layer's decisions trained on ``mean(c @ w_hat - z*)`` (sign for the sense)."""
    def loss(cp, c, w, z):
        objective = (layer(cp) * c).sum(dim=1, keepdim=True)
        return pe.sign * (objective - z).mean()
    return loss


def _pyepo_squared_error(pe):
    mse = nn.MSELoss()
    return lambda cp, c, w, z: mse(cp, c)


def _pyepo_spo_plus(pe):
    spo_plus = pyepo.func.SPOPlus(pe.optmodel, **pe.common())
    return lambda cp, c, w, z: spo_plus(cp, c, w, z)


def _pyepo_blackbox_regret(pe):
    dbb = pyepo.func.blackboxOpt(pe.optmodel, lambd=LAMBD, **pe.common())
    l1 = nn.L1Loss()

    def loss(cp, c, w, z):
        objective = (dbb(cp) * c).sum(dim=1, keepdim=True)
        return l1(objective, z)
    return loss


def _sum_of_gamma(pe):
    return pyepo.func.utils.sumGammaDistribution(kappa=pe.problem.solution_size)


def _pyepo_imle_regret(pe):
    return _regret_of(pyepo.func.implicitMLE(
        pe.optmodel, n_samples=N_SAMPLES, sigma=SIGMA, lambd=LAMBD,
        distribution=_sum_of_gamma(pe), **pe.common()), pe)


def _pyepo_fenchel_young(pe):
    fy = pyepo.func.perturbedFenchelYoung(pe.optmodel, n_samples=N_SAMPLES, sigma=SIGMA,
                                          **pe.common())
    return lambda cp, c, w, z: fy(cp, w)


def _pyepo_negative_identity_regret(pe):
    return _regret_of(pyepo.func.negativeIdentity(pe.optmodel, **pe.common()), pe)


def _pyepo_adaptive_imle_regret(pe):
    return _regret_of(pyepo.func.adaptiveImplicitMLE(
        pe.optmodel, n_samples=N_SAMPLES, sigma=SIGMA, distribution=_sum_of_gamma(pe),
        two_sides=FINITE_DIFFERENCE == "central", **pe.common()), pe)


def _pyepo_perturbed_regret(pe):
    return _regret_of(pyepo.func.perturbedOpt(pe.optmodel, n_samples=N_SAMPLES, sigma=SIGMA,
                                              **pe.common()), pe)


def _pyepo_perturbed_mul_regret(pe):
    return _regret_of(pyepo.func.perturbedOptMul(pe.optmodel, n_samples=N_SAMPLES,
                                                 sigma=SIGMA, **pe.common()), pe)


def _pyepo_fenchel_young_mul(pe):
    fy = pyepo.func.perturbedFenchelYoungMul(pe.optmodel, n_samples=N_SAMPLES, sigma=SIGMA,
                                             **pe.common())
    return lambda cp, c, w, z: fy(cp, w)


def _pyepo_perturbation_gradient(pe):
    pg = pyepo.func.perturbationGradient(pe.optmodel, sigma=PG_SIGMA,
                                         two_sides=FINITE_DIFFERENCE == "central",
                                         **pe.common())
    return lambda cp, c, w, z: pg(cp, c)


def _on_true_decisions(module):
    """A PyEPO pool loss called as ``loss(pred_cost, true_sol)`` (NCE, CMAP)."""
    def build(pe):
        pool_loss = module(pe.optmodel, **pe.common())
        return lambda cp, c, w, z: pool_loss(cp, w)
    return build


def _on_true_costs(module):
    """A PyEPO pool loss called as ``loss(pred_cost, true_cost)`` (learning to rank)."""
    def build(pe):
        pool_loss = module(pe.optmodel, **pe.common())
        return lambda cp, c, w, z: pool_loss(cp, c)
    return build


@dataclass(frozen=True)
class Method:
    """A training method as both libraries spell it, and its targets."""

    name: str
    skdfl_params: dict
    pyepo_loss: Callable                         # builder: PyepoSetup -> loss
    speedup_target: Optional[float] = None       # None: not decision-focused, no targets
    epoch_ratio_target: Optional[float] = None   # skdfl epoch time / two-stage's
    #: skdfl parameters that act on the costs themselves (additive noise, a softmax
    #: temperature): written in the raw costs' units, as PyEPO's, and divided by
    #: skdfl's target scale in fit_skdfl so that both libraries' losses are the same.
    cost_units: tuple = ()
    #: skdfl trains PyEPO's network (same initial weights), its output divided by
    #: the target scale (``InCostUnits``); False: skdfl's own network (--nominal-units).
    same_network: bool = True

    @property
    def softplus(self):
        """Positive predictions (Linear + Softplus), as skdfl's parameters ask."""
        return self.skdfl_params.get("out_activation") == "softplus"

    @property
    def decision_focused(self):
        return self.speedup_target is not None


#: Speed-up targets of the methods that solve once (or twice) per instance,
#: and of those that solve ``N_SAMPLES`` perturbed problems per instance.
SINGLE_SOLVE_TARGET = 5.0
SAMPLING_TARGET = 20.0

_SAMPLES = {"n_samples": N_SAMPLES, "sigma": SIGMA}

METHODS = {m.name: m for m in (
    Method("two-stage", {"method": "two-stage"}, _pyepo_squared_error),
    Method("spo+", {"method": "spo+"}, _pyepo_spo_plus, 3.0, 2.0),
    Method("dbb", {"method": "dbb", "lambd": LAMBD}, _pyepo_blackbox_regret, 3.0, 2.0),
    Method("imle", {"method": "imle", "n_samples": N_SAMPLES, "lambd": LAMBD, "noise": "sog",
                    "tau": SIGMA}, _pyepo_imle_regret, 20.0, cost_units=("tau",)),
    Method("fy", {"method": "fy", **_SAMPLES}, _pyepo_fenchel_young, 10.0,
           cost_units=("sigma",)),
    Method("nid", {"method": "nid"}, _pyepo_negative_identity_regret, SINGLE_SOLVE_TARGET),
    Method("aimle", {"method": "aimle", "n_samples": N_SAMPLES, "lambd": AIMLE_LAMBD,
                     "noise": "sog", "tau": SIGMA, "finite_difference": FINITE_DIFFERENCE},
           _pyepo_adaptive_imle_regret, SAMPLING_TARGET, cost_units=("tau",)),
    Method("dpo", {"method": "dpo", **_SAMPLES}, _pyepo_perturbed_regret, SAMPLING_TARGET,
           cost_units=("sigma",)),
    Method("dpo-mul", {"method": "dpo-mul", **_SAMPLES, "out_activation": "softplus"},
           _pyepo_perturbed_mul_regret, SAMPLING_TARGET),
    Method("fy-mul", {"method": "fy-mul", **_SAMPLES, "out_activation": "softplus"},
           _pyepo_fenchel_young_mul, SAMPLING_TARGET),
    Method("pg", {"method": "pg", "sigma": PG_SIGMA, "finite_difference": FINITE_DIFFERENCE},
           _pyepo_perturbation_gradient, SINGLE_SOLVE_TARGET),
    Method("nce", {"method": "nce"}, _on_true_decisions(pyepo.func.noiseContrastiveEstimation),
           SINGLE_SOLVE_TARGET),
    Method("cmap", {"method": "cmap"}, _on_true_decisions(pyepo.func.contrastiveMAP),
           SINGLE_SOLVE_TARGET),
    Method("ltr-point", {"method": "ltr-point"},
           _on_true_costs(pyepo.func.pointwiseLearningToRank), SINGLE_SOLVE_TARGET),
    Method("ltr-pair", {"method": "ltr-pair"},
           _on_true_costs(pyepo.func.pairwiseLearningToRank), SINGLE_SOLVE_TARGET),
    Method("ltr-list", {"method": "ltr-list", "tau": LTR_TAU},
           _on_true_costs(pyepo.func.listwiseLearningToRank), SINGLE_SOLVE_TARGET,
           cost_units=("tau",)),
)}


@dataclass
class Run:
    """One fit of one library: test regret, fit seconds, mean epoch seconds."""

    regret: float
    seconds: float
    epoch_seconds: float


@dataclass
class Data:
    X_train: np.ndarray
    C_train: np.ndarray
    X_test: np.ndarray
    C_test: np.ndarray


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def make_data(problem, degree, seed, n_train=N_TRAIN, n_test=N_TEST):
    """The shared train/test split of one degree and seed."""
    X, C = problem.generate(n_train + n_test, degree, seed)
    return Data(X[:n_train], C[:n_train], X[n_train:], C[n_train:])


def check_same_draws(problem, degree, seed):
    """skdfl's generator gives PyEPO's genData draws (PyEPO rounds costs to float32)."""
    n = N_TRAIN + N_TEST
    X, C = problem.generate(n, degree, seed)
    x, c = problem.pyepo_generate(n, degree, seed)
    assert np.array_equal(X, x), "features differ from PyEPO's genData"
    assert np.allclose(C, c, rtol=1e-6, atol=0), "costs differ from PyEPO's genData"


# --------------------------------------------------------------------------
# skdfl
# --------------------------------------------------------------------------

def network(method, n_params, seed):
    """The model both libraries train: ``Linear(5, n_params)`` (then a softplus where
    the method asks), initialized by torch's generator seeded with ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Linear(N_FEATURES, n_params)
    return nn.Sequential(model, nn.Softplus()) if method.softplus else model


class InCostUnits(nn.Module):
    """A network predicting raw costs, read in skdfl's units (the costs divided by
    ``scale``, skdfl's target scale): skdfl then trains PyEPO's very network."""

    def __init__(self, net, scale):
        super().__init__()
        self.net, self.scale = net, scale

    def forward(self, X):
        return self.net(X) / self.scale


def fit_skdfl(problem, method, X, C, epochs, seed, solve_ratio=SOLVE_RATIO):
    """A fitted DecisionFocusedRegressor (all epochs run: no early stop)."""
    scale = target_scale(C)
    params = {name: value / scale if name in method.cost_units else value
              for name, value in method.skdfl_params.items()}
    if method.same_network:
        # The network applies its own softplus; skdfl's link stays the identity.
        params.pop("out_activation", None)
        params["module"] = InCostUnits(network(method, C.shape[1], seed), scale)
    optimizer = problem.optimizer()
    est = DecisionFocusedRegressor(
        optimizer, **as_in_pyepo(params, optimizer), solve_ratio=solve_ratio,
        learning_rate_init=LEARNING_RATE, batch_size=BATCH_SIZE, max_iter=epochs,
        n_iter_no_change=10**6, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter reached on purpose
        est.fit(X, C)
    if not np.isclose(est.target_scale_, scale):
        raise RuntimeError(f"skdfl's target scale {est.target_scale_} is not mean|C| {scale}: "
                           "the cost-unit parameters were not matched.")
    return est


def target_scale(C):
    """skdfl's ``target_scale_`` for training costs ``C``: their mean absolute value."""
    return float(np.mean(np.abs(C)))


def run_skdfl(problem, method, data, epochs, seed, solve_ratio=SOLVE_RATIO):
    start = time.perf_counter()
    est = fit_skdfl(problem, method, data.X_train, data.C_train, epochs, seed, solve_ratio)
    seconds = time.perf_counter() - start
    epoch_seconds = float(np.mean(est.net_.history[:, "dur"]))
    return Run(-est.score(data.X_test, data.C_test), seconds, epoch_seconds)


# --------------------------------------------------------------------------
# PyEPO
# --------------------------------------------------------------------------

def fit_pyepo(problem, method, X, C, epochs, seed, solve_ratio=SOLVE_RATIO):
    """The plain PyEPO training loop; returns the model, gurobi model, epoch times."""
    optmodel = problem.pyepo_model()
    dataset = pyepo_dataset(optmodel, X, C)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    model = network(method, C.shape[1], seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = method.pyepo_loss(PyepoSetup(optmodel, problem, dataset, solve_ratio))
    epoch_times = []
    model.train()
    for _ in range(epochs):
        start = time.perf_counter()
        train_pyepo_epoch(model, loader, loss_fn, optimizer)
        epoch_times.append(time.perf_counter() - start)
    return model, optmodel, epoch_times


def pyepo_test_regret(model, optmodel, X, C):
    loader = DataLoader(pyepo_dataset(optmodel, X, C), batch_size=BATCH_SIZE)
    return float(pyepo.metric.regret(model, optmodel, loader))


def run_pyepo(problem, method, data, epochs, seed, solve_ratio=SOLVE_RATIO):
    start = time.perf_counter()
    model, optmodel, epoch_times = fit_pyepo(problem, method, data.X_train, data.C_train,
                                             epochs, seed, solve_ratio)
    seconds = time.perf_counter() - start
    regret = pyepo_test_regret(model, optmodel, data.X_test, data.C_test)
    return Run(regret, seconds, float(np.mean(epoch_times)))


LIBRARIES = {"skdfl": run_skdfl, "pyepo": run_pyepo}


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------

def warm_up(problem, methods, solve_ratio=SOLVE_RATIO):
    """One tiny untimed run per library and method: first-use costs are charged to neither."""
    data = make_data(problem, degree=1, seed=0, n_train=64, n_test=64)
    with silenced_stdout_fd():
        for method in methods:
            for run in LIBRARIES.values():
                run(problem, method, data, epochs=1, seed=0, solve_ratio=solve_ratio)


def best_of(repeats, run, *args):
    """The fastest of ``repeats`` identical fits (same seed, so the same model)."""
    return min((run(*args) for _ in range(repeats)), key=lambda r: r.seconds)


def run_all(problem, methods, degrees, seeds, epochs, log, repeats=1,
            solve_ratio=SOLVE_RATIO):
    """results[(degree, method name, library)] -> list of Run, one per seed.

    The libraries alternate which goes first, so background load on a shared
    machine falls on both alike; ``repeats > 1`` keeps the fastest of that
    many identical fits, which filters out bursts of load.
    """
    results = {}
    order = list(LIBRARIES)
    for i, seed in enumerate(seeds):
        for degree in degrees:
            data = make_data(problem, degree, seed)
            for method in methods:
                for library in (order if i % 2 == 0 else order[::-1]):
                    run = best_of(repeats, LIBRARIES[library], problem, method, data,
                                  epochs, seed, solve_ratio)
                    results.setdefault((degree, method.name, library), []).append(run)
                    log(f"seed={seed} degree={degree} {method.name:<9} {library:<5} "
                        f"regret={run.regret:.4f} fit={run.seconds:7.2f}s "
                        f"epoch={run.epoch_seconds:.3f}s")
    return results


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

def epoch_ratio(results, degree, name):
    """Mean over seeds of skdfl's epoch time of ``name`` / that of two-stage."""
    baseline = results.get((degree, BASELINE, "skdfl"))
    if baseline is None:
        return None
    runs = results[(degree, name, "skdfl")]
    return float(np.mean([r.epoch_seconds / b.epoch_seconds for r, b in zip(runs, baseline)]))


def paired_difference(ours, theirs):
    """skdfl's regret less PyEPO's, mean over seeds and 95% t-interval half-width."""
    mean, half = t_interval([a.regret - b.regret for a, b in zip(ours, theirs)])
    return f"{mean:+.4f}" if np.isnan(half) else f"{mean:+.4f}+-{half:.4f}"


def table_rows(results, methods, degrees):
    rows = []
    for degree in degrees:
        for method in methods:
            ours = results[(degree, method.name, "skdfl")]
            theirs = results[(degree, method.name, "pyepo")]
            r_ours, r_theirs = mean_of(ours, "regret"), mean_of(theirs, "regret")
            s_ours, s_theirs = mean_of(ours, "seconds"), mean_of(theirs, "seconds")
            speedup = s_theirs / s_ours
            ratio = epoch_ratio(results, degree, method.name)
            focused = method.decision_focused
            speed_target, ratio_target = method.speedup_target, method.epoch_ratio_target
            rows.append({
                "degree": str(degree), "method": method.name,
                "skdfl regret": f"{r_ours:.4f}", "PyEPO regret": f"{r_theirs:.4f}",
                "difference (95%)": paired_difference(ours, theirs),
                "skdfl s": f"{s_ours:.2f}", "PyEPO s": f"{s_theirs:.2f}",
                "speed-up": f"{speedup:.2f}x",
                "target": "-" if speed_target is None else f">={speed_target:g}x",
                "speed ok": verdict(speedup >= speed_target if focused else None),
                "regret ok": verdict(r_ours <= r_theirs + REGRET_SLACK if focused else None),
                "epoch/2s": "-" if ratio is None else f"{ratio:.2f}x",
                "epoch ok": verdict(ratio <= ratio_target
                                     if ratio_target is not None and ratio is not None
                                     else None),
            })
    return rows


def target_summary(methods):
    """The speed targets, methods grouped by target, then the epoch-ratio targets."""
    by_target = {}
    for m in methods:
        if m.decision_focused:
            by_target.setdefault(m.speedup_target, []).append(m.name)
    parts = [f"speed-up >= {t:g}x: {', '.join(names)}" for t, names in sorted(by_target.items())]
    parts += [f"{m.name} epoch/2s <= {m.epoch_ratio_target:g}x"
              for m in methods if m.epoch_ratio_target is not None]
    return "; ".join(parts)


def header(args, problem, methods):
    scales = ", ".join(
        f"deg {d}: {target_scale(make_data(problem, d, args.seeds[0]).C_train):.2f}"
        for d in args.degrees)
    n_params = make_data(problem, args.degrees[0], args.seeds[0], 1, 1).C_train.shape[1]
    targets = target_summary(methods)
    gurobi = ("default" if problem.gurobi_threads is None
              else str(problem.gurobi_threads))
    return "\n".join([
        f"{problem.description}, {N_TRAIN} train / {N_TEST} test, "
        f"noise_width={NOISE_WIDTH}, Linear({N_FEATURES}, {n_params}), Adam "
        f"lr={LEARNING_RATE}, batch={BATCH_SIZE}, epochs={args.epochs}, lambd={LAMBD:g}, "
        f"n_samples={N_SAMPLES}, sigma={SIGMA:g}",
        f"aimle lambd={AIMLE_LAMBD:g} (adaptive), pg sigma={PG_SIGMA:g}, pg and aimle "
        f"{FINITE_DIFFERENCE} differences, ltr-list tau={LTR_TAU:g}, "
        f"solve_ratio={args.solve_ratio:g} (both libraries)",
        f"seeds={args.seeds}, fastest of {args.repeats} fit(s) each; skdfl "
        f"{skdfl.__version__}, PyEPO {pyepo.__version__} (gurobi threads: {gurobi}), "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        f"skdfl's internal target scale mean|C| (seed {args.seeds[0]}): {scales}; skdfl's "
        "additive noise and ltr-list's tau " + (
            "nominal (on the rescaled costs), skdfl's own network" if args.nominal_units else
            "divided by it (the same loss as PyEPO's on the raw costs); PyEPO's network, "
            "its output divided by it"),
        "regret: normalized test regret, mean over seeds; difference: skdfl's regret less "
        "PyEPO's on the same seed, mean +- 95% t-interval over seeds;",
        "s: fit wall seconds, mean over seeds; speed-up: PyEPO s / skdfl s;",
        "epoch/2s: skdfl epoch time / skdfl two-stage epoch time.",
        "Targets: " + (targets or "none") + f"; regret <= PyEPO + {REGRET_SLACK} for each "
        "decision-focused method.",
    ])


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def _probability(text):
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1]; got {text}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problem", default="shortest_path", choices=list(PROBLEMS),
                        help="decision problem (default: shortest_path)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of every fit")
    parser.add_argument("--degrees", type=int, nargs="+", default=[1, 2, 4, 6])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--solve-ratio", type=_probability, default=SOLVE_RATIO,
                        help="fraction of the training solves made by the solver, the "
                             "others answered from the solution pool, in both libraries "
                             f"(default {SOLVE_RATIO:g})")
    parser.add_argument("--repeats", type=int, default=1,
                        help="time each fit this many times and keep the fastest")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N) and gurobi Threads=N for both "
                             "libraries (default: leave both alone)")
    parser.add_argument("--nominal-units", action="store_true",
                        help="give skdfl the cost-unit hyperparameters' nominal values "
                             "(on its rescaled costs) and its own network, instead of values "
                             "matched to PyEPO's raw costs and PyEPO's network")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line per fit (on stderr)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    problem = PROBLEMS[args.problem]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        problem = dataclasses.replace(problem, gurobi_threads=args.threads)
    methods = [METHODS[name] for name in dict.fromkeys(args.methods)]
    if args.nominal_units:
        methods = [dataclasses.replace(m, cost_units=(), same_network=False) for m in methods]
    log = progress_log(args.quiet)
    check_same_draws(problem, args.degrees[0], args.seeds[0])
    warm_up(problem, methods, args.solve_ratio)
    results = run_all(problem, methods, args.degrees, args.seeds, args.epochs, log,
                      args.repeats, args.solve_ratio)
    print(header(args, problem, methods))
    print()
    print(format_table(table_rows(results, methods, args.degrees)))


if __name__ == "__main__":
    main()
