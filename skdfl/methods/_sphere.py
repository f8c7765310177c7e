"""The projection of the predictions onto a sphere (Sahoo et al., 2023).

A linear problem decides the same for ``theta_hat`` and any positive
multiple of it, so a regret whose backward does not see that (blackbox
differentiation, the negative identity) has a gradient with a component
along ``theta_hat``: it can shrink or grow the predictions without
changing a decision, and once they have shrunk far below the smoothing
scale, every step is noise ("cost collapse"). Solving for
``theta_hat / ||theta_hat||`` instead changes no decision, and the
projection's Jacobian removes that component.
"""

import math

import torch


def _norms(theta_hat):
    norm = theta_hat.norm(dim=-1, keepdim=True)
    return torch.where(norm > 0, norm, 1.0)


def on_sphere(theta_hat):
    """``theta_hat`` rescaled, row by row, to a root mean square of 1 (0 rows stay 0).

    The scale of the (rescaled) training targets, so that a smoothing
    parameter keeps the meaning it has for them.
    """
    return theta_hat * (math.sqrt(theta_hat.shape[-1]) / _norms(theta_hat))


def through_sphere(grad, theta_hat, radius=1.0):
    """``grad`` taken back through ``radius * theta_hat / ||theta_hat||``, row by row.

    ``radius * (I - u u^T) grad / ||theta_hat||`` with ``u`` the unit
    vector of each row: no component along ``theta_hat`` is left.
    """
    norm = _norms(theta_hat)
    unit = theta_hat / norm
    return (grad - (grad * unit).sum(-1, keepdim=True) * unit) * (radius / norm)


def through_rms_sphere(grad, theta_hat):
    """``grad`` taken back through :func:`on_sphere`."""
    return through_sphere(grad, theta_hat, radius=math.sqrt(theta_hat.shape[-1]))
