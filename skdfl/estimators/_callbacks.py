"""skorch callbacks of the estimators: validation regret and divergence checks."""

import math

import torch
from skorch.callbacks import Callback

from ..metrics._regret import decision_regret
from ._sparse import dense_tensor


class ValidationRegret(Callback):
    """Record the normalized regret on the validation split after each epoch.

    Parameters
    ----------
    optimizer : Optimizer
        The decision problem.
    X, theta, x_true : Tensor
        Validation features, true parameters and their optimal decisions.
    link : callable
        Maps the network's output to predicted parameters.
    params : dict of Tensor, optional
        Per-instance parameters of the validation rows.
    weights : Tensor of shape (n_valid,), optional
        Weights of the validation rows (``sample_weight``): the regret is
        ``sum_i w_i regret_i / sum_i w_i |f(x*_i, theta_i)|``.
    """

    def __init__(self, optimizer, X, theta, x_true, link, params=None, weights=None):
        self.optimizer = optimizer
        self.X, self.theta, self.x_true = X, theta, x_true
        self.link = link
        self.params = params or {}
        self.weights = weights

    def on_epoch_end(self, net, **kwargs):
        with torch.no_grad():
            theta_hat = self.link(forward_in_chunks(net, self.X))
            theta = self.theta.to(theta_hat.device)
            x_hat = self.optimizer._solve(theta_hat.to(theta.dtype), **self.params)
            per_instance, optimum = decision_regret(
                self.optimizer, theta, x_hat, self.x_true.to(theta_hat.device), **self.params)
            if self.weights is not None:
                weights = self.weights.to(per_instance)
                per_instance, optimum = weights * per_instance, weights * optimum
            scale = float(optimum.abs().sum())
            total = float(per_instance.sum())
        net.history.record("valid_regret", total / scale if scale > 0 else total)


def forward_in_chunks(net, X, chunk_size=65536):
    """Evaluate the trained module on ``X`` in eval mode, a chunk at a time.

    The module is called directly rather than through a DataLoader, whose
    iterator draws a seed from torch's global generator: prediction must not
    change the caller's random state.
    """
    module = net.module_
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            parts = [module(dense_tensor(X[i:i + chunk_size], net.device))
                     for i in range(0, max(len(X), 1), chunk_size)]
    finally:
        module.train(was_training)
    return torch.cat(parts) if len(parts) > 1 else parts[0]


class DivergenceCheck(Callback):
    """Raise as soon as a training batch gives a non-finite loss.

    A diverging run never returns garbage silently: the error names the
    epoch and the batch, and the estimator can simply be fit again.
    """

    def __init__(self, method):
        self.method = method

    def on_epoch_begin(self, net, **kwargs):
        self.batch_ = 0

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if not training:
            return
        self.batch_ += 1
        value = float(loss.detach())
        if not math.isfinite(value):
            raise ValueError(
                f"training diverged: the {self.method!r} loss is {value} at epoch "
                f"{len(net.history)}, batch {self.batch_}. Lower learning_rate_init, scale "
                f"the features, or check X and y.")
