"""The batched projection kernel behind ``relax``, against cvxpy and finite differences.

``relax(theta, gamma)`` must be the unique solution of
``max theta @ x - gamma ||x||^2`` over the polytope (``min theta @ x +
gamma ||x||^2`` for a minimization): checked against cvxpy with Clarabel,
against Wilder et al.'s Theorem 2, and as gamma -> 0 against the LP optimum.
Its gradient must be that of the exact solution map: checked by central
finite differences in float64.
"""

import cvxpy as cp
import numpy as np
import pytest
import torch

import skdfl.optimizers._qp as qp
from skdfl.optimizers import KSubset, LinearProgram, ShortestPath
from tests._oracles import central_difference


def random_lp(seed, n=6, m_eq=1, m_ub=3, bounds=(0, 1), sense="maximize"):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0.2, 0.8, n)
    A_eq = rng.normal(size=(m_eq, n)) if m_eq else None
    A_ub = rng.normal(size=(m_ub, n)) if m_ub else None
    return LinearProgram(
        A_eq=A_eq, b_eq=None if A_eq is None else A_eq @ x0,
        A_ub=A_ub, b_ub=None if A_ub is None else A_ub @ x0 + rng.uniform(0.1, 1.0, m_ub),
        bounds=bounds, sense=sense)


def cvxpy_relaxation(lp, theta, gamma):
    """The regularized LP of every row of theta, solved by Clarabel."""
    data = lp._data
    x = cp.Variable(data.n)
    constraints = []
    if data.A_eq is not None:
        constraints.append(data.A_eq @ x == data.b_eq)
    if data.A_ub is not None:
        constraints.append(data.A_ub @ x <= data.b_ub)
    for side, values in (("lo", data.lo), ("hi", data.hi)):
        finite = np.flatnonzero(np.isfinite(values))
        if len(finite):
            constraints.append(x[finite] >= values[finite] if side == "lo"
                               else x[finite] <= values[finite])
    t = cp.Parameter(data.n)
    if lp.sense == "maximize":
        objective = cp.Maximize(t @ x - gamma * cp.sum_squares(x))
    else:
        objective = cp.Minimize(t @ x + gamma * cp.sum_squares(x))
    problem = cp.Problem(objective, constraints)
    out = []
    for row in theta:
        t.value = row
        problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11,
                      tol_feas=1e-11)
        out.append(x.value)
    return np.array(out)


def relax(optimizer, theta, gamma):
    return optimizer.relax(torch.as_tensor(theta, dtype=torch.float64), gamma).numpy()


PROBLEMS = {
    "lp-box": lambda: random_lp(0, bounds=(0, 1)),
    "lp-min-mixed": lambda: random_lp(1, n=5, m_eq=2, m_ub=2, sense="minimize",
                                      bounds=[(0, 1), (None, 2.0), (-1, None), (0, None),
                                              (None, None)]),
    "lp-unbounded-polytope": lambda: random_lp(2, n=4, m_eq=0, m_ub=3, bounds=(None, None)),
    "shortest-path": lambda: ShortestPath(grid=(3, 4)),
    "k-subset": lambda: KSubset(k=3, n_items=7),
    "matching": lambda: LinearProgram.bipartite_matching(3, 3),
}


def lp_of(optimizer):
    return optimizer if isinstance(optimizer, LinearProgram) else optimizer.lp_form()


# ---------------------------------------------------------------- forward

@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("gamma", [0.05, 1.0])
def test_relax_matches_cvxpy(name, gamma):
    optimizer = PROBLEMS[name]()
    rng = np.random.default_rng(len(name))
    theta = rng.normal(size=(3, optimizer.n_params))
    np.testing.assert_allclose(relax(optimizer, theta, gamma),
                               cvxpy_relaxation(lp_of(optimizer), theta, gamma), atol=1e-6)


@pytest.mark.parametrize("name", ["shortest-path", "k-subset", "matching"])
def test_ties_give_the_exact_projection(name):
    """Integer theta: degenerate faces; the answer is feasible and at least as close."""
    optimizer = PROBLEMS[name]()
    lp = lp_of(optimizer)
    theta = np.random.default_rng(0).integers(-2, 3, size=(4, optimizer.n_params)) * 1.0
    gamma = 0.25
    x = relax(optimizer, theta, gamma)
    reference = cvxpy_relaxation(lp, theta, gamma)
    z = -lp.sign * theta / (2 * gamma)
    data = lp._data
    for row in x:
        if data.A_eq is not None:
            np.testing.assert_allclose(data.A_eq @ row, data.b_eq, atol=1e-9)
        if data.A_ub is not None:
            assert np.all(data.A_ub @ row <= data.b_ub + 1e-9)
        assert np.all(row >= data.lo - 1e-9) and np.all(row <= data.hi + 1e-9)
    ours = np.linalg.norm(x - z, axis=1)
    theirs = np.linalg.norm(reference - z, axis=1)
    assert np.all(ours <= theirs + 1e-9)
    np.testing.assert_allclose(x, reference, atol=1e-4)


def test_batch_rows_are_independent_and_kinds_are_kept():
    optimizer = ShortestPath(grid=(3, 3))
    theta = np.random.default_rng(0).normal(size=(5, 12)) * np.array([[0.01], [1], [10],
                                                                      [100], [1]])
    batch = relax(optimizer, theta, 0.1)
    for i in range(5):
        np.testing.assert_allclose(relax(optimizer, theta[i:i + 1], 0.1), batch[i:i + 1],
                                   atol=1e-9)
    x32 = optimizer.relax(torch.as_tensor(theta, dtype=torch.float32), 0.1)
    assert x32.dtype == torch.float32
    single = optimizer.relax(np.asarray(theta[0]), 0.1)
    assert isinstance(single, np.ndarray) and single.shape == (12,)


def test_rank_deficient_equalities_change_nothing():
    """Duplicated and redundant rows (a flow system is rank-deficient already)."""
    lp = random_lp(4, n=5, m_eq=2, m_ub=2)
    data = lp._data
    A_eq = np.vstack([data.A_eq, data.A_eq[:1], data.A_eq.sum(0, keepdims=True)])
    b_eq = np.concatenate([data.b_eq, data.b_eq[:1], [data.b_eq.sum()]])
    redundant = LinearProgram(A_eq=A_eq, b_eq=b_eq, A_ub=data.A_ub, b_ub=data.b_ub,
                              bounds=(0, 1))
    theta = torch.tensor(np.random.default_rng(4).normal(size=(3, 5)), requires_grad=True)
    w = torch.as_tensor(np.random.default_rng(5).normal(size=(3, 5)))
    x, x_red = lp.relax(theta, 0.2), redundant.relax(theta, 0.2)
    np.testing.assert_allclose(x_red.detach(), x.detach(), atol=1e-9)
    grad, = torch.autograd.grad((x * w).sum(), theta)
    grad_red, = torch.autograd.grad((x_red * w).sum(), theta)
    np.testing.assert_allclose(grad_red, grad, atol=1e-9)


# ---------------------------------------------------------------- Wilder et al.

@pytest.mark.parametrize("name", ["shortest-path", "k-subset", "matching", "lp-box"])
@pytest.mark.parametrize("gamma", [0.01, 0.3, 3.0])
def test_theorem_2_bound(name, gamma):
    """theta @ x(theta) >= OPT - gamma * D (maximization; mirrored), D = max ||x||^2."""
    optimizer = PROBLEMS[name]()
    theta = np.random.default_rng(7).normal(size=(6, optimizer.n_params))
    x_relaxed = relax(optimizer, theta, gamma)
    optimum = (optimizer.solve(theta) * theta).sum(1)
    value = (x_relaxed * theta).sum(1)
    diameter = optimizer.n_vars               # every polytope here lies in [0, 1]^n
    assert np.all(-optimizer.sign * (value - optimum) >= -gamma * diameter - 1e-9)
    assert np.all(-optimizer.sign * (value - optimum) <= 1e-9)    # never better than OPT


@pytest.mark.parametrize("name", ["shortest-path", "k-subset", "matching"])
def test_relaxation_tends_to_the_lp_optimum(name):
    optimizer = PROBLEMS[name]()
    theta = np.random.default_rng(3).normal(size=(4, optimizer.n_params))
    exact = optimizer.solve(theta)
    gaps = []
    for gamma in [1.0, 0.1, 0.01, 0.001]:
        x = relax(optimizer, theta, gamma)
        gaps.append(float(np.abs((x - exact) * theta).sum()))
    assert all(a >= b - 1e-12 for a, b in zip(gaps, gaps[1:]))
    np.testing.assert_allclose(relax(optimizer, theta, 1e-4), exact, atol=1e-9)


# ---------------------------------------------------------------- backward


@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("gamma", [0.2, 2.0])
def test_gradient_matches_finite_differences(name, gamma):
    optimizer = PROBLEMS[name]()
    rng = np.random.default_rng(11)
    theta = rng.normal(size=(2, optimizer.n_params))
    weights = rng.normal(size=(2, optimizer.n_vars))

    def loss(t):
        return float((relax(optimizer, t, gamma) * weights).sum())

    t = torch.tensor(theta, requires_grad=True)
    (optimizer.relax(t, gamma) * torch.as_tensor(weights)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), central_difference(loss, theta), atol=1e-6)


def test_backward_is_analytic_not_unrolled():
    theta = torch.ones(1, 4, dtype=torch.float64, requires_grad=True)
    x = ShortestPath(grid=(2, 2)).relax(theta, 0.5)
    nodes, stack = [], [x.grad_fn]
    while stack:
        node = stack.pop()
        nodes.append(type(node).__name__)
        stack += [n for n, _ in node.next_functions if n is not None]
    # One autograd node for the whole solve: theta -> z = -sign theta / (2 gamma) -> x.
    assert nodes == ["_ProjectionBackward", "MulBackward0", "AccumulateGrad"]


# ---------------------------------------------------------------- errors

def test_empty_polytope_is_reported():
    lp = LinearProgram(A_eq=[[1.0, 1.0]], b_eq=[3.0], bounds=(0, 1))
    with pytest.raises(ValueError, match="feasible set of the LinearProgram is empty"):
        lp.relax(torch.zeros(2, 2), 0.1)


def test_no_convergence_names_the_instances(monkeypatch):
    monkeypatch.setattr(qp, "_MAX_ITER", qp._CHECK_EVERY)
    monkeypatch.setattr(qp, "_POLISH_STEPS", 1)
    lp = random_lp(0, n=8, m_eq=2, m_ub=5)
    theta = np.random.default_rng(0).normal(size=(6, 8))
    theta[0] = 0.0                                  # projects an interior point: done at once
    with pytest.raises(ValueError, match=r"did not converge .* instance\(s\) \[1,"):
        lp.relax(torch.as_tensor(theta), 0.001)


def test_shortest_path_and_k_subset_lp_forms():
    sp = ShortestPath(grid=(2, 2)).lp_form()
    assert sp.sense == "minimize" and sp.n_vars == 4
    np.testing.assert_array_equal(sp.A_eq, [[1, 1, 0, 0], [-1, 0, 1, 0], [0, -1, 0, 1],
                                            [0, 0, -1, -1]])
    np.testing.assert_array_equal(sp.b_eq, [1, 0, 0, -1])
    ks = KSubset(k=2, n_items=3).lp_form()
    assert ks.sense == "maximize" and list(ks.b_eq) == [2.0]
    with pytest.raises(ValueError, match="lp_form needs n_items"):
        KSubset(k=2).lp_form()
    # relax binds an unsized KSubset to the width of theta
    x = KSubset(k=2).relax(torch.tensor([[3.0, 0.0, 0.0, -3.0]]), 1.0)
    np.testing.assert_allclose(x, [[1.0, 0.5, 0.5, 0.0]], atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    for name in ["shortest-path", "matching", "lp-min-mixed"]:
        optimizer = PROBLEMS[name]()
        theta = torch.as_tensor(np.random.default_rng(0).normal(size=(16, optimizer.n_params)))
        on_gpu = theta.cuda().requires_grad_()
        x = optimizer.relax(on_gpu, 0.1)
        assert x.device.type == "cuda"
        x.sum().backward()
        on_cpu = theta.clone().requires_grad_()
        optimizer.relax(on_cpu, 0.1).sum().backward()
        np.testing.assert_allclose(x.detach().cpu(), optimizer.relax(theta, 0.1), atol=1e-8)
        np.testing.assert_allclose(on_gpu.grad.cpu(), on_cpu.grad, atol=1e-8)
