"""``targets="decisions"``: learning from observed optimal decisions instead of parameters.

``y`` holds the decision taken in each instance (0/1, one column per
decision variable). The losses that read only the true decision train as
they are (Fenchel-Young, the contrastive ones); the solver-layer methods
(dbb, imle, ...) minimize the Hamming distance to the observed decision
through their gradient estimator. Everything else needs the true
parameters and is refused by name.
"""

import numpy as np
import torch
from sklearn.base import clone
from skorch.callbacks import Callback

from .._validation import check_option
from ..methods._base import DecisionLoss, DecisionRegret
from ..methods._blackbox import BlackboxDifferentiation
from ..methods._hamming import HammingLoss
from ..methods._registry import resolve_method
from ..optimizers import LinearProgram
from ._callbacks import forward_in_chunks

TARGETS = ("parameters", "decisions")
#: The methods that train from decisions alone ("auto" is the first).
DECISION_METHODS = ("fy", "fy-mul", "imle", "aimle", "dbb", "nid", "dpo", "dpo-mul", "nce",
                    "cmap")


def from_decisions(estimator):
    """Whether ``y`` holds decisions (``targets="decisions"``); checks ``targets``."""
    return check_option(estimator.targets, "targets", TARGETS) == "decisions"


def resolve_decision_method(estimator):
    """The method that trains from decisions (``"auto"``: ``"fy"``, or ``"fy-mul"`` if signed
    parameters are not solved exactly); methods that need the true parameters are refused."""
    method = estimator.method
    if isinstance(method, DecisionLoss):
        if method.needs_parameters and not isinstance(method, DecisionRegret):
            raise ValueError(
                f"targets='decisions' gives the loss only the observed decisions, and "
                f"{type(method).__name__} reads the true parameters; set its class attribute "
                "needs_parameters = False if it reads only x_true, or use "
                "targets='parameters'.")
        return method.method_name or type(method).__name__
    if method == "auto":     # "fy", or "fy-mul" where only non-negative costs solve exactly
        name = "fy" if estimator.optimizer_.any_sign else "fy-mul"
    else:
        name = resolve_method(method, estimator.optimizer_)
    if name not in DECISION_METHODS:
        raise ValueError(
            f"targets='decisions' trains from the observed decisions only, and method "
            f"{name!r} needs the true parameters; use one of {list(DECISION_METHODS)} "
            "(or 'auto', which is 'fy', or 'fy-mul' where only non-negative parameters solve "
            "exactly), or give the true parameters with "
            "targets='parameters'.")
    return name


def decision_loss(loss, method):
    """The loss to train from decisions: a solver layer's regret becomes its Hamming loss."""
    if not isinstance(loss, DecisionRegret):
        return loss
    layer = loss.layer
    if isinstance(layer, BlackboxDifferentiation) and layer.normalize:
        # The projection answers the regret's collapse of the predictions; through
        # the Hamming loss it cost the terrain maps most of their optimal paths
        # (benchmarks/terrain.py): from decisions dbb is the paper's layer.
        layer = BlackboxDifferentiation(layer.optimizer, layer.lambd)
    return HammingLoss(loss.optimizer, layer, method_name=method)


def sized_optimizer(optimizer, y):
    """``optimizer`` sized to decisions of ``y``'s width (n_vars = n_params: it is linear)."""
    if not optimizer.is_linear:
        raise ValueError(
            f"targets='decisions' needs a linear optimizer (objective theta @ x), whose "
            f"decisions are learned through perturbations; {type(optimizer).__name__} is not "
            "linear. Use targets='parameters'.")
    try:
        return clone(optimizer).with_n_params(y.shape[1], name="y")
    except ValueError as exc:
        raise ValueError(f"{exc} With targets='decisions' y holds one observed decision per "
                         "row: n_vars columns (n_vars = n_params for a linear problem).") from exc


def check_decisions(optimizer, y, params):
    """Refuse ``y`` unless every row is a 0/1 decision, feasible where that can be checked."""
    if y.shape[1] != optimizer.n_vars:
        raise ValueError(f"with targets='decisions' y must have n_vars={optimizer.n_vars} "
                         f"columns, one per decision variable; got {y.shape[1]}.")
    binary = np.isin(y, (0.0, 1.0)).all(axis=1)
    if not binary.all():
        row = int(np.flatnonzero(~binary)[0])
        value = y[row][~np.isin(y[row], (0.0, 1.0))][0]
        raise ValueError(f"with targets='decisions' y must hold 0/1 decisions; got {value} in "
                         f"row {row}.")
    row = first_infeasible_row(optimizer, y, params)
    if row is not None:
        raise ValueError(
            f"with targets='decisions' every row of y must be a feasible decision of "
            f"{type(optimizer).__name__}; row {row} violates its constraints (e.g. not a "
            "path from source to target, or over capacity).")


def first_infeasible_row(optimizer, decisions, params, tol=1e-6):
    """The first row of ``decisions`` outside the optimizer's polytope, or None.

    Checked on the problem's linear program (``lp_form``, with each row's
    per-instance data): one batched product per constraint block. Problems
    without one are not checked.
    """
    if isinstance(optimizer, LinearProgram):
        lp, lp_params = optimizer, params
    else:
        try:
            lp = optimizer.lp_form()
            lp_params = optimizer._lp_params(params) if lp is not None else {}
        except ValueError:   # no linear program for this problem or these parameters
            return None
    if lp is None or lp.n_vars != decisions.shape[1]:
        return None
    data = lp._data
    bad = np.zeros(len(decisions), dtype=bool)
    for A, b, name, equal in ((data.A_eq, data.b_eq, "b_eq", True),
                              (data.A_ub, data.b_ub, "b_ub", False)):
        if A is None:
            continue
        rhs = _numpy(lp_params.get(name), b)
        lhs = np.asarray(A @ decisions.T).T
        excess = np.abs(lhs - rhs) if equal else lhs - rhs
        bad |= (excess > tol * (1 + np.abs(rhs))).any(axis=1)
    upper = _numpy(lp_params.get("upper"), data.hi)
    bad |= ((decisions < data.lo - tol) | (decisions > np.minimum(data.hi, upper) + tol)).any(1)
    return int(np.flatnonzero(bad)[0]) if bad.any() else None


def _numpy(given, default):
    if given is None:
        return default
    return given.detach().cpu().to(torch.float64).numpy()


def match_score(decisions, y, weights=None):
    """The (weighted) share of rows whose decision equals the observed one."""
    y = np.asarray(y, dtype=np.float64) if not hasattr(y, "iloc") else y.to_numpy(float)
    if y.shape != decisions.shape:
        raise ValueError(f"with targets='decisions' y holds the observed decisions: shape "
                         f"{decisions.shape} (n_samples, n_vars); got {y.shape}.")
    equal = (decisions == y).all(axis=1)
    return float(np.average(equal, weights=weights))


class ValidationMismatch(Callback):
    """Early stopping from decisions: the share of validation decisions that differ.

    Records ``valid_mismatch`` (lower is better) after each epoch: the
    (weighted) share of validation rows whose decision under the
    predictions differs from the observed one.
    """

    def __init__(self, optimizer, X, x_true, link, params=None, weights=None):
        self.optimizer, self.X, self.x_true, self.link = optimizer, X, x_true, link
        self.params = params or {}
        self.weights = weights

    def on_epoch_end(self, net, **kwargs):
        with torch.no_grad():
            theta_hat = self.link(forward_in_chunks(net, self.X)).double()
            x_hat = self.optimizer._solve(theta_hat, **self.params)
            differs = (x_hat != self.x_true.to(x_hat)).any(-1).double()
            weights = (torch.ones_like(differs) if self.weights is None
                       else self.weights.to(differs))
        total = weights.sum()   # zero when every validation row has weight 0: no mismatch
        share = (weights * differs).sum() / total if total > 0 else total
        net.history.record("valid_mismatch", float(share))
