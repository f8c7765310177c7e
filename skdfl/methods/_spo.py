"""SPO+: the convex surrogate of regret of Elmachtoub & Grigas (2022)."""

import torch

from ._base import DecisionLoss, solve_finite


class SPOPlus(DecisionLoss):
    """The SPO+ loss, a convex upper bound of regret for linear problems.

    For a minimization, ``l(theta_hat, theta) = max_x (theta - 2 theta_hat) @ x
    + 2 theta_hat @ x*(theta) - theta @ x*(theta)``. With
    ``x_tilde = solve(2 theta_hat - theta)`` this is
    ``(2 theta_hat - theta) @ (x* - x_tilde)``, whose gradient
    ``2 (x* - x_tilde)`` autograd finds because both decisions are
    constants. A maximization flips the sign.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.

    References
    ----------
    A. N. Elmachtoub and P. Grigas, "Smart 'Predict, then Optimize'",
    Management Science 68(1), 2022.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import SPOPlus
    >>> from skdfl.optimizers import KSubset
    >>> loss = SPOPlus(KSubset(k=1))
    >>> theta = torch.tensor([[1.0, 0.0]])
    >>> float(loss(torch.tensor([[0.0, 1.0]]), theta))  # wrong choice: positive loss
    3.0
    >>> float(loss(theta, theta))                        # right choice: zero loss
    0.0
    """

    method_name = "spo+"
    needs_linear = True

    def instance_losses(self, theta_hat, theta, x_true, solver, **params):
        shifted = 2 * theta_hat - theta
        with torch.no_grad():
            x_tilde = solve_finite(solver, shifted.detach(), **params)
        per_instance = self.optimizer.sign * (shifted * (x_true - x_tilde)).sum(-1)
        return per_instance
