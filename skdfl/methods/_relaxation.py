"""Decision-focused learning through a continuous relaxation (Wilder et al., 2019)."""

import torch

from .._validation import check_scalar
from ..optimizers import Optimizer
from ._base import DecisionLoss, check_layer_inputs, check_optimizer


def has_relaxation(optimizer):
    """Whether ``optimizer`` provides ``relax``: its own, or through ``lp_form``.

    Parameters
    ----------
    optimizer : Optimizer

    Returns
    -------
    bool
    """
    kind = type(check_optimizer(optimizer))
    return kind.relax is not Optimizer.relax or kind.lp_form is not Optimizer.lp_form


class Relaxation(torch.nn.Module):
    """Solver layer returning the relaxed decisions ``optimizer.relax(theta_hat, gamma)``.

    For a linear program (and for problems with an ``lp_form``, such as
    :class:`~skdfl.optimizers.ShortestPath` and
    :class:`~skdfl.optimizers.KSubset`) this is the quadratic program of
    Wilder et al. (2019), ``max theta_hat @ x - gamma * ||x||^2`` over the
    polytope (QPTL): a unique decision, piecewise linear in ``theta_hat``,
    whose gradient comes from implicit differentiation of the KKT conditions.
    For problems with their own ``relax`` (coverage) it is that relaxation.

    Parameters
    ----------
    optimizer : Optimizer
        A decision problem with a continuous relaxation.
    gamma : float, default=0.1
        Weight of the quadratic term. Small values give decisions close to
        the exact ones and sparse gradients; large values smooth more.

    References
    ----------
    B. Wilder, B. Dilkina, M. Tambe, "Melding the Data-Decisions Pipeline:
    Decision-Focused Learning for Combinatorial Optimization", AAAI 2019.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import Relaxation
    >>> from skdfl.optimizers import KSubset
    >>> layer = Relaxation(KSubset(k=1), gamma=0.5)
    >>> theta_hat = torch.tensor([[1.0, 0.6, -1.0]], requires_grad=True)
    >>> x = layer(theta_hat)          # projection of theta_hat / (2 gamma) on the simplex
    >>> x.detach()
    tensor([[0.7000, 0.3000, 0.0000]])
    >>> x[0, 0].backward()
    >>> theta_hat.grad
    tensor([[ 0.5000, -0.5000,  0.0000]])
    """

    def __init__(self, optimizer, gamma=0.1):
        super().__init__()
        if not has_relaxation(optimizer):
            raise ValueError(f"method 'relaxation' needs an optimizer with a continuous "
                             f"relaxation (relax or lp_form); {type(optimizer).__name__} has "
                             "none.")
        self.optimizer = optimizer
        self.gamma = check_scalar(gamma, "gamma", low=0.0)

    def forward(self, theta_hat, **params):
        theta_hat, solver, params, restore = check_layer_inputs(self.optimizer, theta_hat,
                                                                params)
        return restore(self.decide_batch(theta_hat, solver, **params))

    def decide_batch(self, theta_hat, solver, **params):
        """Relaxed decisions of a checked 2-D batch (``solver``: the bound optimizer)."""
        # A row with NaN or inf (a diverging model) has no relaxed decision:
        # it is relaxed at zero and comes out NaN, so that it propagates.
        ok = torch.isfinite(theta_hat).all(-1, keepdim=True)
        theta_hat = torch.where(ok, theta_hat, 0.0)
        if not solver.is_linear:
            solver.check_theta(theta_hat, "theta_hat")
        x = solver._relax(theta_hat, self.gamma, **params)
        return torch.where(ok, x, float("nan"))


class RelaxationRegret(DecisionLoss):
    """Regret of the relaxed decisions: the loss of ``method="relaxation"``.

    ``forward(theta_hat, theta, x_true)`` is the mean over the batch of
    ``f(x*, theta) - f(x_relaxed, theta)`` for a maximization (the other way
    round for a minimization), with ``x_relaxed = optimizer.relax(theta_hat,
    gamma)``: for a linear problem ``sign * theta @ (x_relaxed - x*)``.
    Decisions at test time stay exact (``optimizer.solve``).

    Parameters
    ----------
    optimizer : Optimizer
        A decision problem with a continuous relaxation.
    gamma : float, default=0.1
        Weight of the quadratic term of :class:`Relaxation`.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import RelaxationRegret
    >>> from skdfl.optimizers import KSubset
    >>> loss = RelaxationRegret(KSubset(k=1), gamma=0.5)
    >>> theta = torch.tensor([[1.0, 0.0]])
    >>> float(loss(torch.tensor([[0.0, 1.0]]), theta))   # relaxed decision (0, 1)
    1.0
    >>> float(loss(torch.tensor([[0.6, 0.0]]), theta))   # relaxed decision (0.8, 0.2)
    0.2
    """

    method_name = "relaxation"

    def __init__(self, optimizer, gamma=0.1):
        super().__init__(optimizer)
        self.layer = Relaxation(optimizer, gamma)

    def instance_losses(self, theta_hat, theta, x_true, solver, **params):
        x_hat = self.layer.decide_batch(theta_hat, solver, **params)
        objective = solver._objective
        return solver.sign * (objective(x_hat, theta, **params)
                              - objective(x_true, theta, **params))
