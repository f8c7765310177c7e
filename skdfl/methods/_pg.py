"""Perturbation-gradient (PG) losses of Huang & Gupta (2024)."""

import torch

from .._validation import check_option, check_scalar
from ._base import DecisionLoss
from ._perturbed import solve_stacked

#: The finite differences of the PG losses (PGB and PGC in the paper).
FINITE_DIFFERENCES = ("backward", "central")


class PerturbationGradient(DecisionLoss):
    """A PG loss: a finite difference of the optimal value along the true parameters.

    For a minimization, the decision loss ``theta @ x(theta_hat)`` is the
    directional derivative of the plug-in optimal value
    ``V(c) = min_x c @ x`` at ``theta_hat`` in the direction ``theta``.
    The PG losses replace it by a finite difference with step ``sigma``:

    - ``"backward"`` (PGB): ``(V(theta_hat) - V(theta_hat - sigma theta)) / sigma``,
    - ``"central"`` (PGC):
      ``(V(theta_hat + sigma theta) - V(theta_hat - sigma theta)) / (2 sigma)``.

    Both are Lipschitz differences of concave functions of ``theta_hat``
    (convex for a maximization, where the loss is mirrored: ``-theta @
    x(theta_hat)`` approximated from the maximal value). Their gradient,
    by Danskin's theorem with the decisions held fixed, is the difference
    of the two decisions divided by the width, e.g.
    ``(x(theta_hat) - x(theta_hat - sigma theta)) / sigma``. The loss needs
    the true parameters but not the true decisions; it equals the decision
    cost (not the regret) as ``sigma`` shrinks. Both solves of a batch go
    through one batched call.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    sigma : float, default=1.0
        Finite-difference step, relative to ``theta``: small steps approach
        the decision loss but give sparse gradients, large ones smooth it.
    finite_difference : {"central", "backward"}, default="central"
        The central (PGC) or backward (PGB) difference. The loss averages
        the decision cost over the segment between the two points; the
        central segment reaches ahead of ``theta_hat`` where the better
        decisions lie, while the backward one only meets worse decisions
        (it sharpens a right decision but cannot find a better one). The
        central form trained better on the shortest paths of
        :func:`~skdfl.datasets.make_shortest_path`.

    References
    ----------
    M. Huang and V. Gupta, "Decision-Focused Learning with Directional
    Gradients", NeurIPS 2024.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import PerturbationGradient
    >>> from skdfl.optimizers import KSubset
    >>> loss = PerturbationGradient(KSubset(k=1), sigma=1.0, finite_difference="backward")
    >>> theta = torch.tensor([[2.0, 1.0]])
    >>> theta_hat = torch.tensor([[1.0, 0.5]], requires_grad=True)  # maximize: item 0
    >>> value = loss(theta_hat, theta)   # (V(theta_hat - theta) - V(theta_hat)) / 1
    >>> value.item()                     # (-0.5 - 1): item 1 at theta_hat - theta
    -1.5
    >>> value.backward()                  # x(theta_hat - theta) - x(theta_hat)
    >>> theta_hat.grad                    # widen the margin of item 0 over item 1
    tensor([[-1.,  1.]])
    """

    method_name = "pg"
    needs_linear = True
    needs_decisions = False

    def __init__(self, optimizer, sigma=1.0, finite_difference="central"):
        super().__init__(optimizer)
        self.sigma = check_scalar(sigma, "sigma", low=0.0, low_inclusive=False)
        self.finite_difference = check_option(finite_difference, "finite_difference",
                                              FINITE_DIFFERENCES)

    def instance_losses(self, theta_hat, theta, x_true, solver, **params):
        theta = theta.to(torch.promote_types(theta.dtype, theta_hat.dtype))
        behind = theta_hat - self.sigma * theta
        if self.finite_difference == "central":
            ahead, width = theta_hat + self.sigma * theta, 2 * self.sigma
        else:
            ahead, width = theta_hat.to(theta.dtype), self.sigma
        with torch.no_grad():
            x_ahead, x_behind = solve_stacked(solver, torch.stack([ahead, behind]).detach(),
                                              **params)
        # Danskin: with the decisions held fixed, c @ x(c) has the gradient x(c).
        value = ((ahead * x_ahead).sum(-1) - (behind * x_behind).sum(-1)) / width
        return self.optimizer.sign * value
