"""Synthetic knapsack data (PyEPO's recipe, with integer weights)."""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from .._validation import check_scalar


def make_knapsack(n_samples, n_items=32, n_features=5, degree=1, noise_width=0.0,
                  random_state=None, *, n_dims=1, capacity=None):
    """Features and integer item values related by a polynomial; fixed item weights.

    PyEPO's recipe for the knapsack: weights drawn uniformly from
    ``{300, ..., 799}`` (PyEPO divides them by 100; here they stay integers in
    hundredths so that :class:`~skdfl.optimizers.Knapsack` solves exactly -
    give the capacity in the same units), a fixed random
    ``B ~ Bernoulli(0.5)`` of shape ``(n_items, n_features)``, features
    ``x ~ N(0, I)``, and values
    ``c_j = ceil(5 [((B x)_j / sqrt(p) + 3)^degree + 1] / 3.5^degree * eps_j)``
    with ``eps ~ U[1 - noise_width, 1 + noise_width]``. With the same integer
    seed the draws equal PyEPO's ``genData`` (with ``dim=n_dims``).

    With ``capacity=(low, high)`` each instance also gets its own integer
    capacity, drawn uniformly from ``low..high`` after all the other draws
    (so these stay PyEPO's), for ``Knapsack.solve(C, capacity=capacity)``.

    Parameters
    ----------
    n_samples : int
        Number of instances.
    n_items : int, default=32
        Number of items.
    n_features : int, default=5
        Number of features ``p``.
    degree : int, default=1
        Degree of the polynomial.
    noise_width : float, default=0.0
        Half-width of the multiplicative noise, in ``[0, 1]``.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.
    n_dims : int, default=1
        Number of capacity dimensions: above 1 the weights have shape
        ``(n_dims, n_items)`` (a multi-dimensional knapsack).
    capacity : pair of int, optional
        ``(low, high)``, inclusive bounds of a per-instance capacity (in the
        weights' units, hundredths), returned as a fourth output.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    C : ndarray of shape (n_samples, n_items)
        Item values (positive integers, as floats).
    weights : ndarray of shape (n_items,) or (n_dims, n_items)
        Integer item weights, in hundredths (2-D when ``n_dims > 1``).
    capacity : ndarray of shape (n_samples,)
        Integer capacity of each instance; returned only when ``capacity``
        is given.

    Examples
    --------
    >>> from skdfl.datasets import make_knapsack
    >>> from skdfl.optimizers import Knapsack
    >>> X, C, weights = make_knapsack(100, n_items=10, degree=2, random_state=0)
    >>> X.shape, C.shape, weights.shape
    ((100, 5), (100, 10), (10,))
    >>> Knapsack(weights, capacity=2000).solve(C).shape
    (100, 10)
    >>> X, C, weights, capacity = make_knapsack(100, n_items=10, capacity=(1000, 3000),
    ...                                         random_state=0)
    >>> capacity.shape, int(capacity.min()) >= 1000, int(capacity.max()) <= 3000
    ((100,), True, True)
    >>> Knapsack(weights, capacity=2000).solve(C, capacity=capacity).shape
    (100, 10)
    >>> X, C, weights = make_knapsack(100, n_items=10, n_dims=2, random_state=0)
    >>> weights.shape
    (2, 10)
    """
    check_scalar(n_samples, "n_samples", kind=numbers.Integral, low=1)
    check_scalar(n_items, "n_items", kind=numbers.Integral, low=1)
    check_scalar(n_features, "n_features", kind=numbers.Integral, low=1)
    check_scalar(degree, "degree", kind=numbers.Integral, low=1)
    check_scalar(noise_width, "noise_width", low=0.0, high=1.0)
    check_scalar(n_dims, "n_dims", kind=numbers.Integral, low=1)
    if capacity is not None:
        low, high = _capacity_range(capacity)
    rng = check_random_state(random_state)
    weights = rng.choice(range(300, 800), size=(n_dims, n_items)).astype(np.int64)
    if n_dims == 1:
        weights = weights[0]
    B = rng.binomial(1, 0.5, (n_items, n_features))
    X = rng.normal(0.0, 1.0, (n_samples, n_features))
    C = 5.0 * ((X @ B.T / np.sqrt(n_features) + 3.0) ** degree + 1.0) / 3.5 ** degree
    C *= rng.uniform(1.0 - noise_width, 1.0 + noise_width, (n_samples, n_items))
    if capacity is None:
        return X, np.ceil(C), weights
    return X, np.ceil(C), weights, rng.randint(low, high + 1, size=n_samples).astype(np.int64)


def _capacity_range(capacity):
    """``(low, high)`` of a per-instance capacity, checked."""
    message = ("capacity must be a pair (low, high) of integers with 0 <= low <= high, the "
               "inclusive range of each instance's capacity; got ")
    if isinstance(capacity, (str, bytes)) or np.ndim(capacity) != 1 or len(capacity) != 2:
        raise ValueError(f"{message}{capacity!r}.")
    low, high = capacity
    for value in (low, high):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{message}{capacity!r}.")
    if not 0 <= low <= high or high >= 2 ** 62:
        raise ValueError(f"{message}{capacity!r}.")
    return int(low), int(high)
