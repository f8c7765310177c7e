"""Adaptive I-MLE: the target distribution's step tuned during training (Minervini et al., 2023)."""

import math

import torch

from .._validation import check_option, check_scalar
from ._base import DecisionRegret
from ._imle import IMLE
from ._perturbed import solve_stacked

#: Finite-difference forms: one-sided (I-MLE's) and two-sided.
FINITE_DIFFERENCES = ("backward", "central")

#: Weight of the past in the running mean of the gradient's non-zeros (the paper's 0.9).
_DECAY = 0.9


class _AdaptiveImleSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, theta_hat, layer, optimizer, noise, params):
        theta = theta_hat.detach()
        # The paper's max-form perturbation: logits + eps, logits = -theta
        # for a minimization (as in IMLE).
        perturbed = theta - optimizer.sign * noise
        z = solve_stacked(optimizer, perturbed, **params)
        ctx.save_for_backward(theta, perturbed, z)
        ctx.layer, ctx.optimizer, ctx.params = layer, optimizer, params
        return z.mean(0)

    @staticmethod
    def backward(ctx, grad_z):
        theta, perturbed, z = ctx.saved_tensors
        layer, optimizer, sign = ctx.layer, ctx.optimizer, ctx.optimizer.sign
        step = layer.steps(theta, grad_z)
        # Move the perturbed logits against the loss gradient (target
        # distribution), and with the two-sided form also along it; the
        # noise sample stays the same.
        shift = sign * step * grad_z
        if layer.finite_difference == "central":
            both = solve_stacked(optimizer, torch.cat([perturbed + shift, perturbed - shift]),
                                 **ctx.params)
            ahead, behind = both.split(z.shape[0])
            width = 2 * step
        else:
            ahead = solve_stacked(optimizer, perturbed + shift, **ctx.params)
            behind, width = z, step
        difference = ahead - behind
        layer.adapt(difference, step)
        # A row without a step (zero gradient or zero theta_hat) has no difference either.
        grad = sign * difference.mean(0) / torch.where(width > 0, width, 1.0)
        return grad, None, None, None, None


class AdaptiveIMLE(IMLE):
    """Solver layer with the adaptive I-MLE (AIMLE) gradient estimator.

    The forward pass is that of :class:`IMLE`: the mean of ``n_samples``
    perturbed MAP states ``z = solve(theta_hat + eps)`` (``theta_hat - eps``
    for a minimization). The backward pass moves each instance's perturbed
    parameters by ``lambd_i * dL/dz`` against the loss (and, two-sided, also
    along it), with the step normalized per instance,
    ``lambd_i = lambd_ * ||theta_hat_i|| / ||dL/dz_i||``, so that the
    target distribution sits at a distance ``lambd_`` relative to
    ``theta_hat`` whatever the scale of the loss. The gradient is the
    difference of the two MAP states divided by the distance between their
    parameters: ``(z - z') / lambd_i`` (one-sided) or ``(z'' - z') / (2
    lambd_i)`` (two-sided), averaged over the samples.

    After every backward pass, ``lambd_`` adapts: a running mean (decay
    0.9) of the number of non-zero gradient entries per sample is compared
    with ``target_nonzeros``; below it, the step grows by the factor
    ``exp(adaptation_rate)`` (sparse gradients: the target distribution
    too close to change a decision), above it, it shrinks by that factor
    (dense gradients from a distant, biased target). The step is
    multiplicative, so ``lambd_`` reaches the right order of magnitude
    from any initial value within tens of steps (the paper adds or
    subtracts a fixed amount).

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    lambd : float, default=1.0
        Initial relative step ``lambd_``.
    noise : {"sog", "gumbel"} or None, default="sog"
        Perturbation, as in :class:`IMLE`.
    tau : float, default=1.0
        Noise temperature.
    n_samples : int, default=1
        Perturbations per instance and step.
    k : float, optional
        Non-zeros of a solution for the sum-of-Gamma noise (see :class:`IMLE`).
    finite_difference : {"central", "backward"}, default="central"
        Two-sided (the paper's symmetric perturbation) or one-sided (I-MLE's)
        difference; two-sided solves once more per sample.
    target_nonzeros : float, default=4.0
        Wanted mean number of non-zero gradient entries per instance and
        sample (the paper's target gradient norm). A change of decision
        moves at least two entries (one item swapped for another) and a
        detour on a grid at least four, so the default asks for about one
        change of decision per sample; with 1.0 most samples see none (on
        the k-subset and shortest-path benchmarks 1.0 trained to a higher
        regret at every degree tried, 4.0 to PyEPO's or lower; see
        ``benchmarks/shortest_path.py``).
    adaptation_rate : float, default=0.05
        Logarithm of the factor by which ``lambd_`` changes per step.
    generator : torch.Generator, optional
        Source of the perturbations (torch's global generator when None).

    Attributes
    ----------
    lambd_ : float
        The current relative step.
    nonzeros_ : float or None
        The running mean of the non-zero gradient entries per sample (None
        before the first backward pass).

    References
    ----------
    P. Minervini, L. Franceschi, M. Niepert, "Adaptive Perturbation-Based
    Gradient Estimation for Discrete Latent Variable Models", AAAI 2023.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import AdaptiveIMLE
    >>> from skdfl.optimizers import KSubset
    >>> layer = AdaptiveIMLE(KSubset(k=2), noise=None, lambd=1.0)
    >>> theta_hat = torch.tensor([[3.0, 2.0, 1.0]], requires_grad=True)
    >>> z = layer(theta_hat)
    >>> z
    tensor([[1., 1., 0.]], grad_fn=<_AdaptiveImleSolveBackward>)
    >>> (z * torch.tensor([[0.0, 5.0, -5.0]])).sum().backward()  # want item 2, not 1
    >>> theta_hat.grad[0, 1:]   # shifts of norm ||theta_hat|| both ways: lower 1, raise 2
    tensor([ 0.9449, -0.9449])
    >>> layer.nonzeros_, round(layer.lambd_, 4)   # 2 non-zeros < 4 wanted: a larger step
    (2.0, 1.0513)
    """

    _method = "aimle"

    def __init__(self, optimizer, lambd=1.0, noise="sog", tau=1.0, n_samples=1, k=None,
                 finite_difference="central", target_nonzeros=4.0, adaptation_rate=0.05,
                 generator=None):
        super().__init__(optimizer, lambd=lambd, noise=noise, tau=tau, n_samples=n_samples,
                         k=k, generator=generator)
        self.finite_difference = check_option(finite_difference, "finite_difference",
                                              FINITE_DIFFERENCES)
        self.target_nonzeros = check_scalar(target_nonzeros, "target_nonzeros", low=0.0,
                                            low_inclusive=False)
        self.adaptation_rate = check_scalar(adaptation_rate, "adaptation_rate", low=0.0)
        self.lambd_ = float(self.lambd)
        self.nonzeros_ = None

    def steps(self, theta_hat, grad_z):
        """Per-instance steps ``lambd_ * ||theta_hat_i|| / ||dL/dz_i||``, shape (B, 1).

        Zero where ``dL/dz_i`` is zero (nothing to move towards).
        """
        grad_norm = grad_z.norm(dim=-1, keepdim=True)
        ratio = theta_hat.norm(dim=-1, keepdim=True) / torch.where(grad_norm > 0, grad_norm, 1.0)
        return torch.where(grad_norm > 0, self.lambd_ * ratio, 0.0)

    @torch.no_grad()
    def adapt(self, difference, steps):
        """Update the running non-zeros and ``lambd_`` from one backward pass.

        ``difference`` (S, B, n) holds the two MAP states' differences;
        instances without a step (zero gradient) or with NaN (a diverging
        model) do not count.
        """
        counted = difference.isfinite().all(-1) & (steps.squeeze(-1) > 0)
        if not bool(counted.any()):
            return
        nonzeros = float(difference.ne(0).sum(-1)[counted].double().mean())
        self.nonzeros_ = nonzeros if self.nonzeros_ is None else (
            _DECAY * self.nonzeros_ + (1 - _DECAY) * nonzeros)
        direction = 1.0 if self.nonzeros_ < self.target_nonzeros else -1.0
        self.lambd_ *= math.exp(direction * self.adaptation_rate)

    def decide_batch(self, theta_hat, solver, **params):
        """Mean perturbed decisions of a checked 2-D batch (``solver``: the bound optimizer)."""
        noise = self._draw_noise(theta_hat, solver, params)
        return _AdaptiveImleSolve.apply(theta_hat, self, solver, noise, params)


class AdaptiveImleRegret(DecisionRegret):
    """Regret of the adaptive I-MLE decisions: the loss of ``method="aimle"``.

    The adapted step lives in the layer (``loss.layer.lambd_``), so it
    carries over from batch to batch for as long as the loss is used.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    **layer_params
        Passed to :class:`AdaptiveIMLE`.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import AdaptiveImleRegret
    >>> from skdfl.optimizers import KSubset
    >>> loss = AdaptiveImleRegret(KSubset(k=1), noise=None, lambd=3.0)
    >>> theta_hat = torch.tensor([[0.0, 1.0]], requires_grad=True)
    >>> regret = loss(theta_hat, torch.tensor([[2.0, 1.0]]))
    >>> regret.item()
    1.0
    >>> regret.backward()
    >>> theta_hat.grad            # raise item 0, lower item 1
    tensor([[-0.3727,  0.3727]])
    >>> loss.layer.lambd_         # 2 non-zero entries < 4 wanted: a larger step
    3.15...
    """

    method_name = "aimle"
    needs_linear = True

    def __init__(self, optimizer, **layer_params):
        super().__init__(optimizer, AdaptiveIMLE(optimizer, **layer_params))
