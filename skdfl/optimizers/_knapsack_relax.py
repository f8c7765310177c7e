"""The quadratic relaxation of the one-dimensional knapsack, batched, with weights per row.

``max theta @ x - gamma ||x||^2`` over ``{0 <= x <= 1, w @ x <= c}`` is the
Euclidean projection of ``z = theta / (2 gamma)`` onto that set. Its KKT
conditions give ``x(lam) = clip(z - lam w, 0, 1)`` with one multiplier
``lam >= 0`` per row: zero when the box projection fits (``w @ clip(z, 0, 1)
<= c``), else the root of the non-increasing, piecewise-linear load
``g(lam) = w @ x(lam) = c``. The load bends where an item leaves 1
(``lam = (z_j - 1) / w_j``) or reaches 0 (``lam = z_j / w_j``): a bisection
over these sorted breakpoints finds the linear piece that holds the root,
and the root follows from that piece's sets in closed form, exact up to
rounding. No iteration is unrolled: the backward pass differentiates the
KKT conditions.
"""

import math

import torch


def relax_knapsack(theta, gamma, weights, capacity):
    """``argmax theta @ x - gamma ||x||^2`` over ``{0 <= x <= 1, w @ x <= c}``, per row.

    Parameters
    ----------
    theta : Tensor of shape (B, n)
    gamma : float
        Weight of the quadratic term, positive.
    weights : Tensor of shape (B, n) or (1, n), float64
        Non-negative weights, per row or shared.
    capacity : Tensor of shape (B,) or (1,), float64
        Non-negative capacities, per row or shared.

    Returns
    -------
    x : Tensor of shape (B, n), of ``theta``'s dtype, differentiable in ``theta``
    """
    z = theta.to(torch.float64) / (2.0 * gamma)
    weights = weights.to(z.device).expand_as(z)
    capacity = capacity.to(z.device).expand(len(z))
    return _KnapsackProjection.apply(z, weights, capacity).to(theta.dtype)


def project_knapsack(z, weights, capacity):
    """Projection of each row of ``z`` onto ``{0 <= x <= 1, w @ x <= c}``.

    Parameters
    ----------
    z : Tensor of shape (B, n), float64
    weights : Tensor of shape (B, n), float64, non-negative
    capacity : Tensor of shape (B,), float64, non-negative

    Returns
    -------
    x : Tensor of shape (B, n)
    lam : Tensor of shape (B,)
        The multiplier of the capacity row (zero where it is slack).
    """
    over = _load(z, weights, torch.zeros_like(capacity)) > capacity
    lam = torch.where(over, _root(z, weights, capacity), 0.0)
    return _clip(z, weights, lam), lam


def _clip(z, weights, lam):
    return (z - lam.unsqueeze(1) * weights).clamp(0.0, 1.0)


def _load(z, weights, lam):
    """``g(lam) = w @ clip(z - lam w, 0, 1)`` for one ``lam`` per row."""
    return (weights * _clip(z, weights, lam)).sum(1)


def _root(z, weights, capacity):
    """The ``lam`` with ``g(lam) = c`` of rows whose box projection overloads them."""
    heavy = weights > 0
    safe = torch.where(heavy, weights, 1.0)
    # Breakpoints of the weighted items; weightless items never bend g.
    points = torch.cat([torch.where(heavy, (z - 1.0) / safe, torch.inf),
                        torch.where(heavy, z / safe, torch.inf)], dim=1).sort(1).values
    last = 2 * heavy.sum(1) - 1                     # the last finite breakpoint: g = 0 there
    # Bisection for the first breakpoint k with g(points[k]) <= c (g does not increase).
    low = torch.zeros_like(last)                    # g(points[low - 1]) > c, or low = 0
    high = last.clamp_min(0)                        # g(points[high]) <= c
    for _ in range(max(1, math.ceil(math.log2(points.shape[1] + 1)))):
        middle = (low + high) // 2
        point = points.gather(1, middle.unsqueeze(1))[:, 0]
        below = _load(z, weights, torch.where(torch.isfinite(point), point, 0.0)) <= capacity
        high = torch.where(below, middle, high)
        low = torch.where(below, low, middle + 1)
    right = points.gather(1, high.unsqueeze(1))[:, 0]
    left = points.gather(1, (high - 1).clamp_min(0).unsqueeze(1))[:, 0]
    left = torch.where(high > 0, left, torch.minimum(right, torch.zeros_like(right)))
    # On (left, right) the items at 1 and the free ones are fixed, and
    # g(lam) = sum_ones w + sum_free w z - lam sum_free w^2.
    inside = (0.5 * (left + right)).unsqueeze(1)
    pre = z - inside * weights
    free = heavy & (pre > 0.0) & (pre < 1.0)
    ones = heavy & (pre >= 1.0)
    slope = torch.where(free, weights * weights, 0.0).sum(1)
    level = torch.where(ones, weights, 0.0).sum(1) + torch.where(free, weights * z, 0.0).sum(1)
    lam = (level - capacity) / torch.where(slope > 0, slope, 1.0)
    return torch.where(slope > 0, lam.clamp(left, right), right).clamp_min(0.0)


class _KnapsackProjection(torch.autograd.Function):
    """The projection, with the KKT derivative in ``z`` (weights and capacity are data).

    With ``F`` the free items (``0 < x < 1``) and ``D_F`` its diagonal 0/1
    mask: if the capacity binds (``lam > 0``) and ``w_F != 0``,
    ``dx/dz = D_F - (D_F w)(D_F w)' / (w' D_F w)``, else ``dx/dz = D_F``.
    """

    @staticmethod
    def forward(ctx, z, weights, capacity):
        x, lam = project_knapsack(z, weights, capacity)
        pre = z - lam.unsqueeze(1) * weights
        ctx.save_for_backward(weights, ((pre > 0) & (pre < 1)).to(z.dtype), lam > 0)
        return x

    @staticmethod
    def backward(ctx, grad):
        weights, free, binds = ctx.saved_tensors
        grad_free = free * grad
        free_weights = free * weights
        norm = (free_weights * weights).sum(1)
        use = binds & (norm > 0)
        coef = (free_weights * grad).sum(1) / torch.where(use, norm, 1.0)
        grad_z = grad_free - torch.where(use, coef, 0.0).unsqueeze(1) * free_weights
        return grad_z, None, None
