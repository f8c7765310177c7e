"""The negative identity as the solver's backward pass (Sahoo et al., 2023)."""

import torch

from .._validation import check_flag
from ._base import (DecisionRegret, check_layer_inputs, check_perturbable, solve_finite,
                    with_gradient)
from ._sphere import through_sphere


class _NegativeIdentitySolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, theta_hat, optimizer, params, normalize):
        ctx.sign = optimizer.sign
        if normalize:
            ctx.save_for_backward(theta_hat.detach())
        ctx.normalize = normalize
        return solve_finite(optimizer, theta_hat.detach(), **params)

    @staticmethod
    def backward(ctx, grad_x):
        # Raising a cost lowers its variable in a minimization (and raises
        # it in a maximization): the Jacobian taken as -I (resp. +I).
        grad = -ctx.sign * grad_x
        if ctx.normalize:
            grad = through_sphere(grad, ctx.saved_tensors[0])
        return grad, None, None, None


class NegativeIdentity(torch.nn.Module):
    """Solver layer whose backward pass is the negative identity.

    The forward pass returns the exact decisions ``x_hat = solve(theta_hat)``.
    The backward pass treats the solver as ``x = -theta`` for a minimization
    (``x = theta`` for a maximization): the incoming gradient ``dL/dx`` goes
    back as ``-dL/dx`` (``dL/dx``). It needs no extra solve and has no
    hyperparameter.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    normalize : bool, default=True
        Project ``theta_hat`` onto the unit sphere (per instance) before the
        solver, the paper's projection for every linear problem: the
        decisions do not change (a positive scale never does), but the
        gradient loses its component along ``theta_hat`` and is divided by
        its norm, so the predictions cannot drift in scale without
        changing a decision. Without it the regret's gradient is ``-theta``
        whatever the decision (and training on the shortest paths of
        :func:`~skdfl.datasets.make_shortest_path` was clearly worse).

    References
    ----------
    S. S. Sahoo, A. Paulus, M. Vlastelica, V. Musil, V. Kuleshov, G. Martius,
    "Backpropagation through Combinatorial Algorithms: Identity with
    Projection Works", ICLR 2023.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import NegativeIdentity
    >>> from skdfl.optimizers import KSubset
    >>> layer = NegativeIdentity(KSubset(k=1), normalize=False)   # a maximization
    >>> theta_hat = torch.tensor([[0.0, 1.0]], requires_grad=True)
    >>> x = layer(theta_hat)
    >>> x
    tensor([[0., 1.]], grad_fn=<_NegativeIdentitySolveBackward>)
    >>> (x * torch.tensor([[-1.0, 1.0]])).sum().backward()  # a loss: want item 0, not 1
    >>> theta_hat.grad                                   # raise item 0, lower item 1
    tensor([[-1.,  1.]])
    """

    def __init__(self, optimizer, normalize=True):
        super().__init__()
        self.optimizer = check_perturbable(optimizer, "nid")
        self.normalize = check_flag(normalize, "normalize")

    def forward(self, theta_hat, **params):
        theta_hat, solver, params, restore = check_layer_inputs(self.optimizer, theta_hat,
                                                                params)
        return restore(self.decide_batch(theta_hat, solver, **params))

    def decide_batch(self, theta_hat, solver, **params):
        """Decisions of a checked 2-D batch (``solver``: the bound optimizer)."""
        return _NegativeIdentitySolve.apply(theta_hat, solver, params, self.normalize)


class NegativeIdentityRegret(DecisionRegret):
    """Regret of the decisions with a negative-identity backward: ``method="nid"``.

    With the regret as downstream loss, ``dL/dx`` is ``theta`` (mirrored
    for a maximization), so the gradient is ``-theta`` for either sense,
    divided by the batch size: it raises the predicted parameters along
    the true ones. With ``normalize`` (the default) only the part of
    ``theta`` orthogonal to ``theta_hat`` remains, divided by
    ``||theta_hat||``: it turns the prediction towards the truth. Either
    way the gradient does not depend on the decision: it is that of
    ``-theta @ theta_hat`` (normalized: ``-theta @ theta_hat /
    ||theta_hat||``), averaged over the batch, while the loss reported is
    the regret.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    normalize : bool, default=True
        Passed to :class:`NegativeIdentity`.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import NegativeIdentityRegret
    >>> from skdfl.optimizers import KSubset
    >>> loss = NegativeIdentityRegret(KSubset(k=1))
    >>> theta_hat = torch.tensor([[0.0, 2.0]], requires_grad=True)
    >>> regret = loss(theta_hat, torch.tensor([[1.0, 0.5]]))
    >>> regret.item()
    0.5
    >>> regret.backward()
    >>> theta_hat.grad       # -theta without its part along theta_hat, / ||theta_hat||
    tensor([[-0.5000,  0.0000]])
    """

    method_name = "nid"

    def __init__(self, optimizer, normalize=True):
        super().__init__(optimizer, NegativeIdentity(optimizer, normalize))

    def instance_losses(self, theta_hat, theta, x_true, solver, **params):
        # The gradient does not depend on the decision (see above): the
        # values and gradients in closed form, without recording the regret's
        # small steps for autograd, which cost more than the solve.
        with torch.no_grad():
            x_hat = solve_finite(solver, theta_hat.detach(), **params)
            values = self.optimizer.sign * (theta * (x_hat - x_true)).sum(-1)
            grad = -theta.to(theta_hat)
            if self.layer.normalize:
                grad = through_sphere(grad, theta_hat.detach())
        return with_gradient(theta_hat, values, grad)
