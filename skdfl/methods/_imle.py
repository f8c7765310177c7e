"""Implicit maximum-likelihood estimation (Niepert et al., 2021)."""

import numbers

import torch

from .._validation import check_option, check_scalar
from ._base import DecisionRegret, check_layer_inputs, check_perturbable, solve_finite
from ._noise import NOISES, draw_noise
from ._perturbed import solve_stacked


class _ImleSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, theta_hat, optimizer, lambd, noise, params):
        # Noise enters as in the paper's max-form: logits + eps; for a
        # minimization the logits are -theta, hence theta - eps.
        perturbed = theta_hat.detach() - optimizer.sign * noise
        z = solve_stacked(optimizer, perturbed, **params)
        ctx.save_for_backward(perturbed, z)
        ctx.optimizer, ctx.lambd, ctx.params = optimizer, lambd, params
        return z.mean(0)

    @staticmethod
    def backward(ctx, grad_z):
        perturbed, z = ctx.saved_tensors
        optimizer, lambd, sign = ctx.optimizer, ctx.lambd, ctx.optimizer.sign
        # Target distribution: move the logits against the loss gradient,
        # keeping the same noise sample (the paper's perturb-and-MAP
        # estimate of mu(theta) - mu(theta')), divided by lambd.
        shifted = perturbed + sign * lambd * grad_z.unsqueeze(0)
        z_target = solve_stacked(optimizer, shifted, **ctx.params)
        step = z_target - z if sign > 0 else z - z_target
        return step.mean(0) / lambd, None, None, None, None


class IMLE(torch.nn.Module):
    """Solver layer with the I-MLE gradient estimator.

    The forward pass draws ``n_samples`` perturbations ``eps`` and returns the
    mean of the perturbed MAP states ``z = solve(theta_hat + eps)`` (for a
    maximization; ``theta_hat - eps`` for a minimization). The backward pass
    solves again at the target parameters ``theta' = theta_hat - lambd * dL/dz``
    with the same ``eps`` and returns ``(z - z') / lambd``, averaged over the
    samples. All samples of a batch go through one batched solver call.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    lambd : float, default=10.0
        Step to the target distribution; the gradient is divided by it.
    noise : {"sog", "gumbel"} or None, default="sog"
        Perturbation: sum-of-Gamma (Eq. 13 of the paper), Gumbel, or none.
    tau : float, default=1.0
        Noise temperature, in the units of ``theta_hat``. Where the model
        fixes their scale (costs of mean 1, say), it is the size of the
        noise relative to the parameters, which training cannot outgrow by
        scaling them up (see the user guide, "Learning from observed
        decisions").
    n_samples : int, default=1
        Perturbations per instance and step.
    k : float, optional
        Non-zeros of a solution for the sum-of-Gamma noise; by default the
        mean number of non-zeros of the unperturbed decisions of the batch.
    generator : torch.Generator, optional
        Source of the perturbations (torch's global generator when None).

    References
    ----------
    M. Niepert, P. Minervini, L. Franceschi, "Implicit MLE: Backpropagating
    Through Discrete Exponential Family Distributions", NeurIPS 2021.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import IMLE
    >>> from skdfl.optimizers import KSubset
    >>> layer = IMLE(KSubset(k=2), noise=None, lambd=1.0)
    >>> theta_hat = torch.tensor([[3.0, 2.0, 1.0]], requires_grad=True)
    >>> z = layer(theta_hat)
    >>> z
    tensor([[1., 1., 0.]], grad_fn=<_ImleSolveBackward>)
    >>> (z * torch.tensor([[0.0, 5.0, -5.0]])).sum().backward()  # want item 2, not 1
    >>> theta_hat.grad
    tensor([[ 0.,  1., -1.]])
    """

    #: The method name in error messages.
    _method = "imle"

    def __init__(self, optimizer, lambd=10.0, noise="sog", tau=1.0, n_samples=1, k=None,
                 generator=None):
        super().__init__()
        self.optimizer = check_perturbable(optimizer, self._method)
        self.lambd = check_scalar(lambd, "lambd", low=0.0, low_inclusive=False)
        self.noise = noise if noise is None else check_option(noise, "noise", NOISES[:2])
        self.tau = check_scalar(tau, "tau", low=0.0, low_inclusive=False)
        self.n_samples = check_scalar(n_samples, "n_samples", kind=numbers.Integral, low=1)
        self.k = check_scalar(k, "k", low=0.0, low_inclusive=False, allow_none=True)
        self.generator = generator

    def _solution_size(self, theta_hat, solver, params):
        if self.k is not None:
            return self.k
        with torch.no_grad():
            # Rows with NaN or inf (a diverging model) come out NaN: they do not count.
            x = solve_finite(solver, theta_hat.detach(), **params)
            finite = x.isfinite().all(-1)
            nonzeros = x.ne(0)[finite].sum() / finite.sum().clamp_min(1)
        return max(float(nonzeros), 1.0)

    def forward(self, theta_hat, **params):
        theta_hat, solver, params, restore = check_layer_inputs(self.optimizer, theta_hat,
                                                                params)
        return restore(self.decide_batch(theta_hat, solver, **params))

    def decide_batch(self, theta_hat, solver, **params):
        """Mean perturbed decisions of a checked 2-D batch (``solver``: the bound optimizer)."""
        noise = self._draw_noise(theta_hat, solver, params)
        return _ImleSolve.apply(theta_hat, solver, self.lambd, noise, params)

    def _draw_noise(self, theta_hat, solver, params):
        """The perturbations of a batch, shape (n_samples, *theta_hat.shape)."""
        k = self._solution_size(theta_hat, solver, params) if self.noise == "sog" else 1.0
        return draw_noise(self.noise, (self.n_samples, *theta_hat.shape), scale=self.tau,
                          k=k, generator=self.generator, device=theta_hat.device,
                          dtype=theta_hat.dtype)


class ImleRegret(DecisionRegret):
    """Regret of the I-MLE decisions: the loss of ``method="imle"``.

    With the regret as downstream loss, ``dL/dz`` is the true parameter
    vector (the paper's section 4, Fact 2).

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    **layer_params
        Passed to :class:`IMLE`.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import ImleRegret
    >>> from skdfl.optimizers import KSubset
    >>> loss = ImleRegret(KSubset(k=1), noise=None)
    >>> float(loss(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]])))
    1.0
    """

    method_name = "imle"
    needs_linear = True

    def __init__(self, optimizer, **layer_params):
        super().__init__(optimizer, IMLE(optimizer, **layer_params))
