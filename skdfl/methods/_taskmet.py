"""TaskMet: task-driven metric learning (Bansal, Chen, Mukadam, Amos, NeurIPS 2023).

The model is trained by a metric-weighted prediction loss
``||f_theta(x) - y||^2_{Lambda_phi(x)}``; the metric ``phi`` is trained so that
the model minimizing that loss decides well. The task gradient reaches
``phi`` through the inner argmin by the implicit function theorem:
``d L_task / d phi = -g^T H^-1 d^2 L_pred / (d theta d phi)`` with
``g = d L_task / d theta`` and ``H = d^2 L_pred / d theta^2``, where the
inverse-Hessian product is solved by conjugate gradient on Hessian-vector
products (torch autograd, no explicit Hessian).
"""

import torch
from torch import nn
from torch.nn import functional as F

METRICS = ("diagonal", "conditional")


class DiagonalMetric(nn.Module):
    """A positive diagonal metric shared by all instances: ``softplus(phi)``.

    Parameters
    ----------
    n_params : int
        Width of ``theta``.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import DiagonalMetric
    >>> DiagonalMetric(3)(torch.zeros(2, 5))          # starts at the identity
    tensor([[1., 1., 1.],
            [1., 1., 1.]], grad_fn=<DivBackward0>)
    """

    def __init__(self, n_params):
        super().__init__()
        self.raw = nn.Parameter(torch.zeros(n_params))

    def forward(self, X):
        weights = F.softplus(self.raw).expand(len(X), -1)
        return weights / F.softplus(torch.zeros(())).to(weights)


class ConditionalMetric(nn.Module):
    """A positive diagonal metric that depends on the features: a small network.

    The output is ``softplus`` of a one-hidden-layer network, normalized to
    mean 1 over the batch (a global scale of the metric changes no
    minimizer, so it is fixed).

    Parameters
    ----------
    n_features : int
        Width of ``X``.
    n_params : int
        Width of ``theta``.
    hidden : int, default=16
        Hidden units.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import ConditionalMetric
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> metric = ConditionalMetric(4, 3)
    >>> weights = metric(torch.randn(10, 4))
    >>> weights = weights.detach()
    >>> weights.shape, bool((weights > 0).all()), round(float(weights.mean()), 4)
    (torch.Size([10, 3]), True, 1.0)
    """

    def __init__(self, n_features, n_params, hidden=16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.Tanh(),
                                 nn.Linear(hidden, n_params))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, X):
        weights = F.softplus(self.net(X)) + 1e-3
        return weights / weights.mean()


def metric_weighted_mse(theta_hat, theta, weights):
    """``mean_i sum_k weights_ik (theta_hat_ik - theta_ik)^2 / n_params``."""
    return (weights * (theta_hat - theta) ** 2).mean()


def conjugate_gradient(matvec, b, n_iter, damping):
    """Solve ``(A + damping I) v = b`` for a symmetric positive ``A`` given ``matvec``.

    Parameters
    ----------
    matvec : callable
        ``v -> A v`` on flat tensors.
    b : Tensor
        Right-hand side (flat).
    n_iter : int
        Iterations (the solve is approximate by design).
    damping : float
        Tikhonov damping added to ``A``.

    Returns
    -------
    v : Tensor

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import conjugate_gradient
    >>> A = torch.tensor([[4.0, 1.0], [1.0, 3.0]])
    >>> conjugate_gradient(lambda v: A @ v, torch.tensor([1.0, 2.0]), 2, 0.0)
    tensor([0.0909, 0.6364])
    """
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rs = r @ r
    for _ in range(n_iter):
        if float(rs) <= 1e-30:
            break
        Ap = matvec(p) + damping * p
        alpha = rs / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rs_new = r @ r
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x


def _flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def implicit_metric_gradient(model_params, metric_params, pred_loss, task_loss, *, cg_iter=10,
                             cg_damping=1e-3):
    """Gradient of the task loss with respect to the metric through the inner argmin.

    Parameters
    ----------
    model_params : list of Tensor
        The model parameters ``theta`` (at, or near, the inner minimizer).
    metric_params : list of Tensor
        The metric parameters ``phi``.
    pred_loss : callable
        ``() -> L_pred(theta, phi)``, differentiable in both.
    task_loss : callable
        ``() -> L_task(theta)``.
    cg_iter : int, default=10
        Conjugate-gradient iterations for ``H^-1 g``.
    cg_damping : float, default=1e-3
        Damping added to the Hessian.

    Returns
    -------
    grads : list of Tensor
        ``d L_task / d phi`` for each metric parameter.
    task_value : Tensor
        The task loss (detached).
    """
    task = task_loss()
    g = _flat(torch.autograd.grad(task, model_params, allow_unused=True,
                                  materialize_grads=True))
    inner = pred_loss()
    grad_theta = torch.autograd.grad(inner, model_params, create_graph=True)
    flat_grad = _flat(grad_theta)

    def hessian_vector(v):
        return _flat(torch.autograd.grad(flat_grad, model_params, v, retain_graph=True))

    v = conjugate_gradient(hessian_vector, g.detach(), cg_iter, cg_damping)
    mixed = torch.autograd.grad(flat_grad, metric_params, v, allow_unused=True,
                                materialize_grads=True)
    return [-m for m in mixed], task.detach()
