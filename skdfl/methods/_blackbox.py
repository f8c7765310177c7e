"""Differentiation of blackbox combinatorial solvers (Pogancic et al., 2020)."""

import torch

from .._validation import check_scalar
from ._base import DecisionRegret, check_layer_inputs, check_perturbable, solve_finite


class _BlackboxSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, theta_hat, optimizer, lambd, params):
        x_hat = solve_finite(optimizer, theta_hat.detach(), **params)
        ctx.save_for_backward(theta_hat, x_hat)
        ctx.optimizer, ctx.lambd, ctx.params = optimizer, lambd, params
        return x_hat

    @staticmethod
    def backward(ctx, grad_x):
        theta_hat, x_hat = ctx.saved_tensors
        optimizer, lambd = ctx.optimizer, ctx.lambd
        sign = optimizer.sign
        # Perturb the costs in the direction that lowers the downstream
        # loss, then interpolate between the two decisions (divided by lambd,
        # so lambd is a smoothing scale rather than a learning rate).
        x_shifted = solve_finite(optimizer, theta_hat.detach() + sign * lambd * grad_x,
                                 **ctx.params)
        step = x_shifted - x_hat if sign > 0 else x_hat - x_shifted
        return step / lambd, None, None, None


class BlackboxDifferentiation(torch.nn.Module):
    """Solver layer with the blackbox-differentiation gradient.

    The forward pass returns the exact decisions ``x_hat = solve(theta_hat)``.
    The backward pass solves once more at ``theta_hat + lambd * dL/dx``
    (minus, for a maximization) and returns the difference of the two
    decisions divided by ``lambd``: the gradient of a piecewise-linear
    interpolation of the loss.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    lambd : float, default=10.0
        Interpolation scale; larger values give smoother, coarser gradients.

    References
    ----------
    M. Vlastelica Pogancic et al., "Differentiation of Blackbox Combinatorial
    Solvers", ICLR 2020.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import BlackboxDifferentiation
    >>> from skdfl.optimizers import KSubset
    >>> layer = BlackboxDifferentiation(KSubset(k=1), lambd=2.0)
    >>> theta_hat = torch.tensor([[0.0, 1.0]], requires_grad=True)
    >>> x = layer(theta_hat)
    >>> x
    tensor([[0., 1.]], grad_fn=<_BlackboxSolveBackward>)
    >>> (x * torch.tensor([[1.0, 0.0]])).sum().neg().backward()  # reward item 0
    >>> theta_hat.grad
    tensor([[-0.5000,  0.5000]])
    """

    def __init__(self, optimizer, lambd=10.0):
        super().__init__()
        self.optimizer = check_perturbable(optimizer, "dbb")
        self.lambd = check_scalar(lambd, "lambd", low=0.0, low_inclusive=False)

    def forward(self, theta_hat, **params):
        theta_hat, solver, params, restore = check_layer_inputs(self.optimizer, theta_hat,
                                                                params)
        return restore(self.decide_batch(theta_hat, solver, **params))

    def decide_batch(self, theta_hat, solver, **params):
        """Decisions of a checked 2-D batch (``solver``: the bound optimizer)."""
        return _BlackboxSolve.apply(theta_hat, solver, self.lambd, params)


class BlackboxRegret(DecisionRegret):
    """Regret of the blackbox-differentiated decisions: the loss of ``method="dbb"``.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    lambd : float, default=10.0
        Interpolation scale of :class:`BlackboxDifferentiation`.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import BlackboxRegret
    >>> from skdfl.optimizers import KSubset
    >>> loss = BlackboxRegret(KSubset(k=1), lambd=1.0)
    >>> float(loss(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]])))
    1.0
    """

    method_name = "dbb"

    def __init__(self, optimizer, lambd=10.0):
        super().__init__(optimizer, BlackboxDifferentiation(optimizer, lambd))
