"""CoverageMaximizer: greedy against brute force, the multilinear relaxation and its gradient."""

import itertools
import math
import pickle
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import minimize
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skdfl.optimizers import CoverageMaximizer
from skdfl.optimizers import _coverage_relax as kernel
from skdfl.optimizers._coverage_relax import (
    coverage_gradient, coverage_gradient_vjp, coverage_hessian, project_capped_simplex)
from tests._oracles import central_difference


def coverage_np(x, theta, w):
    """``sum_j w_j (1 - prod_i (1 - x_i theta_ij))`` for one instance, plain numpy."""
    return float(np.sum(w * (1.0 - np.prod(1.0 - x[:, None] * theta, axis=0))))


def greedy_np(theta, w, k):
    """Reference greedy on one instance: largest marginal gain, lowest index on ties."""
    n = theta.shape[0]
    x = np.zeros(n)
    for _ in range(k):
        base = coverage_np(x, theta, w)
        gains = np.full(n, -1.0)
        for i in np.flatnonzero(x == 0):
            y = x.copy()
            y[i] = 1.0
            gains[i] = coverage_np(y, theta, w) - base
        best = int(np.argmax(gains))
        if gains[best] <= 1e-15:
            break
        x[best] = 1.0
    return x


def brute_force(theta, w, k):
    n = theta.shape[0]
    best = 0.0
    for size in range(1, k + 1):
        for subset in itertools.combinations(range(n), size):
            x = np.zeros(n)
            x[list(subset)] = 1.0
            best = max(best, coverage_np(x, theta, w))
    return best


def reference_value(x, theta, w):
    """Coverage by an explicit product loop: plain multiplications, so autograd is exact
    to every order, also where a factor is 0."""
    prod = torch.ones_like(theta[:, 0])
    for i in range(theta.shape[1]):
        prod = prod * (1.0 - x[:, i:i + 1] * theta[:, i])
    return ((1.0 - prod) * w).sum(-1)


def random_problem(seed, batch, n, m, sparsity=0.5, scale=1.0):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, scale, size=(batch, n, m)) * (rng.uniform(size=(batch, n, m)) < sparsity)
    w = rng.uniform(0.5, 2.0, size=m)
    return theta, w


def relaxed_objective(x, theta, w, gamma):
    return coverage_np(x, theta, w) - gamma * float(x @ x)


def natural_residual(x, theta, w, k, gamma):
    """``||x - P(x + grad G(x))||_inf``: zero exactly at a KKT point of the relaxation."""
    x = torch.as_tensor(x, dtype=torch.float64)
    theta = torch.as_tensor(theta, dtype=torch.float64)
    grad = coverage_gradient(x, theta, torch.as_tensor(w)) - 2 * gamma * x
    return (x - project_capped_simplex(x + grad, k)[0]).abs().amax(1)


# ---------------------------------------------------------------- objective and greedy


def test_objective_matches_numpy_formula():
    theta, w = random_problem(0, 5, 4, 3)
    opt = CoverageMaximizer(k=2, n_items=4, n_targets=3, weights=w)
    rng = np.random.default_rng(1)
    for x in (rng.uniform(size=(5, 4)), (rng.uniform(size=(5, 4)) < 0.5).astype(float)):
        value = opt.objective(x, theta.reshape(5, -1))
        expected = [coverage_np(xi, ti, w) for xi, ti in zip(x, theta)]
        np.testing.assert_allclose(value, expected, rtol=1e-13)


def test_flattening_is_row_major_item_by_target():
    # Item 1 alone covers target 2 with probability 0.5.
    theta = np.zeros((2, 3))
    theta[1, 2] = 0.5
    opt = CoverageMaximizer(k=1, n_items=2, n_targets=3, weights=[1.0, 1.0, 4.0])
    np.testing.assert_allclose(opt.objective([[0.0, 1.0]], theta.reshape(1, -1)), [2.0])
    np.testing.assert_array_equal(opt.solve(theta.ravel()), [0.0, 1.0])


@pytest.mark.parametrize("n, m", [(3, 2), (5, 4), (7, 3)])
def test_greedy_against_brute_force_and_reference_greedy(n, m):
    theta, w = random_problem(n * 10 + m, 6, n, m, sparsity=0.6)
    for k in range(1, n + 1):
        opt = CoverageMaximizer(k=k, n_items=n, n_targets=m, weights=w)
        x = opt.solve(theta.reshape(6, -1))
        assert np.isin(x, (0.0, 1.0)).all() and (x.sum(1) <= k).all()
        values = opt.objective(x, theta.reshape(6, -1))
        for xi, value, ti in zip(x, values, theta):
            np.testing.assert_array_equal(xi, greedy_np(ti, w, k))
            best = brute_force(ti, w, k)
            assert value <= best + 1e-12
            assert value >= (1 - 1 / math.e) * best - 1e-12


def test_greedy_stops_when_nothing_gains():
    theta = np.zeros((1, 4, 2))
    theta[0, 2] = [0.3, 0.0]
    theta[0, 3] = [0.3, 0.0]
    x = CoverageMaximizer(k=3, n_items=4, n_targets=2).solve(theta.reshape(1, -1))
    # Item 2 first; item 3 still gains (0.3 * 0.7); then nothing is left to gain.
    np.testing.assert_array_equal(x, [[0.0, 0.0, 1.0, 1.0]])
    x = CoverageMaximizer(k=2, n_items=4, n_targets=2).solve(np.zeros((2, 8)))
    np.testing.assert_array_equal(x, np.zeros((2, 4)))
    # A sure item covers its target completely; a second item on it gains nothing.
    theta = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    x = CoverageMaximizer(k=3, n_items=3, n_targets=2).solve(theta.ravel())
    np.testing.assert_array_equal(x, [1.0, 0.0, 0.0])


def test_batched_equals_one_by_one():
    theta, w = random_problem(3, 7, 6, 5)
    theta = torch.as_tensor(theta.reshape(7, -1))
    opt = CoverageMaximizer(k=3, n_items=6, n_targets=5, weights=w)
    x = opt.solve(theta)
    relaxed = opt.relax(theta, 0.3)
    for i in range(7):
        torch.testing.assert_close(opt.solve(theta[i]), x[i], rtol=0, atol=0)
        torch.testing.assert_close(opt.relax(theta[i:i + 1], 0.3)[0], relaxed[i],
                                   rtol=0, atol=1e-9)


def test_kinds_dtypes_and_attributes():
    opt = CoverageMaximizer(k=2, n_items=3, n_targets=2)
    assert opt.sense == "maximize" and not opt.is_linear and opt.sign == -1.0
    assert (opt.n_params, opt.n_vars, opt.n_items) == (6, 3, 3)
    assert opt.with_n_params(6) is opt
    theta = np.random.default_rng(0).uniform(size=(4, 6))
    x = opt.solve(theta)
    assert isinstance(x, np.ndarray) and x.shape == (4, 3)
    x32 = opt.solve(torch.as_tensor(theta, dtype=torch.float32))
    assert x32.dtype == torch.float32
    np.testing.assert_array_equal(x32.numpy(), x)
    assert opt.solve(theta[0]).shape == (3,)
    assert opt.objective(x[0], theta[0]).shape == ()
    relaxed = opt.relax(torch.as_tensor(theta, dtype=torch.float32), 0.1)
    assert relaxed.dtype == torch.float32 and relaxed.shape == (4, 3)
    assert isinstance(opt.relax(theta, 0.1), np.ndarray)
    theta_in = theta.copy()
    opt.relax(theta, 0.1)
    np.testing.assert_array_equal(theta, theta_in)


def test_pickle_and_clone():
    opt = CoverageMaximizer(k=2, n_items=3, n_targets=2, weights=[1.0, 3.0])
    theta = torch.rand(5, 6, dtype=torch.float64)
    x = opt.solve(theta)                       # fills the per-device cache
    again = pickle.loads(pickle.dumps(opt))
    assert "_cache" not in again.__dict__
    torch.testing.assert_close(again.solve(theta), x)
    copy = clone(opt)
    assert copy.get_params() == opt.get_params()
    torch.testing.assert_close(copy.relax(theta, 0.2), opt.relax(theta, 0.2))
    copy.set_params(weights=[3.0, 1.0])        # a changed parameter drops the cached weights
    np.testing.assert_array_equal(copy.target_weights, [3.0, 1.0])


# ---------------------------------------------------------------- per-instance data


def per_row_problem(seed, batch, n, m):
    """Probabilities, a budget (0 to n) and target weights (some 0) per row."""
    theta, _ = random_problem(seed, batch, n, m, sparsity=0.6)
    rng = np.random.default_rng(seed + 100)
    k = rng.integers(0, n + 1, batch)
    weights = rng.uniform(0.5, 2.0, (batch, m)) * (rng.uniform(size=(batch, m)) < 0.8)
    return theta, k, weights


@pytest.mark.parametrize("n, m", [(4, 3), (7, 5)])
def test_greedy_per_row_budget_and_weights_match_the_reference_greedy(n, m):
    theta, k, weights = per_row_problem(n, 12, n, m)
    opt = CoverageMaximizer(k=1, n_items=n, n_targets=m)
    flat = theta.reshape(12, -1)
    x = opt.solve(flat, k=k, weights=weights)
    values = opt.objective(x, flat, weights=weights)
    for i in range(12):
        np.testing.assert_array_equal(x[i], greedy_np(theta[i], weights[i], k[i]))
        assert values[i] == pytest.approx(coverage_np(x[i], theta[i], weights[i]), abs=1e-12)
    assert (x.sum(1) <= k).all() and not x[k == 0].any()
    # Only one of them given: the other is the constructor's.
    w = np.ones(m)
    for i, row in enumerate(opt.solve(flat, k=k)):
        np.testing.assert_array_equal(row, greedy_np(theta[i], w, k[i]))
    for i, row in enumerate(opt.solve(flat, weights=weights)):
        np.testing.assert_array_equal(row, greedy_np(theta[i], weights[i], 1))


def test_per_row_values_equal_to_the_constructor_change_nothing():
    theta, w = random_problem(2, 6, 5, 4)
    flat = torch.as_tensor(theta.reshape(6, -1))
    opt = CoverageMaximizer(k=2, n_items=5, n_targets=4, weights=w)
    same = dict(k=np.full(6, 2), weights=np.tile(w, (6, 1)))
    torch.testing.assert_close(opt.solve(flat, **same), opt.solve(flat), rtol=0, atol=0)
    for gamma in (0.0, 0.2):
        torch.testing.assert_close(opt.relax(flat, gamma, **same), opt.relax(flat, gamma),
                                   rtol=0, atol=1e-12)
    x = torch.rand(6, 5, dtype=torch.float64)
    torch.testing.assert_close(opt.objective(x, flat, **same), opt.objective(x, flat))


@pytest.mark.parametrize("gamma", [0.0, 0.1, 1.0])
def test_relax_per_row_equals_the_fixed_problem_of_each_row(gamma):
    theta, k, weights = per_row_problem(7, 8, 6, 4)
    k[:2] = [0, 6]
    opt = CoverageMaximizer(k=1, n_items=6, n_targets=4)
    flat = torch.tensor(theta.reshape(8, -1), requires_grad=True)
    x = opt.relax(flat, gamma, k=k, weights=weights)
    c = torch.as_tensor(np.random.default_rng(0).normal(size=(8, 6)))
    grad, = torch.autograd.grad((x * c).sum(), flat)
    assert not x[0].any() and not grad[0].any()            # k = 0: nothing, and it stays so
    for i in range(1, 8):
        alone = CoverageMaximizer(k=int(k[i]), n_items=6, n_targets=4, weights=weights[i])
        t = flat[i:i + 1].detach().clone().requires_grad_()
        x_i = alone.relax(t, gamma)
        grad_i, = torch.autograd.grad((x_i * c[i]).sum(), t)
        torch.testing.assert_close(x[i], x_i[0].detach(), rtol=0, atol=1e-9)
        torch.testing.assert_close(grad[i], grad_i[0], rtol=1e-6, atol=1e-8)
        assert float(x[i].detach().sum()) <= k[i] + 1e-9


def test_relax_per_row_gradient_matches_central_differences():
    rng = np.random.default_rng(3)
    theta = rng.uniform(0.1, 0.9, (2, 5, 3))
    k, weights = np.array([2, 3]), rng.uniform(0.5, 2.0, (2, 3))
    opt = CoverageMaximizer(k=1, n_items=5, n_targets=3)
    c = rng.normal(size=(2, 5))

    def loss(t):
        return float((opt.relax(t, 0.5, k=k, weights=weights) * c).sum())

    flat = theta.reshape(2, -1)
    t = torch.tensor(flat, requires_grad=True)
    (opt.relax(t, 0.5, k=k, weights=weights) * torch.as_tensor(c)).sum().backward()
    numeric = central_difference(loss, flat)
    assert np.abs(numeric).max() > 1e-3
    np.testing.assert_allclose(t.grad.numpy(), numeric, rtol=1e-5, atol=1e-6)


def test_projection_with_a_budget_per_row():
    z = torch.as_tensor(np.random.default_rng(0).uniform(-1, 3, (6, 5)))
    k = torch.tensor([0, 1, 2, 4, 5, 7])
    x, tau = project_capped_simplex(z, k)
    for row, zi, ki in zip(x.numpy(), z.numpy(), k.tolist()):
        np.testing.assert_allclose(row, reference_projection(zi, ki), atol=1e-10)
    assert (tau[k >= 5] == 0).all()


@pytest.mark.parametrize("params, match", [
    (dict(k=[1, 4]), r"k must be <= 3 \(n_items\); got 4 in row 1"),
    (dict(k=[-1, 1]), r"k must be >= 0; got -1 in row 0"),
    (dict(k=[1, 1.5]), r"k must hold whole numbers; got 1.5 in row 1"),
    (dict(k=[1, 2, 3]), r"k must have shape \(2,\)"),
    (dict(weights=[[1.0, 1.0], [1.0, -2.0]]), r"weights must be >= 0; got -2 in row 1"),
    (dict(weights=[[np.nan, 1.0], [1.0, 1.0]]), r"weights must be finite; got nan in row 0"),
    (dict(weights=[1.0, 1.0]), r"weights must have shape \(2, 2\)"),
    (dict(budget=[1, 1]), r"'budget' is not a per-instance parameter.*\['k', 'weights'\]"),
])
def test_bad_per_row_values_name_the_argument_and_row(params, match):
    opt = CoverageMaximizer(k=1, n_items=3, n_targets=2)
    theta = np.full((2, 6), 0.5)
    for call in (lambda: opt.solve(theta, **params),
                 lambda: opt.relax(theta, 0.1, **params),
                 lambda: opt.objective(np.ones((2, 3)), theta, **params)):
        with pytest.raises(ValueError, match=match):
            call()


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("params, error, match", [
    (dict(k=4, n_items=3, n_targets=2), ValueError, "k must be at most n_items=3"),
    (dict(k=0, n_items=3, n_targets=2), ValueError, "k must be >= 1"),
    (dict(k=1.5, n_items=3, n_targets=2), TypeError, "k must be an integer"),
    (dict(k=1, n_items=0, n_targets=2), ValueError, "n_items must be >= 1"),
    (dict(k=1, n_items=3, n_targets=None), TypeError, "n_targets must be an integer"),
    (dict(k=1, n_items=3, n_targets=2, weights=[1.0, -1.0]), ValueError,
     "weights must be finite and non-negative"),
    (dict(k=1, n_items=3, n_targets=2, weights=[1.0, np.nan]), ValueError,
     "weights must be finite and non-negative"),
    (dict(k=1, n_items=3, n_targets=2, weights=[1.0, 2.0, 3.0]), ValueError,
     r"weights must be a 1-D array of n_targets=2 .* got shape \(3,\)"),
])
def test_bad_parameters(params, error, match):
    opt = CoverageMaximizer(**params)            # __init__ only stores
    with pytest.raises(error, match=match):
        opt.solve(np.full((1, 6), 0.5))
    with pytest.raises(error, match=match):
        opt.n_params


def test_bad_theta_and_gamma():
    opt = CoverageMaximizer(k=1, n_items=3, n_targets=2)
    for bad in (1.5, -0.1):
        theta = np.full((2, 6), 0.5)
        theta[1, 4] = bad
        for call in (opt.solve, lambda t: opt.relax(t, 0.1), lambda t: opt.objective(
                np.ones((2, 3)), t)):
            with pytest.raises(ValueError, match=r"theta must hold coverage probabilities in "
                               r"\[0, 1\].*the first at index \(1, 4\)"):
                call(theta)
    with pytest.raises(ValueError, match=r"theta must have 6 columns"):
        opt.solve(np.full((2, 5), 0.5))
    with pytest.raises(ValueError, match="y must have optimizer.n_params=6 columns"):
        opt.with_n_params(5)
    with pytest.raises(ValueError, match=r"x must have 3 columns"):
        opt.objective(np.ones((2, 6)), np.full((2, 6), 0.5))
    with pytest.raises(ValueError, match="same number of instances"):
        opt.objective(np.ones((3, 3)), np.full((2, 6), 0.5))
    with pytest.raises(ValueError, match="gamma must be >= 0; got -0.1"):
        opt.relax(np.full((2, 6), 0.5), -0.1)
    with pytest.raises(ValueError, match="theta must contain only finite values"):
        opt.relax(np.full((2, 6), np.nan), 0.1)


# ---------------------------------------------------------------- closed-form derivatives


def zero_factor_point():
    """x with entries 1 and theta with entries 1, so that targets have 0, 1, 2 or 3 zero
    factors ``1 - x_i theta_ij``."""
    rng = np.random.default_rng(5)
    n, m = 5, 6
    theta = rng.uniform(size=(2, n, m))
    x = rng.uniform(size=(2, n))
    x[:, :3] = 1.0
    theta[:, 0, :4] = 1.0          # item 0 zeroes targets 0..3
    theta[:, 1, 1:3] = 1.0         # item 1 also zeroes targets 1, 2
    theta[:, 2, 2] = 1.0           # item 2 too: target 2 has three zero factors
    theta[:, 3, 5] = 1.0           # item 3 (x < 1) does not zero target 5
    return (torch.as_tensor(x), torch.as_tensor(theta),
            torch.as_tensor(rng.uniform(0.5, 2.0, size=m)))


def generic_point():
    rng = np.random.default_rng(6)
    return (torch.as_tensor(rng.uniform(size=(2, 5))), torch.as_tensor(rng.uniform(size=(2, 5, 4))),
            torch.as_tensor(rng.uniform(0.5, 2.0, size=4)))


@pytest.mark.parametrize("point", [zero_factor_point, generic_point])
def test_gradient_and_hessian_match_autograd(point):
    x, theta, w = point()
    for b in range(x.shape[0]):
        f = lambda xx: reference_value(xx[None], theta[b:b + 1], w)[0]  # noqa: E731
        grad = torch.autograd.functional.jacobian(f, x[b])
        hess = torch.autograd.functional.hessian(f, x[b])
        torch.testing.assert_close(coverage_gradient(x, theta, w)[b], grad, rtol=1e-12,
                                   atol=1e-12)
        torch.testing.assert_close(coverage_hessian(x, theta, w)[b], hess, rtol=1e-12,
                                   atol=1e-12)
    items = torch.tensor([[4, 0, 2], [1, 3, 0]])
    block = coverage_hessian(x, theta, w, items)
    full = coverage_hessian(x, theta, w)
    for b in range(2):
        torch.testing.assert_close(block[b], full[b][items[b]][:, items[b]])


@pytest.mark.parametrize("point, v_zero_at_ones", [(zero_factor_point, False),
                                                    (generic_point, False),
                                                    (zero_factor_point, True)])
def test_mixed_derivative_matches_autograd(point, v_zero_at_ones):
    x, theta, w = point()
    v = torch.as_tensor(np.random.default_rng(7).normal(size=x.shape))
    if v_zero_at_ones:
        # The backward's case: the zero factors' items sit at 1, where v (the face's
        # solve) is 0; the product form with stand-ins for the zeros must stay exact.
        v[:, :3] = 0.0
    theta_var = theta.clone().requires_grad_(True)
    x_var = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(reference_value(x_var, theta_var, w).sum(), x_var,
                                  create_graph=True)
    (expected,) = torch.autograd.grad((grad * v).sum(), theta_var)
    torch.testing.assert_close(coverage_gradient_vjp(x, theta, w, v), expected, rtol=1e-12,
                               atol=1e-12)


def test_objective_is_differentiable_with_zero_factors():
    x, theta, w = zero_factor_point()
    opt = CoverageMaximizer(k=2, n_items=5, n_targets=6, weights=w.numpy())
    x_var = x.clone().requires_grad_(True)
    opt.objective(x_var, theta.reshape(2, -1)).sum().backward()
    torch.testing.assert_close(x_var.grad, coverage_gradient(x, theta, w))


# ---------------------------------------------------------------- projection


def reference_projection(z, k):
    """Projection by bisection on the multiplier of the budget."""
    x = np.clip(z, 0, 1)
    if x.sum() <= k:
        return x
    lo, hi = 0.0, float(z.max())
    for _ in range(200):
        tau = (lo + hi) / 2
        lo, hi = (tau, hi) if np.clip(z - tau, 0, 1).sum() > k else (lo, tau)
    return np.clip(z - hi, 0, 1)


@settings(max_examples=80, deadline=None)
@given(z=arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 8)),
                elements=st.floats(-3, 4, allow_nan=False, width=64)),
       k=st.integers(1, 8))
def test_projection_matches_bisection(z, k):
    x, tau = project_capped_simplex(torch.as_tensor(z), k)
    x = x.numpy()
    assert (x >= 0).all() and (x <= 1).all() and (x.sum(1) <= k + 1e-12).all()
    assert (tau >= 0).all()
    for row, zi in zip(x, z):
        np.testing.assert_allclose(row, reference_projection(zi, k), atol=1e-10)


# ---------------------------------------------------------------- the relaxation


@pytest.mark.parametrize("gamma", [0.0, 0.05, 0.5, 2.0])
def test_relax_is_feasible_and_stationary(gamma):
    theta, w = random_problem(11, 12, 8, 6, scale=0.8)
    k = 3
    opt = CoverageMaximizer(k=k, n_items=8, n_targets=6, weights=w)
    x = opt.relax(torch.as_tensor(theta.reshape(12, -1)), gamma)
    assert (x >= 0).all() and (x <= 1).all() and (x.sum(1) <= k + 1e-12).all()
    assert natural_residual(x, theta, w, k, gamma).max() <= 1e-9


def test_relax_with_sure_coverage_is_stationary_and_differentiable():
    # theta entries equal to 1 give zero factors 1 - x_i theta_ij wherever x_i reaches 1.
    theta, w = random_problem(12, 6, 5, 4)
    theta[:, :2, :2] = 1.0
    theta[:, 2, 1:3] = 1.0
    opt = CoverageMaximizer(k=2, n_items=5, n_targets=4, weights=w)
    for gamma in (0.0, 0.3):
        flat = torch.as_tensor(theta.reshape(6, -1)).requires_grad_(True)
        x = opt.relax(flat, gamma)
        assert (x == 1).any()
        assert natural_residual(x.detach(), theta, w, 2, gamma).max() <= 1e-9
        (x * torch.arange(5.0, dtype=torch.float64)).sum().backward()
        assert torch.isfinite(flat.grad).all()


def test_identical_items_are_separated():
    # At x = (1/2, 1/2) the two copies tie, but there the budget face is convex
    # (a saddle point); the tilted start lets the ascent leave it for a vertex.
    opt = CoverageMaximizer(k=1, n_items=2, n_targets=1)
    x = opt.relax(np.array([[0.9, 0.9]]), 0.1)
    np.testing.assert_array_equal(x, [[1.0, 0.0]])


def test_relax_reaches_a_tight_fixed_point_on_an_ill_conditioned_face():
    # Gradient steps alone crawl here (a free face with curvature ~1e-2 next to ~10);
    # the Newton proposals on the face finish it.
    theta, w = random_problem(0, 4, 50, 200, sparsity=0.3, scale=0.2)
    opt = CoverageMaximizer(k=10, n_items=50, n_targets=200, weights=w)
    x = opt.relax(torch.as_tensor(theta.reshape(4, -1)), 0.1)
    assert natural_residual(x, theta, w, 10, 0.1).max() <= 1e-10


def slsqp(theta, w, k, gamma):
    th, wt = torch.as_tensor(theta)[None], torch.as_tensor(w)
    n = theta.shape[0]

    def fun(x):
        xt = torch.as_tensor(x)[None]
        grad = coverage_gradient(xt, th, wt)[0].numpy() - 2 * gamma * x
        return -relaxed_objective(x, theta, w, gamma), -grad

    start = kernel.starting_point(th, k)[0].numpy()          # the relaxation's own start
    result = minimize(fun, start, jac=True, method="SLSQP", bounds=[(0, 1)] * n,
                      constraints=[{"type": "ineq", "fun": lambda x: k - x.sum(),
                                    "jac": lambda x: -np.ones(n)}],
                      options={"ftol": 1e-14, "maxiter": 1000})
    return result.x


def test_relax_matches_slsqp_where_the_problem_is_concave():
    theta, w = random_problem(21, 8, 6, 4, scale=0.6)
    gamma = 0.5 * float(kernel.curvature_bound(torch.as_tensor(theta), torch.as_tensor(w),
                                               0.0).max()) + 0.05
    opt = CoverageMaximizer(k=2, n_items=6, n_targets=4, weights=w)
    x = opt.relax(theta.reshape(8, -1), gamma)
    for xi, ti in zip(x, theta):
        np.testing.assert_allclose(xi, slsqp(ti, w, 2, gamma), atol=1e-6)


@pytest.mark.parametrize("gamma", [0.02, 0.2])
def test_relax_is_a_local_optimum_as_good_as_slsqp(gamma):
    theta, w = random_problem(31, 8, 7, 5)
    opt = CoverageMaximizer(k=3, n_items=7, n_targets=5, weights=w)
    x = opt.relax(theta.reshape(8, -1), gamma)
    rng = np.random.default_rng(0)
    for xi, ti in zip(x, theta):
        value = relaxed_objective(xi, ti, w, gamma)
        assert value >= relaxed_objective(slsqp(ti, w, 3, gamma), ti, w, gamma) - 1e-7
        for _ in range(20):                     # no feasible neighbour is better
            near = project_capped_simplex(torch.as_tensor(xi + 1e-3 * rng.normal(size=7))[None],
                                          3)[0][0].numpy()
            assert relaxed_objective(near, ti, w, gamma) <= value + 1e-12


def finite_difference_case(gamma, k, seed):
    """A point whose face has free items strictly inside and fixed items at 0 or 1."""
    theta, w = random_problem(seed, 1, 6, 4, sparsity=0.8)
    opt = CoverageMaximizer(k=k, n_items=6, n_targets=4, weights=w)
    flat = torch.as_tensor(theta.reshape(1, -1))
    x = opt.relax(flat, gamma)[0].numpy()
    free = (x > 0) & (x < 1)
    return opt, flat, x, free


@pytest.mark.parametrize("gamma, k, budget_active", [(0.3, 2, True), (1.5, 4, False)])
def test_relax_gradient_matches_central_differences(gamma, k, budget_active):
    for seed in range(100):
        opt, flat, x, free = finite_difference_case(gamma, k, seed)
        interior = free.any() and (x[free].min() > 1e-3) and (x[free].max() < 1 - 1e-3)
        fixed = (~free).any()
        if interior and fixed and (abs(x.sum() - k) < 1e-9) == budget_active:
            break
    else:
        pytest.fail("no instance with the wanted face among the seeds")
    c = torch.as_tensor(np.random.default_rng(seed).normal(size=6))
    theta = flat.clone().requires_grad_(True)
    (opt.relax(theta, gamma)[0] @ c).backward()
    eps = 1e-5
    numeric = torch.zeros_like(flat)
    for j in range(flat.shape[1]):
        if not 2 * eps <= float(flat[0, j]) <= 1 - 2 * eps:
            continue                             # stay inside [0, 1]
        up, down = flat.clone(), flat.clone()
        up[0, j] += eps
        down[0, j] -= eps
        numeric[0, j] = (opt.relax(up, gamma)[0] @ c - opt.relax(down, gamma)[0] @ c) / (2 * eps)
    inside = (flat >= 2 * eps) & (flat <= 1 - 2 * eps)
    assert numeric.abs().max() > 1e-3
    torch.testing.assert_close(theta.grad[inside], numeric[inside], rtol=1e-5, atol=1e-7)


def test_relax_gradient_is_finite_on_a_singular_face():
    # gamma = 0 and items that cover nothing: they have zero rows in the KKT matrix (free,
    # with a zero gradient, at a point where the budget binds with a zero multiplier).
    # The pseudo-inverse gives them no response instead of NaN or a 1 / ridge blow-up.
    theta = np.zeros((2, 4, 3))
    theta[0, 0] = [0.5, 0.2, 0.0]
    opt = CoverageMaximizer(k=3, n_items=4, n_targets=3)
    flat = torch.as_tensor(theta.reshape(2, -1)).requires_grad_(True)
    x = opt.relax(flat, 0.0)
    expected = torch.tensor([[1.0, 2 / 3, 2 / 3, 2 / 3], [0.75] * 4], dtype=torch.float64)
    torch.testing.assert_close(x.detach(), expected, atol=1e-5, rtol=0)   # (tilted start)
    assert float(x[0].detach().sum()) == pytest.approx(3.0)
    (x * torch.arange(1.0, 5.0, dtype=torch.float64)).sum().backward()
    assert torch.isfinite(flat.grad).all() and flat.grad.abs().max() <= 1.0
    flat.grad = None
    x = opt.relax(flat, 0.1)                     # regular with a positive gamma
    x.sum().backward()
    assert torch.isfinite(flat.grad).all()


@pytest.mark.parametrize("gamma", [0.3, 0.6, 1.0])
def test_ldl_face_has_the_inertia_and_solution_of_the_eigendecomposition(gamma):
    # The ascent's Newton steps factor the face's KKT matrix by LDL'; its test of a strict
    # local maximum (the inertia of D) and its solve must agree with eigh's.
    theta, w = random_problem(3, 64, 7, 5, sparsity=0.7)
    th = torch.as_tensor(theta)
    rng = np.random.default_rng(1)
    x = torch.as_tensor(rng.uniform(size=(64, 7)))
    x[:16, :2] = 0.0                             # faces with fixed items, and a binding budget
    x[16:32, 2] = 1.0
    x[32:48] *= (3.0 / x[32:48].sum(1, keepdim=True)).clamp(max=1.0)
    w = torch.as_tensor(w)
    exact = kernel._Face(x, th, w, 3, gamma)
    fast = kernel._Face(x, th, w, 3, gamma, exact=False)
    assert exact.definite.any() and not exact.definite.all()
    torch.testing.assert_close(fast.definite, exact.definite)
    rhs, rhs_sum = torch.as_tensor(rng.normal(size=(64, 7))), torch.as_tensor(rng.normal(size=64))
    rows = exact.definite
    torch.testing.assert_close(fast.solve(rhs, rhs_sum)[rows], exact.solve(rhs, rhs_sum)[rows],
                               rtol=1e-8, atol=1e-10)


def test_relax_gradient_at_a_vertex_is_zero():
    opt = CoverageMaximizer(k=1, n_items=2, n_targets=2)
    theta = torch.tensor([[0.8, 0.0, 0.0, 0.6]], dtype=torch.float64, requires_grad=True)
    x = opt.relax(theta, 0.0)
    torch.testing.assert_close(x.detach(), torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    x.sum().backward()
    torch.testing.assert_close(theta.grad, torch.zeros_like(theta))


def test_relax_warns_when_the_iteration_cap_is_hit(monkeypatch):
    monkeypatch.setattr(kernel, "_MAX_ITER", 1)
    theta, w = random_problem(0, 2, 6, 4)
    opt = CoverageMaximizer(k=2, n_items=6, n_targets=4, weights=w)
    for gamma in (0.5, 0.0):            # the Newton ascent and the gradient loop
        with pytest.warns(ConvergenceWarning, match="did not reach a fixed point") as caught:
            x = opt.relax(theta.reshape(2, -1), gamma)
        assert np.isfinite(x).all()
        assert caught[0].filename == __file__       # the user's call, not skdfl's code


def test_no_warnings_in_normal_use():
    theta, w = random_problem(2, 4, 6, 4)
    opt = CoverageMaximizer(k=2, n_items=6, n_targets=4, weights=w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.relax(theta.reshape(4, -1), 0.0)
        opt.relax(theta.reshape(4, -1), 0.1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    theta, w = random_problem(4, 16, 10, 8)
    theta = torch.as_tensor(theta.reshape(16, -1))
    opt = CoverageMaximizer(k=3, n_items=10, n_targets=8, weights=w)
    x = opt.solve(theta.cuda())
    assert x.is_cuda
    torch.testing.assert_close(x.cpu(), opt.solve(theta))
    for gamma in (0.0, 0.2):
        theta_cpu = theta.clone().requires_grad_(True)
        theta_gpu = theta.cuda().requires_grad_(True)
        x_cpu, x_gpu = opt.relax(theta_cpu, gamma), opt.relax(theta_gpu, gamma)
        assert x_gpu.is_cuda
        torch.testing.assert_close(x_gpu.detach().cpu(), x_cpu.detach(), atol=1e-8, rtol=0)
        x_cpu.sum().backward()
        x_gpu.sum().backward()
        torch.testing.assert_close(theta_gpu.grad.cpu(), theta_cpu.grad, atol=1e-7, rtol=1e-6)
    assert opt.objective(x, theta.cuda()).is_cuda


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_per_row_values_match_cpu():
    theta, k, weights = per_row_problem(4, 16, 8, 5)
    flat = torch.as_tensor(theta.reshape(16, -1))
    opt = CoverageMaximizer(k=1, n_items=8, n_targets=5)
    params = dict(k=torch.as_tensor(k), weights=torch.as_tensor(weights))
    gpu = {name: value.cuda() for name, value in params.items()}
    torch.testing.assert_close(opt.solve(flat.cuda(), **gpu).cpu(), opt.solve(flat, **params))
    theta_cpu, theta_gpu = flat.clone().requires_grad_(), flat.cuda().requires_grad_()
    x_cpu, x_gpu = opt.relax(theta_cpu, 0.2, **params), opt.relax(theta_gpu, 0.2, **gpu)
    torch.testing.assert_close(x_gpu.detach().cpu(), x_cpu.detach(), atol=1e-8, rtol=0)
    x_cpu.sum().backward()
    x_gpu.sum().backward()
    torch.testing.assert_close(theta_gpu.grad.cpu(), theta_cpu.grad, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("gamma", [0.3, 2.0])
def test_newton_ascent_reaches_the_fixed_point_of_the_gradient_ascent(gamma):
    # The ascent for gamma > 0 (ascend's default there): a KKT point to rounding,
    # with fixed items, sure coverage (zero factors) and a binding budget among the rows;
    # where the problem is concave it is the gradient ascent's (unique) maximizer.
    from skdfl.optimizers._coverage_newton import newton_ascent
    theta, w = random_problem(5, 16, 8, 6, sparsity=0.7)
    theta[:4, :2, :3] = 1.0
    th, wt = torch.as_tensor(theta), torch.as_tensor(w)
    x = newton_ascent(th, wt, 3, gamma)
    assert (x >= 0).all() and (x <= 1).all() and (x.sum(1) <= 3 + 1e-12).all()
    assert natural_residual(x, theta, w, 3, gamma).max() <= 1e-12
    assert ((x > 0) & (x < 1)).any() and (x == 1).any()
    concave = 0.5 * float(kernel.curvature_bound(th, wt, 0.0).max()) + 0.05
    torch.testing.assert_close(newton_ascent(th, wt, 3, concave),
                               kernel.gradient_ascent(th, wt, 3, concave), atol=1e-9, rtol=0)


def test_a_refused_newton_step_is_cut_at_the_box():
    # Item 1 near 1 and item 2 near 0 overshoot: the step stops where the first of them
    # reaches its bound (half the way). A slack budget cuts the step where it is spent; a
    # row whose cut would keep less than _MIN_CUT of the step keeps its projection.
    from skdfl.optimizers._coverage_newton import _MIN_CUT, _truncated
    x = torch.tensor([[0.5, 0.9, 0.1], [0.4, 0.4, 0.0], [0.5, 0.0, 0.5]], dtype=torch.float64)
    newton = torch.tensor([[0.5, 1.1, -0.1], [0.7, 0.7, 0.0], [0.6, -0.2, 0.6]],
                          dtype=torch.float64)
    projected = torch.full_like(x, -1.0)            # marks the rows that keep it
    cut = _truncated(x, newton, torch.tensor([3.0, 1.0, 3.0], dtype=torch.float64),
                     torch.tensor([True, True, True]), projected)
    torch.testing.assert_close(cut[0], torch.tensor([0.5, 1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(cut[1], torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64))
    assert 0 < _MIN_CUT and (cut[2] == -1.0).all()  # item 1 at 0 moving down: no cut
    untouched = _truncated(x, newton, 3.0, torch.tensor([False, True, True]), projected)
    assert (untouched[0] == -1.0).all()             # rows not asked for keep the projection
