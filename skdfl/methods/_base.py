"""What every training method shares: the loss signature, capability and input checks."""

import torch
from torch import nn

from .._tensor import as_batch, converted
from .._validation import finite_sum
from ..optimizers import Optimizer


def check_optimizer(optimizer):
    """Raise ``TypeError`` unless ``optimizer`` is an skdfl :class:`Optimizer`."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an skdfl Optimizer; got "
                        f"{type(optimizer).__name__}.")
    return optimizer


def check_perturbable(optimizer, method, keeps_sign=False):
    """Raise unless a perturbation method can train through ``optimizer``.

    It must be an skdfl :class:`Optimizer` (``TypeError``), linear, and solve
    exactly at parameters of either sign (``ValueError``): the perturbation
    methods solve at ``2 theta_hat - theta``, ``theta_hat + lambd * dL/dx``
    or ``theta_hat + noise``, which can be negative wherever the costs are
    not, and on a graph with a cycle a negative cost has no shortest path.
    A method whose perturbations keep every parameter's sign
    (``keeps_sign``: multiplicative noise) needs only linearity; it then
    checks the signs of the predictions (:func:`check_signs`).
    """
    if not check_optimizer(optimizer).is_linear:
        raise ValueError(
            f"method {method!r} needs a linear optimizer (objective theta @ x); "
            f"{type(optimizer).__name__} is not linear. Use method='relaxation' or "
            "'two-stage'.")
    if not (optimizer.any_sign or keeps_sign):
        raise ValueError(
            f"method {method!r} solves at shifted or noisy parameters, which can be "
            f"negative, and the optimizer {type(optimizer).__name__} solves exactly only "
            "non-negative ones (a graph with a cycle). Use method='relaxation' or "
            "'two-stage', or a graph without cycles.")
    return optimizer


def check_signs(solver, theta_hat, method):
    """Refuse negative predictions where ``solver`` solves only non-negative parameters.

    For the methods whose perturbations keep each parameter's sign: on a
    graph with a cycle they train as long as the predictions are
    non-negative. (NaN passes, to propagate.)
    """
    if not solver.any_sign and bool((theta_hat < 0).any()):
        raise ValueError(
            f"method {method!r} got negative predictions, and {type(solver).__name__} solves "
            "exactly only non-negative parameters here (a graph with a cycle). Keep the "
            "predictions positive, e.g. with out_activation='softplus'.")


def check_predictions(optimizer, theta_hat, name="theta_hat"):
    """Validate a model's predictions for a layer or a loss.

    ``theta_hat`` must be a tensor (gradients flow back to it) of one
    instance (1-D) or one instance per row (2-D) with ``optimizer.n_params``
    columns; integer and boolean tensors become float64. NaN and inf pass:
    layers and losses propagate them (see :func:`solve_finite`), so that a
    diverging model gives a non-finite loss rather than a finite one.

    Returns
    -------
    theta_hat : Tensor of shape (n_instances, n_params)
    solver : Optimizer
        ``optimizer`` bound to the width of ``theta_hat``.
    restore : callable
        Maps a result with one row per instance back to ``theta_hat``'s
        dimensionality.
    """
    if not isinstance(theta_hat, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (gradients flow back to it); got "
                        f"{type(theta_hat).__name__}.")
    batch, restore = as_batch(theta_hat, name, width=optimizer.n_params, finite=False)
    return batch, optimizer.with_n_params(batch.shape[1], name=name), restore


def check_layer_inputs(optimizer, theta_hat, params):
    """``check_predictions`` for a solver layer, with its per-instance parameters checked."""
    theta_hat, solver, restore = check_predictions(optimizer, theta_hat)
    return theta_hat, solver, solver.check_params(params, theta_hat.shape[0],
                                                  theta_hat.device), restore


def solve_finite(solver, theta, **params):
    """``solver._solve(theta, **params)`` with NaN rows where ``theta`` has a NaN or inf.

    A non-finite parameter vector has no decision; its row is solved at zero
    and then marked NaN, so that it propagates instead of becoming a finite
    decision (on an accelerator without synchronizing with it). ``params`` are checked
    per-instance tensors, one row per row of ``theta``.
    """
    if theta.device.type == "cpu" and finite_sum(theta):
        # On the host the test is free to read, for a third of the masks' cost.
        return solver._solve(theta, **params)
    ok = torch.isfinite(theta).all(-1, keepdim=True)
    x = solver._solve(torch.where(ok, theta, 0.0), **params)
    return torch.where(ok, x, float("nan"))


class _ClosedForm(torch.autograd.Function):
    """Per-row loss values whose gradient with respect to ``theta_hat`` is given.

    Losses whose gradient is known in closed form (the pool losses, the
    negative identity's regret) compute values and gradients together under
    ``no_grad``: recording each small step and running its backward cost
    more than the whole batch's solve.
    """

    @staticmethod
    def forward(ctx, theta_hat, values, grad):
        ctx.save_for_backward(grad)
        return values

    @staticmethod
    def backward(ctx, grad_values):
        grad, = ctx.saved_tensors
        return grad_values.unsqueeze(-1) * grad, None, None


def with_gradient(theta_hat, values, grad):
    """``values`` (B,), differentiable in ``theta_hat`` (B, n) with gradient rows ``grad``."""
    return _ClosedForm.apply(theta_hat, converted(values.detach(), theta_hat.dtype),
                             converted(grad.detach(), theta_hat.dtype))


class DecisionLoss(nn.Module):
    """A training loss that compares predicted parameters with the truth.

    ``forward(theta_hat, theta, x_true, **params)`` returns the mean loss over
    the batch. ``x_true`` holds the optimal decisions under the true
    ``theta``; estimators compute them once before training, and the layers
    solve for them when they are not given. ``params`` are the batch's
    per-instance problem data (the optimizer's ``instance_params``, such as a
    capacity per row), carried into every solve.

    ``theta_hat`` is a tensor of shape (n_instances, n_params) (or one
    instance, 1-D); ``theta`` and ``x_true`` have the same number of rows.
    Wrong kinds or shapes, an empty batch and a non-finite ``theta`` or
    ``x_true`` raise an error that names the argument; a non-finite
    ``theta_hat`` (a diverging model) gives a non-finite loss.

    Subclasses define :meth:`instance_losses`, the loss of each instance of
    a checked batch (the built-in losses do), or only :meth:`batch_loss`, the
    mean over the batch; ``forward`` checks its inputs and calls
    :meth:`batch_loss`. Estimators check their data once in ``fit`` and call
    :meth:`batch_loss` on every batch, or :meth:`weighted_loss` when ``fit``
    has a ``sample_weight`` (which needs :meth:`instance_losses`). A user's
    own loss subclasses this class, sets ``method_name`` and implements
    either; an instance of it is accepted as the estimators' ``method``.
    Setting ``needs_parameters = False`` declares that the loss reads only
    the true decisions ``x_true`` (``theta`` is then None), so that it can
    train from observed decisions (the estimators' ``targets="decisions"``).
    """

    #: Whether the method needs ``optimizer.is_linear`` (and ``any_sign``: it perturbs).
    needs_linear = False
    #: Whether its perturbations keep every parameter's sign (then ``any_sign`` is not needed).
    keeps_sign = False
    #: Whether the loss uses the true optimal decisions ``x_true``.
    needs_decisions = True
    #: Whether the loss reads the true parameters ``theta`` (False: only ``x_true``).
    needs_parameters = True
    #: The name of the predictions in error messages.
    prediction_name = "theta_hat"

    def __init__(self, optimizer):
        super().__init__()
        if self.needs_linear:
            check_perturbable(optimizer, self.method_name, keeps_sign=self.keeps_sign)
        self.optimizer = check_optimizer(optimizer)

    method_name = None

    def forward(self, theta_hat, theta, x_true=None, **params):
        theta_hat, theta, x_true, solver = self.check_inputs(theta_hat, theta, x_true,
                                                             self.prediction_name)
        params = solver.check_params(params, theta.shape[0], theta_hat.device)
        if self.needs_decisions:
            x_true = self.true_decisions(theta, x_true, solver, **params)
        return self.batch_loss(theta_hat, theta, x_true, solver, **params)

    def batch_loss(self, theta_hat, theta, x_true, solver, **params):
        """Mean loss over a checked batch: the mean of :meth:`instance_losses`.

        Parameters
        ----------
        theta_hat, theta : Tensor of shape (n_instances, n_params)
        x_true : Tensor of shape (n_instances, n_vars)
            Optimal decisions under ``theta`` (None when the loss does not
            use them).
        solver : Optimizer
            ``optimizer`` bound to the width of ``theta_hat``.
        **params : Tensor
            The batch's checked per-instance parameters (one row per
            instance), to pass to every solve.

        Returns
        -------
        loss : Tensor of shape ()
        """
        return self.instance_losses(theta_hat, theta, x_true, solver, **params).mean()

    def instance_losses(self, theta_hat, theta, x_true, solver, **params):
        """The loss of each instance of a checked batch (arguments as :meth:`batch_loss`).

        Returns
        -------
        losses : Tensor of shape (n_instances,)
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement instance_losses (one loss per instance) "
            "or batch_loss (their mean).")

    def weighted_loss(self, weight, theta_hat, theta, x_true, solver, **params):
        """``sum_i w_i l_i / sum_i w_i`` over a checked batch (0 when every weight is 0).

        Parameters
        ----------
        weight : Tensor of shape (n_instances,)
            Non-negative weight of each instance (an estimator's
            ``sample_weight``).
        theta_hat, theta, x_true, solver, **params
            As in :meth:`batch_loss`.

        Returns
        -------
        loss : Tensor of shape ()
        """
        if type(self).instance_losses is DecisionLoss.instance_losses:
            raise ValueError(
                f"sample_weight weighs each instance's loss, and {type(self).__name__} "
                "defines only batch_loss (the mean over a batch); implement "
                "instance_losses(theta_hat, theta, x_true, solver, **params), one loss per "
                "instance, to train it with sample_weight.")
        losses = self.instance_losses(theta_hat, theta, x_true, solver, **params)
        weight = weight.to(losses)
        return (weight * losses).sum() / weight.sum().clamp_min(torch.finfo(losses.dtype).tiny)

    def check_inputs(self, theta_hat, theta, x_true=None, name="theta_hat"):
        """Validated 2-D ``theta_hat``, ``theta``, ``x_true`` and the bound optimizer."""
        theta_hat, solver, _ = check_predictions(self.optimizer, theta_hat, name)
        if theta_hat.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one instance (row) to average "
                             f"the loss over; got shape {tuple(theta_hat.shape)}.")
        theta, _ = as_batch(theta, "theta", width=theta_hat.shape[1], device=theta_hat.device)
        if theta.shape != theta_hat.shape:
            raise ValueError(f"{name} and theta must have the same shape; got "
                             f"{tuple(theta_hat.shape)} and {tuple(theta.shape)}.")
        solver.check_theta(theta, "theta")
        if x_true is not None:
            x_true, _ = as_batch(x_true, "x_true", width=solver.n_vars,
                                 device=theta_hat.device)
            if x_true.shape[0] != theta.shape[0]:
                raise ValueError(f"x_true and theta must have the same number of instances "
                                 f"(rows); got {x_true.shape[0]} and {theta.shape[0]}.")
        return theta_hat, theta, x_true, solver

    def true_decisions(self, theta, x_true, solver=None, **params):
        """``x_true`` when given, else the exact decisions under ``theta``."""
        if x_true is not None:
            return x_true
        return (solver or self.optimizer)._solve(theta.detach(), **params)


class DecisionRegret(DecisionLoss):
    """Mean regret of the decisions a differentiable solver layer returns.

    ``forward(theta_hat, theta, x_true)`` is the mean over the batch of
    ``f(layer(theta_hat), theta) - f(x*, theta)`` (mirrored for a
    maximization); its gradient reaches ``theta_hat`` through the layer's
    backward pass.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    layer : torch.nn.Module
        Maps ``theta_hat`` to (relaxed or expected) decisions; its
        ``decide_batch(theta_hat, solver, **params)`` does so for a checked
        batch.
    """

    needs_linear = True

    def __init__(self, optimizer, layer):
        super().__init__(optimizer)
        self.layer = layer

    def instance_losses(self, theta_hat, theta, x_true, solver, **params):
        x_hat = self.layer.decide_batch(theta_hat, solver, **params)
        return self.optimizer.sign * (theta * (x_hat - x_true)).sum(-1)
