"""Synthetic shortest-path data (Elmachtoub & Grigas; PyEPO's recipe)."""

import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state

from .._validation import check_scalar
from ..optimizers import ShortestPath


# Draws of a row's closed arcs before its path is repaired instead.
_MAX_REDRAWS = 100


def make_shortest_path(n_samples, n_features=5, grid=(5, 5), degree=1, noise_width=0.0,
                       random_state=None, closed_arc_fraction=0.0):
    """Features and grid edge costs related by a polynomial of given degree.

    The recipe of Elmachtoub & Grigas as PyEPO generates it: with a fixed
    random ``B ~ Bernoulli(0.5)`` of shape ``(n_arcs, n_features)``, features
    ``x ~ N(0, I)`` and multiplicative noise ``eps ~ U[1 - noise_width,
    1 + noise_width]``, each cost is
    ``c_j = [((B x)_j / sqrt(p) + 3)^degree + 1] / 3.5^degree * eps_j``.
    A higher ``degree`` makes the costs more non-linear in the features, so a
    linear model is more misspecified.

    Parameters
    ----------
    n_samples : int
        Number of instances (rows).
    n_features : int, default=5
        Number of features ``p``.
    grid : tuple of (int, int), default=(5, 5)
        Size of the grid; the arcs follow :class:`~skdfl.optimizers.ShortestPath`.
    degree : int, default=1
        Degree of the polynomial.
    noise_width : float, default=0.0
        Half-width of the multiplicative noise, in ``[0, 1]``.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.
    closed_arc_fraction : float, default=0.0
        Probability, in ``[0, 1)``, that an arc is closed in an instance (a
        road closed on that day), independently of the others. When positive,
        ``arc_mask`` is returned too, drawn after ``X`` and ``C`` (which stay
        the draws without it). A row whose closures cut every path from the
        top-left to the bottom-right node is drawn again; after 100 draws
        (likely only above about 0.5), the arcs of a random path through the
        grid are reopened instead, so every row keeps a path.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    C : ndarray of shape (n_samples, n_arcs)
        Edge costs, in the arc order of ``ShortestPath(grid=grid)``.
    arc_mask : ndarray of shape (n_samples, n_arcs), dtype bool
        Only when ``closed_arc_fraction > 0``: False where the arc is closed,
        the per-instance ``arc_mask`` of ``ShortestPath.solve``.

    Examples
    --------
    >>> from skdfl.datasets import make_shortest_path
    >>> X, C = make_shortest_path(100, degree=2, noise_width=0.5, random_state=0)
    >>> X.shape, C.shape
    ((100, 5), (100, 40))
    >>> bool((C > 0).all())
    True
    >>> X, C, arc_mask = make_shortest_path(100, closed_arc_fraction=0.2, random_state=0)
    >>> arc_mask.shape, arc_mask.dtype
    ((100, 40), dtype('bool'))
    >>> from skdfl.optimizers import ShortestPath
    >>> bool(ShortestPath(grid=(5, 5)).solve(C, arc_mask=arc_mask)[~arc_mask].any())
    False
    """
    check_scalar(n_samples, "n_samples", kind=numbers.Integral, low=1)
    check_scalar(n_features, "n_features", kind=numbers.Integral, low=1)
    check_scalar(degree, "degree", kind=numbers.Integral, low=1)
    check_scalar(noise_width, "noise_width", low=0.0, high=1.0)
    check_scalar(closed_arc_fraction, "closed_arc_fraction", low=0.0, high=1.0)
    if closed_arc_fraction == 1.0:
        raise ValueError("closed_arc_fraction must be < 1 (every instance needs an open "
                         "path); got 1.0.")
    optimizer = ShortestPath(grid=tuple(grid) if isinstance(grid, list) else grid)
    n_arcs = optimizer.n_params
    rng = check_random_state(random_state)
    B = rng.binomial(1, 0.5, (n_arcs, n_features))
    X = rng.normal(0.0, 1.0, (n_samples, n_features))
    C = ((X @ B.T / np.sqrt(n_features) + 3.0) ** degree + 1.0) / 3.5 ** degree
    C *= rng.uniform(1.0 - noise_width, 1.0 + noise_width, (n_samples, n_arcs))
    if closed_arc_fraction == 0:
        return X, C
    return X, C, _draw_arc_mask(optimizer, n_samples, closed_arc_fraction, rng)


def _draw_arc_mask(optimizer, n_samples, fraction, rng):
    """Open arcs (True) per row, each closed with probability ``fraction``, keeping a path."""
    n_arcs = optimizer.n_params
    mask = rng.uniform(size=(n_samples, n_arcs)) >= fraction
    blocked = _without_path(optimizer, mask)
    for _ in range(_MAX_REDRAWS):
        if not blocked.any():
            return mask
        mask[blocked] = rng.uniform(size=(int(blocked.sum()), n_arcs)) >= fraction
        blocked[blocked] = _without_path(optimizer, mask[blocked])
    height, width = optimizer.grid
    rows = np.flatnonzero(blocked)
    # A random monotone path: the h - 1 moves south placed at random among all moves.
    moves = rng.uniform(size=(len(rows), height + width - 2)).argsort(1) < height - 1
    i = np.zeros(len(rows), dtype=np.int64)
    j = np.zeros(len(rows), dtype=np.int64)
    for south in moves.T:
        # Row i of the grid holds its width - 1 east arcs, then its width south arcs.
        mask[rows, i * (2 * width - 1) + np.where(south, width - 1 + j, j)] = True
        i, j = i + south, j + ~south
    return mask


def _without_path(optimizer, mask):
    """Rows of ``mask`` that leave no open path between the grid's corners."""
    costs = torch.zeros(mask.shape, dtype=torch.float64)
    cost = optimizer._cheapest_paths(costs, arc_mask=torch.as_tensor(mask))[1]
    return ~torch.isfinite(cost).numpy()
