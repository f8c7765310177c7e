"""Perturbed optimizers: the Fenchel-Young loss of Berthet et al. (2020)."""

import numbers

import torch

from .._validation import check_scalar
from ..optimizers._instance import repeat_rows
from ._base import DecisionLoss, solve_finite
from ._noise import draw_noise


def solve_perturbed(optimizer, theta, noise, **params):
    """Decisions at ``theta + noise`` for every sample in one batched solver call.

    Parameters
    ----------
    optimizer : Optimizer
    theta : Tensor of shape (B, n_params)
    noise : Tensor of shape (S, B, n_params)
    **params : Tensor
        Checked per-instance parameters of the B instances.

    Returns
    -------
    decisions : Tensor of shape (S, B, n_vars)
        NaN where ``theta + noise`` has a NaN or inf.
    """
    return solve_stacked(optimizer, theta.unsqueeze(0) + noise, **params)


def solve_stacked(optimizer, thetas, **params):
    """Decisions for a stack of batches ``thetas`` (S, B, n_params), in one solver call.

    ``params`` hold one row per instance of a batch (B rows); every sample
    of an instance is solved with that instance's values. Returns decisions
    of shape (S, B, n_vars), NaN where ``thetas`` has a NaN or inf.
    """
    samples, batch, width = thetas.shape
    decisions = solve_finite(optimizer, thetas.reshape(samples * batch, width),
                             **repeat_rows(params, samples))
    return decisions.reshape(samples, batch, decisions.shape[-1])


class PerturbedFenchelYoung(DecisionLoss):
    """The perturbed Fenchel-Young loss with Gaussian noise.

    With ``y_sigma(theta_hat) = E[solve(theta_hat + sigma Z)]``, ``Z ~ N(0, I)``,
    the loss ``E[max_x (theta_hat + sigma Z) @ x] - theta_hat @ x*`` (for a
    maximization; mirrored for a minimization) is convex in ``theta_hat``,
    non-negative, and has the gradient ``y_sigma(theta_hat) - x*``: it pulls
    the expected perturbed decision towards the true optimal one. All
    ``n_samples`` draws of a batch are solved in one batched call.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    sigma : float, default=1.0
        Scale of the Gaussian perturbation.
    n_samples : int, default=1
        Monte-Carlo draws per instance and step.
    generator : torch.Generator, optional
        Source of the perturbations (torch's global generator when None).

    References
    ----------
    Q. Berthet et al., "Learning with Differentiable Perturbed Optimizers",
    NeurIPS 2020.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import PerturbedFenchelYoung
    >>> from skdfl.optimizers import KSubset
    >>> loss = PerturbedFenchelYoung(KSubset(k=1), sigma=0.1, n_samples=100,
    ...                              generator=torch.Generator().manual_seed(0))
    >>> theta = torch.tensor([[2.0, 0.0]])
    >>> theta_hat = torch.tensor([[0.0, 2.0]], requires_grad=True)
    >>> loss(theta_hat, theta).backward()
    >>> theta_hat.grad          # raise item 0, lower item 1
    tensor([[-1.,  1.]])
    """

    method_name = "fy"
    needs_linear = True

    def __init__(self, optimizer, sigma=1.0, n_samples=1, generator=None):
        super().__init__(optimizer)
        self.sigma = check_scalar(sigma, "sigma", low=0.0, low_inclusive=False)
        self.n_samples = check_scalar(n_samples, "n_samples", kind=numbers.Integral, low=1)
        self.generator = generator

    def batch_loss(self, theta_hat, theta, x_true, solver, **params):
        noise = draw_noise("normal", (self.n_samples, *theta_hat.shape), scale=self.sigma,
                           generator=self.generator, device=theta_hat.device,
                           dtype=theta_hat.dtype)
        with torch.no_grad():
            z = solve_perturbed(solver, theta_hat.detach(), noise, **params)
        # Danskin: with the perturbed optima z held fixed, autograd gives
        # the gradient E[z] - x* (mirrored for a minimization).
        perturbed_value = ((theta_hat.unsqueeze(0) + noise) * z).sum(-1).mean(0)
        per_instance = self.optimizer.sign * ((theta_hat * x_true).sum(-1) - perturbed_value)
        return per_instance.mean()
