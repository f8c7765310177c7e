"""Differentiation of blackbox combinatorial solvers (Pogancic et al., 2020)."""

import torch

from .._validation import check_flag, check_scalar
from ._base import DecisionRegret, check_layer_inputs, check_perturbable, solve_finite
from ._sphere import on_sphere, through_rms_sphere


class _BlackboxSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, theta_hat, optimizer, lambd, params, normalize):
        x_hat = solve_finite(optimizer, theta_hat.detach(), **params)
        ctx.save_for_backward(theta_hat, x_hat)
        ctx.optimizer, ctx.lambd, ctx.params = optimizer, lambd, params
        ctx.normalize = normalize
        return x_hat

    @staticmethod
    def backward(ctx, grad_x):
        theta_hat, x_hat = ctx.saved_tensors
        optimizer, lambd = ctx.optimizer, ctx.lambd
        sign = optimizer.sign
        theta_hat = theta_hat.detach()
        # Perturb the costs in the direction that lowers the downstream
        # loss, then interpolate between the two decisions (divided by lambd,
        # so lambd is a smoothing scale rather than a learning rate).
        # Normalized, the costs perturbed are theta_hat on the sphere of the
        # targets' scale: the same decision, a shift of the same relative size
        # however small the predictions have become.
        start = on_sphere(theta_hat) if ctx.normalize else theta_hat
        x_shifted = solve_finite(optimizer, start + sign * lambd * grad_x, **ctx.params)
        step = (x_shifted - x_hat if sign > 0 else x_hat - x_shifted) / lambd
        if ctx.normalize:
            step = through_rms_sphere(step, theta_hat)
        return step, None, None, None, None


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
    normalize : bool, default=False
        Differentiate through ``theta_hat`` projected, per instance, onto
        the sphere of root mean square 1 (the scale of the estimators'
        rescaled targets): the projection of Sahoo et al. (see
        :class:`NegativeIdentity`). The decisions do not change (a positive
        scale never does); the shift ``lambd * dL/dx`` is applied to the
        projected costs, and the gradient loses its component along
        ``theta_hat``. ``False`` (the paper's layer) suits a network that
        fixes the scale of its output itself: on the terrain maps (a CNN
        whose costs have mean 1 per map, trained through a Hamming loss)
        the projection found 18% of the optimal paths against the paper's
        layer's 75% (``lambd`` 32 and 96; in a shorter pilot 27% against 52%,
        both at 96; ``benchmarks/terrain.py``). :class:`BlackboxRegret` (the
        loss of ``method="dbb"``) projects.

    References
    ----------
    M. Vlastelica Pogancic et al., "Differentiation of Blackbox Combinatorial
    Solvers", ICLR 2020.

    S. S. Sahoo, A. Paulus, M. Vlastelica, V. Musil, V. Kuleshov, G. Martius,
    "Backpropagation through Combinatorial Algorithms: Identity with
    Projection Works", ICLR 2023.

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

    def __init__(self, optimizer, lambd=10.0, normalize=False):
        super().__init__()
        self.optimizer = check_perturbable(optimizer, "dbb")
        self.lambd = check_scalar(lambd, "lambd", low=0.0, low_inclusive=False)
        self.normalize = check_flag(normalize, "normalize")

    def forward(self, theta_hat, **params):
        theta_hat, solver, params, restore = check_layer_inputs(self.optimizer, theta_hat,
                                                                params)
        return restore(self.decide_batch(theta_hat, solver, **params))

    def decide_batch(self, theta_hat, solver, **params):
        """Decisions of a checked 2-D batch (``solver``: the bound optimizer)."""
        return _BlackboxSolve.apply(theta_hat, solver, self.lambd, params, self.normalize)


class BlackboxRegret(DecisionRegret):
    """Regret of the blackbox-differentiated decisions: the loss of ``method="dbb"``.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    lambd : float, default=10.0
        Interpolation scale of :class:`BlackboxDifferentiation`.
    normalize : bool, default=True
        Passed to :class:`BlackboxDifferentiation`. The regret's step
        towards a better decision also shrinks the predictions (its inner
        product with ``theta_hat`` is never positive), until they are far
        below ``lambd``'s shift and every step is noise: on the energy
        knapsack with the estimators' defaults the predictions' spread fell
        from 0.2 to 0.005 of the targets' scale between epochs 10 and 40, and
        the test regret rose from 0.06 to 0.12-0.20. Projected, the gradient
        has no component along ``theta_hat`` and the regret stays at 0.06
        (``benchmarks/defaults.py``). ``False`` is the paper's loss.

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

    def __init__(self, optimizer, lambd=10.0, normalize=True):
        super().__init__(optimizer, BlackboxDifferentiation(optimizer, lambd, normalize))
