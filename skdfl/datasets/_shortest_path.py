"""Synthetic shortest-path data (Elmachtoub & Grigas; PyEPO's recipe)."""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from .._validation import check_scalar
from ..optimizers import ShortestPath


def make_shortest_path(n_samples, n_features=5, grid=(5, 5), degree=1, noise_width=0.0,
                       random_state=None):
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

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    C : ndarray of shape (n_samples, n_arcs)
        Edge costs, in the arc order of ``ShortestPath(grid=grid)``.

    Examples
    --------
    >>> from skdfl.datasets import make_shortest_path
    >>> X, C = make_shortest_path(100, degree=2, noise_width=0.5, random_state=0)
    >>> X.shape, C.shape
    ((100, 5), (100, 40))
    >>> bool((C > 0).all())
    True
    """
    check_scalar(n_samples, "n_samples", kind=numbers.Integral, low=1)
    check_scalar(n_features, "n_features", kind=numbers.Integral, low=1)
    check_scalar(degree, "degree", kind=numbers.Integral, low=1)
    check_scalar(noise_width, "noise_width", low=0.0, high=1.0)
    n_arcs = ShortestPath(grid=tuple(grid) if isinstance(grid, list) else grid).n_params
    rng = check_random_state(random_state)
    B = rng.binomial(1, 0.5, (n_arcs, n_features))
    X = rng.normal(0.0, 1.0, (n_samples, n_features))
    C = ((X @ B.T / np.sqrt(n_features) + 3.0) ** degree + 1.0) / 3.5 ** degree
    C *= rng.uniform(1.0 - noise_width, 1.0 + noise_width, (n_samples, n_arcs))
    return X, C
