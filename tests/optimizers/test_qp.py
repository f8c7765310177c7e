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


# ---------------------------------------------------------------- per-instance data

def row_lp(lp, i, b_ub=None, b_eq=None, upper=None):
    """The fixed-structure LinearProgram of instance i: its own right-hand sides and bounds."""
    d = lp._data
    hi = d.hi if upper is None else np.minimum(d.hi, upper[i])
    bounds = [(None if np.isinf(a) else a, None if np.isinf(b) else b)
              for a, b in zip(d.lo, hi)]
    return LinearProgram(A_eq=d.A_eq, b_eq=d.b_eq if b_eq is None else b_eq[i],
                         A_ub=d.A_ub, b_ub=d.b_ub if b_ub is None else b_ub[i],
                         bounds=bounds, sense=lp.sense)


def per_row_data(name, n_instances, seed):
    """A problem's LP and feasible per-row data: (lp, b_ub, b_eq, upper)."""
    rng = np.random.default_rng(seed)
    lp = lp_of(PROBLEMS[name]())
    d = lp._data
    if name == "shortest-path":                 # paths between random pairs (i <= i', j <= j')
        b_eq = np.zeros((n_instances, len(d.b_eq)))
        for row in b_eq:
            (r0, r1), (c0, c1) = np.sort(rng.integers(0, 3, 2)), np.sort(rng.integers(0, 4, 2))
            row[r0 * 4 + c0] += 1.0
            row[r1 * 4 + c1] -= 1.0
        return lp, None, b_eq, None
    if name == "k-subset":
        return lp, None, rng.integers(0, 8, (n_instances, 1)) * 1.0, None
    # Around an interior point of the box, which the per-row upper bounds keep.
    lo = np.where(np.isfinite(d.lo), d.lo, -1.0)
    hi = np.where(np.isfinite(d.hi), d.hi, lo + 2.0)
    x0 = lo + rng.uniform(0.3, 0.5, (n_instances, d.n)) * (hi - lo)
    upper = np.where(rng.uniform(size=x0.shape) < 0.3, x0 + rng.uniform(0, 0.2, x0.shape), np.inf)
    b_eq = None if d.A_eq is None else x0 @ d.A_eq.T
    b_ub = None if d.A_ub is None else x0 @ d.A_ub.T + rng.uniform(0.0, 1.0, (n_instances,
                                                                            len(d.A_ub)))
    return lp, b_ub, b_eq, upper


def relax_rows(lp, theta, gamma, b_ub=None, b_eq=None, upper=None):
    as_t = lambda a: None if a is None else torch.as_tensor(a, dtype=torch.float64)  # noqa
    return lp._relax(as_t(theta), gamma, b_ub=as_t(b_ub), b_eq=as_t(b_eq), upper=as_t(upper))


PER_ROW = ["lp-box", "lp-min-mixed", "lp-unbounded-polytope", "matching", "shortest-path",
           "k-subset"]


@pytest.mark.parametrize("name", PER_ROW)
@pytest.mark.parametrize("gamma", [0.05, 1.0])
def test_per_row_data_match_cvxpy_row_by_row(name, gamma):
    lp, b_ub, b_eq, upper = per_row_data(name, 4, seed=len(name))
    theta = np.random.default_rng(1).normal(size=(4, lp.n_vars))
    x = relax_rows(lp, theta, gamma, b_ub, b_eq, upper).numpy()
    for i in range(4):
        reference = cvxpy_relaxation(row_lp(lp, i, b_ub, b_eq, upper), theta[i:i + 1], gamma)
        np.testing.assert_allclose(x[i:i + 1], reference, atol=1e-6)
    if b_ub is not None or b_eq is not None:              # the public face takes them too
        public = lp.relax(torch.as_tensor(theta), gamma, b_ub=b_ub, b_eq=b_eq).numpy()
        np.testing.assert_allclose(public, relax_rows(lp, theta, gamma, b_ub, b_eq), atol=1e-9)


def test_closed_arcs_through_upper_bounds_match_cvxpy():
    """ShortestPath's use: upper 0 closes an arc (fixes it at its lower bound 0)."""
    lp = ShortestPath(grid=(3, 3)).lp_form()
    rng = np.random.default_rng(3)
    theta = rng.normal(size=(5, 12))
    upper = np.ones((5, 12))
    upper[0, [0, 5]] = 0.0            # arc 0 (0->1) and arc 5 closed: a path remains
    upper[1, 2] = 0.0                 # arc 2 (0->3)
    upper[2, :] = np.inf              # nothing added
    upper[3, [0, 1]] = 0.0
    x = relax_rows(lp, theta, 0.2, upper=upper).numpy()
    for i in range(5):
        reference = cvxpy_relaxation(row_lp(lp, i, upper=upper), theta[i:i + 1], 0.2)
        np.testing.assert_allclose(x[i:i + 1], reference, atol=1e-6)
    assert (x[upper == 0] == 0).all()
    np.testing.assert_array_equal(x[2], relax(ShortestPath(grid=(3, 3)), theta[2:3], 0.2)[0])


@pytest.mark.parametrize("name", ["lp-min-mixed", "matching", "shortest-path"])
def test_per_row_gradient_matches_finite_differences(name):
    lp, b_ub, b_eq, upper = per_row_data(name, 2, seed=5)
    rng = np.random.default_rng(12)
    theta = rng.normal(size=(2, lp.n_vars))
    weights = rng.normal(size=(2, lp.n_vars))

    def loss(t):
        return float((relax_rows(lp, t, 0.3, b_ub, b_eq, upper).numpy() * weights).sum())

    t = torch.tensor(theta, requires_grad=True)
    as_t = lambda a: None if a is None else torch.as_tensor(a)  # noqa: E731
    x = lp._relax(t, 0.3, b_ub=as_t(b_ub), b_eq=as_t(b_eq), upper=as_t(upper))
    (x * torch.as_tensor(weights)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), central_difference(loss, theta), atol=1e-6)


@pytest.mark.parametrize("name", PER_ROW)
def test_per_row_backward_equals_the_fixed_lp_of_each_row(name):
    lp, b_ub, b_eq, upper = per_row_data(name, 3, seed=7)
    rng = np.random.default_rng(8)
    theta = torch.tensor(rng.normal(size=(3, lp.n_vars)), requires_grad=True)
    g = torch.as_tensor(rng.normal(size=(3, lp.n_vars)))
    as_t = lambda a: None if a is None else torch.as_tensor(a)  # noqa: E731
    x = lp._relax(theta, 0.1, b_ub=as_t(b_ub), b_eq=as_t(b_eq), upper=as_t(upper))
    grad, = torch.autograd.grad((x * g).sum(), theta)
    for i in range(3):
        alone = theta[i:i + 1].detach().clone().requires_grad_()
        x_i = row_lp(lp, i, b_ub, b_eq, upper).relax(alone, 0.1)
        grad_i, = torch.autograd.grad((x_i * g[i]).sum(), alone)
        np.testing.assert_allclose(x[i].detach(), x_i[0].detach(), atol=1e-8)
        np.testing.assert_allclose(grad[i], grad_i[0], atol=1e-8)


def test_per_row_rhs_equal_to_the_shared_one_gives_the_fixed_relaxation():
    lp = lp_of(PROBLEMS["lp-min-mixed"]())
    d = lp._data
    theta = np.random.default_rng(2).normal(size=(6, lp.n_vars))
    x = relax_rows(lp, theta, 0.2, b_ub=np.tile(d.b_ub, (6, 1)), b_eq=np.tile(d.b_eq, (6, 1)),
                   upper=np.full((6, lp.n_vars), np.inf))
    np.testing.assert_allclose(x, relax(lp, theta, 0.2), atol=1e-12)


def test_empty_per_row_polytopes_are_named():
    lp = LinearProgram(A_eq=[[1.0, 1.0, 1.0]], b_eq=[1.0], A_ub=[[1.0, -1.0, 0.0]],
                       b_ub=[0.5], bounds=(0, 1))
    theta = torch.as_tensor(np.random.default_rng(0).normal(size=(4, 3)))
    # sum(x) = 4 in the unit cube: no point (row 2), found by a Farkas certificate.
    with pytest.raises(ValueError, match=r"instance 2 \(row 2 of theta\) is empty.*Farkas"):
        lp.relax(theta, 0.1, b_eq=[[1.0], [2.0], [4.0], [1.5]])
    # x0 - x1 <= -2 with 0 <= x <= 1 (row 3).
    with pytest.raises(ValueError, match=r"instance 3 \(row 3 of theta\) is empty"):
        lp.relax(theta, 0.1, b_ub=[[0.5], [0.0], [1.0], [-2.0]])
    # A closed variable (upper bound 0) that the equality needs.
    upper = torch.ones(4, 3, dtype=torch.float64)
    upper[1] = 0.0
    with pytest.raises(ValueError, match=r"instance 1 \(row 1 of theta\) is empty"):
        lp._relax(theta, 0.1, upper=upper)
    # Contradicting equalities are caught at once, and zero rows with a bad right-hand side.
    twice = LinearProgram(A_eq=[[1.0, 1.0], [2.0, 2.0], [0.0, 0.0]], b_eq=[1.0, 2.0, 0.0],
                          bounds=(None, None))
    with pytest.raises(ValueError, match=r"instance 1 .* equality rows have no common"):
        twice.relax(torch.zeros(2, 2), 0.1, b_eq=[[1.0, 2.0, 0.0], [1.0, 3.0, 0.0]])
    with pytest.raises(ValueError, match=r"instance 0 .* zero row .* nonzero b_eq"):
        twice.relax(torch.zeros(2, 2), 0.1, b_eq=[[1.0, 2.0, 1.0], [1.0, 2.0, 0.0]])
    x = twice.relax(torch.zeros(2, 2), 0.1, b_eq=[[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]])
    np.testing.assert_allclose(x, [[0.5, 0.5], [1.0, 1.0]], atol=1e-9)


def test_per_row_no_convergence_suggests_the_data(monkeypatch):
    monkeypatch.setattr(qp, "_MAX_ITER", qp._CHECK_EVERY)
    monkeypatch.setattr(qp, "_POLISH_STEPS", 1)
    lp = random_lp(0, n=8, m_eq=2, m_ub=5)
    theta = np.random.default_rng(0).normal(size=(3, 8))
    with pytest.raises(ValueError, match=r"did not converge.*per-instance right-hand sides"):
        lp.relax(torch.as_tensor(theta), 0.001, b_ub=np.tile(lp._data.b_ub, (3, 1)))


def test_per_row_data_need_their_matrix_and_shape():
    lp = LinearProgram(A_ub=[[1.0, 1.0]], b_ub=[1.0], bounds=(0, 1))
    theta = torch.zeros(2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"b_eq was given per instance, but .* no A_eq"):
        lp._relax(theta, 0.1, b_eq=torch.zeros(2, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"b_ub must have shape \(2, 1\)"):
        lp._relax(theta, 0.1, b_ub=torch.zeros(3, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"upper must have shape \(2, 2\)"):
        lp._relax(theta, 0.1, upper=torch.zeros(2, 3, dtype=torch.float64))


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_per_row_data_match_cpu():
    for name in ["lp-min-mixed", "shortest-path", "k-subset"]:
        lp, b_ub, b_eq, upper = per_row_data(name, 8, seed=1)
        theta = torch.as_tensor(np.random.default_rng(0).normal(size=(8, lp.n_vars)))
        results = []
        for device in ("cpu", "cuda"):
            to = lambda a: None if a is None else torch.as_tensor(a, device=device)  # noqa
            t = theta.to(device).requires_grad_()
            x = lp._relax(t, 0.1, b_ub=to(b_ub), b_eq=to(b_eq), upper=to(upper))
            assert x.device.type == device
            x.sum().backward()
            results.append((x.detach().cpu(), t.grad.cpu()))
        np.testing.assert_allclose(results[1][0], results[0][0], atol=1e-8)
        np.testing.assert_allclose(results[1][1], results[0][1], atol=1e-8)
