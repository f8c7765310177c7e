"""Perturbed optimizers of Berthet et al. (2020): the expected decision and the Fenchel-Young loss.

Additive noise perturbs ``theta_hat + sigma Z``; multiplicative noise
``theta_hat * exp(sigma Z - sigma^2 / 2)`` (mean one, each parameter keeping
its sign), with ``Z`` standard Gaussian.
"""

import numbers

import torch

from .._validation import check_flag, check_scalar
from ..optimizers._instance import repeat_rows
from ._base import (DecisionLoss, DecisionRegret, check_layer_inputs, check_perturbable,
                    check_signs, solve_finite)
from ._noise import draw_noise


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


def perturb(theta, noise, sigma, multiplicative):
    """``theta`` perturbed by standard Gaussian ``noise`` (S, B, n), additively or not."""
    if multiplicative:
        return theta * multiplicative_factor(noise, sigma)
    return theta + sigma * noise


def multiplicative_factor(noise, sigma):
    """``exp(sigma Z - sigma^2 / 2)``: log-normal, mean one."""
    return torch.exp(sigma * noise - sigma ** 2 / 2)


def _standard_normal(generator, shape, like):
    return draw_noise("normal", shape, generator=generator, device=like.device,
                      dtype=like.dtype)


class PerturbedFenchelYoung(DecisionLoss):
    """The perturbed Fenchel-Young loss with Gaussian noise.

    With ``y_sigma(theta_hat) = E[solve(theta_hat + sigma Z)]``, ``Z ~ N(0, I)``,
    the loss ``E[max_x (theta_hat + sigma Z) @ x] - theta_hat @ x*`` (for a
    maximization; mirrored for a minimization) is convex in ``theta_hat``,
    non-negative, and has the gradient ``y_sigma(theta_hat) - x*``: it pulls
    the expected perturbed decision towards the true optimal one. All
    ``n_samples`` draws of a batch are solved in one batched call. Each
    draw's value is ``(theta_hat + sigma Z) @ (z - x*)`` (``z`` its perturbed
    optimum): the plain estimate less ``sigma Z @ x*``, of mean zero, so the
    same loss and gradient, but never negative and 0 where the noise moves
    no decision; near the optimum it swings less from batch to batch.

    With ``multiplicative=True`` (``method="fy-mul"``) the perturbed
    parameters are ``theta_hat * M``, ``M = exp(sigma Z - sigma^2 / 2)``:
    the loss ``E[max_x (theta_hat * M) @ x] - theta_hat @ x*`` is still
    convex and non-negative (``E[M] = 1``), with the gradient
    ``E[M * solve(theta_hat * M)] - x*``. The noise scales with each
    parameter and keeps its sign, so an optimizer exact only at
    non-negative parameters (a graph with a cycle) trains too, given
    non-negative predictions.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    sigma : float, default=1.0
        Scale of the Gaussian perturbation (of its logarithm, multiplicative).
    n_samples : int, default=1
        Monte-Carlo draws per instance and step.
    multiplicative : bool, default=False
        Multiplicative log-normal noise instead of additive Gaussian noise.
    generator : torch.Generator, optional
        Source of the perturbations (torch's global generator when None).

    References
    ----------
    Q. Berthet et al., "Learning with Differentiable Perturbed Optimizers",
    NeurIPS 2020. Multiplicative noise: G. Dalle et al., "Learning with
    Combinatorial Optimization Layers: a Probabilistic Approach", 2022.

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
    >>> fy_mul = PerturbedFenchelYoung(KSubset(k=1), sigma=0.1, n_samples=100,
    ...                                multiplicative=True)
    >>> float(fy_mul(theta, theta))                     # right choice: zero loss
    0.0
    """

    needs_linear = True
    # The loss reads the true decision only: it trains from observed decisions too.
    needs_parameters = False

    def __init__(self, optimizer, sigma=1.0, n_samples=1, multiplicative=False,
                 generator=None):
        # Read by the optimizer check of DecisionLoss.__init__.
        self.multiplicative = check_flag(multiplicative, "multiplicative")
        super().__init__(optimizer)
        self.sigma = check_scalar(sigma, "sigma", low=0.0, low_inclusive=False)
        self.n_samples = check_scalar(n_samples, "n_samples", kind=numbers.Integral, low=1)
        self.generator = generator

    @property
    def method_name(self):
        return "fy-mul" if self.multiplicative else "fy"

    @property
    def keeps_sign(self):
        return self.multiplicative

    def instance_losses(self, theta_hat, theta, x_true, solver, **params):
        if self.multiplicative:
            check_signs(solver, theta_hat.detach(), self.method_name)
        noise = _standard_normal(self.generator, (self.n_samples, *theta_hat.shape), theta_hat)
        perturbed = perturb(theta_hat.unsqueeze(0), noise, self.sigma, self.multiplicative)
        with torch.no_grad():
            z = solve_stacked(solver, perturbed.detach(), **params)
        # Danskin: with the perturbed optima z held fixed, autograd gives
        # the gradient E[z] - x* (E[M z] - x* for multiplicative noise;
        # mirrored for a minimization).
        if self.multiplicative:
            # <theta_hat * M, z> - <theta_hat, x*>. The zero-mean term below
            # would depend on theta_hat here, and change the gradient's
            # estimate (shortest path fy-mul: regret 0.117 -> 0.137).
            value = (perturbed * z).sum(-1).mean(0) - (theta_hat * x_true).sum(-1)
        else:
            # <theta_hat + sigma Z, z - x*>: the plain estimate less
            # sigma <Z, x*>, of mean zero and free of theta_hat, so the same
            # loss and gradient in expectation and sample by sample; but each
            # sample's value is >= 0 and 0 where the noise moves no decision,
            # so the loss a stopping rule reads swings less near the optimum.
            value = (perturbed * (z - x_true.unsqueeze(0))).sum(-1).mean(0)
        return -self.optimizer.sign * value


class _PerturbedSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, theta_hat, optimizer, sigma, noise, multiplicative, params):
        theta = theta_hat.detach()
        perturbed = perturb(theta, noise, sigma, multiplicative)
        if len(noise) > 1:
            # The baseline of each sample's gradient estimate: the mean of the
            # other samples (independent of its noise).
            z = solve_stacked(optimizer, perturbed, **params)
            baseline = (z.sum(0, keepdim=True) - z) / (len(z) - 1)
        else:
            # One sample: the unperturbed decision, in the same solver call.
            decisions = solve_stacked(optimizer, torch.cat([theta.unsqueeze(0), perturbed]),
                                      **params)
            z, baseline = decisions[1:], decisions[0]
        ctx.save_for_backward(theta, noise, z - baseline)
        ctx.sigma, ctx.multiplicative = sigma, multiplicative
        return z.mean(0)

    @staticmethod
    def backward(ctx, grad_y):
        theta, noise, change = ctx.saved_tensors
        # Gaussian integration by parts: d/dtheta E[z] = E[z Z^T] / sigma.
        # Each sample enters by how far its decision is from a baseline
        # independent of its noise: the same expectation, less variance.
        reward = (change * grad_y.unsqueeze(0)).sum(-1, keepdim=True)
        grad = (reward * noise).mean(0) / ctx.sigma
        if ctx.multiplicative:
            # theta * M = sign(theta) exp(log|theta| + sigma Z - sigma^2/2):
            # the chain rule through log|theta| divides by theta. A zero
            # parameter is not perturbed and gets no gradient.
            grad = torch.where(theta != 0, grad / torch.where(theta != 0, theta, 1.0), 0.0)
        return grad, None, None, None, None, None


class PerturbedOptimizer(torch.nn.Module):
    """Differentiable perturbed optimizer: the expected decision under noise.

    The forward pass returns the Monte-Carlo estimate of
    ``y_sigma(theta_hat) = E[solve(theta_hat + sigma Z)]``, ``Z ~ N(0, I)``,
    a smooth function of ``theta_hat``; the backward pass applies its
    Jacobian estimate ``E[(z_s - b_s) Z_s^T] / sigma`` (Gaussian integration
    by parts) over the samples ``z_s = solve(theta_hat + sigma Z_s)``, where
    a baseline ``b_s`` independent of ``Z_s`` keeps the expectation (``Z``
    has mean zero) and lowers the variance: the mean of the other samples'
    decisions (leave-one-out), or with ``n_samples=1`` the unperturbed
    decision ``solve(theta_hat)`` (solved in the same call; on the shortest
    paths of :func:`~skdfl.datasets.make_shortest_path` it roughly halved
    the regret reached with one sample, against no baseline). With 10
    samples the leave-one-out baseline reached a lower regret than the
    unperturbed one on those shortest paths (3 seeds, degree 6: 0.116
    against 0.120 additive, 0.132 against 0.142 multiplicative), with one
    solve fewer per instance. All draws of a batch are solved in one
    batched call.

    With ``multiplicative=True`` the perturbed parameters are
    ``theta_hat * exp(sigma Z - sigma^2 / 2)`` (log-normal noise of mean
    one, each parameter keeping its sign); the Jacobian estimate divides
    column ``j`` by ``theta_hat_j`` (a parameter at exactly zero is not
    perturbed and gets no gradient; near zero the estimate is noisy, so
    keep the predictions away from it, e.g. with a softplus link). An
    optimizer exact only at non-negative parameters (a graph with a cycle)
    then trains too, given non-negative predictions.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    sigma : float, default=1.0
        Scale of the Gaussian perturbation (of its logarithm, multiplicative).
    n_samples : int, default=1
        Monte-Carlo draws per instance and step.
    multiplicative : bool, default=False
        Multiplicative log-normal noise instead of additive Gaussian noise.
    generator : torch.Generator, optional
        Source of the perturbations (torch's global generator when None).

    References
    ----------
    Q. Berthet et al., "Learning with Differentiable Perturbed Optimizers",
    NeurIPS 2020. Multiplicative noise: G. Dalle et al., "Learning with
    Combinatorial Optimization Layers: a Probabilistic Approach", 2022.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import PerturbedOptimizer
    >>> from skdfl.optimizers import KSubset
    >>> layer = PerturbedOptimizer(KSubset(k=1), sigma=1.0, n_samples=20000,
    ...                            generator=torch.Generator().manual_seed(0))
    >>> theta_hat = torch.tensor([[0.5, 0.0]], requires_grad=True)
    >>> y = layer(theta_hat)
    >>> y                      # P(0.5 + Z0 > Z1) = Phi(0.5 / sqrt(2)) = 0.638
    tensor([[0.6..., 0.3...]], grad_fn=<_PerturbedSolveBackward>)
    >>> y[0, 0].backward()     # d/dt Phi(t / sqrt(2)) = 0.265 at t = 0.5
    >>> theta_hat.grad
    tensor([[ 0.26..., -0.26...]])
    """

    def __init__(self, optimizer, sigma=1.0, n_samples=1, multiplicative=False,
                 generator=None):
        super().__init__()
        self.multiplicative = check_flag(multiplicative, "multiplicative")
        self.method_name = "dpo-mul" if self.multiplicative else "dpo"
        self.optimizer = check_perturbable(optimizer, self.method_name,
                                           keeps_sign=self.multiplicative)
        self.sigma = check_scalar(sigma, "sigma", low=0.0, low_inclusive=False)
        self.n_samples = check_scalar(n_samples, "n_samples", kind=numbers.Integral, low=1)
        self.generator = generator

    def forward(self, theta_hat, **params):
        theta_hat, solver, params, restore = check_layer_inputs(self.optimizer, theta_hat,
                                                                params)
        return restore(self.decide_batch(theta_hat, solver, **params))

    def decide_batch(self, theta_hat, solver, **params):
        """Expected perturbed decisions of a checked 2-D batch (``solver``: the bound optimizer)."""
        if self.multiplicative:
            check_signs(solver, theta_hat.detach(), self.method_name)
        noise = _standard_normal(self.generator, (self.n_samples, *theta_hat.shape), theta_hat)
        return _PerturbedSolve.apply(theta_hat, solver, self.sigma, noise, self.multiplicative,
                                     params)


class PerturbedRegret(DecisionRegret):
    """Regret of the expected perturbed decision: the loss of ``method="dpo"`` and ``"dpo-mul"``.

    The mean over the batch of ``theta @ (y_sigma(theta_hat) - x*)``
    (mirrored for a maximization), with ``y_sigma`` the expected decision
    of :class:`PerturbedOptimizer`: a smooth surrogate of regret whose
    gradient is the perturbed optimizer's Jacobian estimate applied to
    ``theta``.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    **layer_params
        Passed to :class:`PerturbedOptimizer` (``sigma``, ``n_samples``,
        ``multiplicative``, ``generator``).

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import PerturbedRegret
    >>> from skdfl.optimizers import KSubset
    >>> loss = PerturbedRegret(KSubset(k=1), sigma=0.01, n_samples=10)
    >>> float(loss(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]])))
    1.0
    """

    def __init__(self, optimizer, **layer_params):
        layer = PerturbedOptimizer(optimizer, **layer_params)
        self.multiplicative = layer.multiplicative
        super().__init__(optimizer, layer)

    @property
    def method_name(self):
        return "dpo-mul" if self.multiplicative else "dpo"

    @property
    def keeps_sign(self):
        return self.multiplicative
