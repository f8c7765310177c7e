"""Independent oracles shared by the tests."""

import numpy as np


def central_difference(f, theta, eps=1e-6):
    """Gradient of the scalar function ``f`` at ``theta`` by central differences."""
    grad = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        step = np.zeros_like(theta)
        step[idx] = eps
        grad[idx] = (f(theta + step) - f(theta - step)) / (2 * eps)
    return grad
