"""TaskMet's implicit metric gradient against finite differences of the outer objective."""

import numpy as np
import pytest
import torch

from skdfl.methods import (ConditionalMetric, DiagonalMetric, conjugate_gradient,
                           implicit_metric_gradient)
from skdfl.methods._taskmet import metric_weighted_mse


def weighted_least_squares(X, y, weights):
    """The exact inner argmin: one weighted least-squares fit per output."""
    columns = []
    for k in range(y.shape[1]):
        Xw = X * weights[:, k:k + 1]
        columns.append(torch.linalg.solve(X.T @ Xw, Xw.T @ y[:, k]))
    return torch.stack(columns, dim=1)


@pytest.fixture
def tiny():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 3, generator=g, dtype=torch.float64)
    y = torch.randn(30, 2, generator=g, dtype=torch.float64)
    target = torch.randn(30, 2, generator=g, dtype=torch.float64)
    torch.manual_seed(0)
    metric = ConditionalMetric(3, 2, hidden=4).double()
    with torch.no_grad():  # leave the symmetric start so the gradient is generic
        for p in metric.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return X, y, target, metric


def outer_objective(X, y, target, metric):
    W = weighted_least_squares(X, y, metric(X))
    return ((X @ W - target) ** 2 * torch.tensor([1.0, 3.0], dtype=X.dtype)).mean()


def test_implicit_gradient_matches_finite_differences(tiny):
    X, y, target, metric = tiny
    with torch.no_grad():
        W = weighted_least_squares(X, y, metric(X)).requires_grad_()
    params = list(metric.parameters())
    grads, _ = implicit_metric_gradient(
        [W], params,
        pred_loss=lambda: metric_weighted_mse(X @ W, y, metric(X)),
        task_loss=lambda: ((X @ W - target) ** 2
                           * torch.tensor([1.0, 3.0], dtype=X.dtype)).mean(),
        cg_iter=50, cg_damping=0.0)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):  # directional derivatives along random directions
        direction = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
        analytic = sum(float((d * gr).sum()) for d, gr in zip(direction, grads))
        eps = 1e-5
        values = []
        for sign in (1, -1):
            with torch.no_grad():
                for p, d in zip(params, direction):
                    p.add_(sign * eps * d)
            with torch.no_grad():
                values.append(float(outer_objective(X, y, target, metric)))
            with torch.no_grad():
                for p, d in zip(params, direction):
                    p.sub_(sign * eps * d)
        numeric = (values[0] - values[1]) / (2 * eps)
        assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-9)


def test_diagonal_metric_cannot_move_independent_outputs(tiny):
    """With one least-squares head per output, a diagonal metric changes no minimizer."""
    X, y, target, _ = tiny
    metric = DiagonalMetric(2).double()
    with torch.no_grad():
        W = weighted_least_squares(X, y, metric(X)).requires_grad_()
    grads, _ = implicit_metric_gradient(
        [W], list(metric.parameters()),
        pred_loss=lambda: metric_weighted_mse(X @ W, y, metric(X)),
        task_loss=lambda: ((X @ W - target) ** 2).mean(), cg_iter=50, cg_damping=0.0)
    assert float(grads[0].abs().max()) < 1e-8


def test_conjugate_gradient_solves_spd_systems():
    rng = np.random.RandomState(0)
    M = rng.normal(size=(6, 6))
    A = torch.as_tensor(M @ M.T + 6 * np.eye(6))
    b = torch.as_tensor(rng.normal(size=6))
    v = conjugate_gradient(lambda x: A @ x, b, 6, 0.5)
    torch.testing.assert_close(v, torch.linalg.solve(A + 0.5 * torch.eye(6, dtype=A.dtype), b))


def test_metrics_are_positive_and_normalized():
    X = torch.randn(8, 3)
    for metric in (DiagonalMetric(4), ConditionalMetric(3, 4)):
        weights = metric(X)
        assert weights.shape == (8, 4) and bool((weights > 0).all())
    assert float(ConditionalMetric(3, 4)(X).detach().mean()) == pytest.approx(1.0)
