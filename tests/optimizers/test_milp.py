"""MixedIntegerProgram against enumeration of the integer points of small boxes.

Both HiGHS front ends run every oracle test (``backend`` fixture): highspy with
one model per thread, and scipy.optimize.milp, the fallback.
"""

import itertools
import pickle
import threading

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone

from skdfl.optimizers import LinearProgram, MixedIntegerProgram
from skdfl.optimizers import _milp_solve

PROPERTY = settings(max_examples=60, deadline=None)


@pytest.fixture(params=["highspy", "scipy"])
def backend(request, monkeypatch):
    if request.param == "scipy":
        monkeypatch.setattr(_milp_solve, "highspy", None)
    elif _milp_solve.highspy is None:
        pytest.skip("highspy is not installed")
    return request.param


def brute_force(mip, theta, b_ub=None, b_eq=None):
    """Best objective over every integer point of the (integer, bounded) box; None if none."""
    data = mip._data
    b_ub = data.b_ub if b_ub is None else b_ub
    b_eq = data.b_eq if b_eq is None else b_eq
    D = np.eye(data.structure.n) if data.D is None else data.D.toarray()
    grid = itertools.product(*[range(int(a), int(b) + 1) for a, b in zip(data.lo, data.hi)])
    points = np.array(list(grid), dtype=np.float64)
    ok = np.ones(len(points), dtype=bool)
    if data.A_ub is not None:
        ok &= (points @ _dense(data.A_ub).T <= b_ub + 1e-9).all(1)
    if data.A_eq is not None:
        ok &= (np.abs(points @ _dense(data.A_eq).T - b_eq) <= 1e-9).all(1)
    if not ok.any():
        return None
    values = (points[ok] @ D.T) @ theta
    return values.max() if mip.sense == "maximize" else values.min()


def _dense(A):
    return A.toarray() if sp.issparse(A) else A


def assert_feasible(mip, v, b_ub=None, b_eq=None, tol=1e-7):
    data = mip._data
    b_ub = data.b_ub if b_ub is None else b_ub
    b_eq = data.b_eq if b_eq is None else b_eq
    assert (v >= data.lo - tol).all() and (v <= data.hi + tol).all()
    if data.A_ub is not None:
        assert (_dense(data.A_ub) @ v <= b_ub + tol).all()
    if data.A_eq is not None:
        np.testing.assert_allclose(_dense(data.A_eq) @ v, b_eq, atol=tol)


@st.composite
def integer_programs(draw, decision_map=False):
    """A pure integer program in a small box, with integer rows (ties are common)."""
    n = draw(st.integers(1, 4))
    lo = draw(arrays(np.int64, n, elements=st.integers(-2, 0)))
    hi = lo + draw(arrays(np.int64, n, elements=st.integers(0, 2)))
    coef = st.sampled_from([-2.0, -1.0, 0.0, 1.0, 3.0])
    m_ub, m_eq = draw(st.integers(0, 3)), draw(st.integers(0, 1))
    A_ub = draw(arrays(np.float64, (m_ub, n), elements=coef)) if m_ub else None
    A_eq = draw(arrays(np.float64, (m_eq, n), elements=coef)) if m_eq else None
    rhs = st.sampled_from([-2.0, -1.0, 0.0, 1.0, 2.5, 4.0])
    D = None
    if decision_map:
        n_params = draw(st.integers(1, 3))
        D = draw(arrays(np.float64, (n_params, n), elements=st.sampled_from([0.0, 1.0, -1.0])))
    return MixedIntegerProgram(
        A_ub=A_ub, b_ub=None if A_ub is None else draw(arrays(np.float64, m_ub, elements=rhs)),
        A_eq=A_eq, b_eq=None if A_eq is None else draw(arrays(np.float64, m_eq, elements=rhs)),
        bounds=[(int(a), int(b)) for a, b in zip(lo, hi)], decision_map=D, mip_rel_gap=0,
        sense=draw(st.sampled_from(["maximize", "minimize"])))


def thetas(n_rows, width):
    grid = arrays(np.float64, (n_rows, width), elements=st.sampled_from([-1.0, 0.0, 1.0, 2.5]))
    free = arrays(np.float64, (n_rows, width), elements=st.floats(-3, 3, width=32))
    return st.one_of(grid, free)


def check_against_brute_force(mip, theta):
    best = [brute_force(mip, row) for row in theta]
    if any(b is None for b in best):
        with pytest.raises(ValueError, match="instance .* has no solution|no solution for"):
            mip.solve(theta)
        return
    x = mip.solve(theta)
    assert x.shape == (len(theta), mip.n_vars)
    np.testing.assert_allclose(mip.objective(x, theta), best, rtol=1e-9, atol=1e-9)


@PROPERTY
@given(st.data())
def test_integer_programs_match_brute_force(data):
    mip = data.draw(integer_programs())
    check_against_brute_force(mip, data.draw(thetas(data.draw(st.integers(1, 3)), mip.n_params)))


@PROPERTY
@given(st.data())
def test_decision_maps_match_brute_force(data):
    mip = data.draw(integer_programs(decision_map=True))
    check_against_brute_force(mip, data.draw(thetas(data.draw(st.integers(1, 3)), mip.n_params)))


@PROPERTY
@given(st.data())
def test_per_instance_rhs_equals_each_row_alone(data):
    mip = data.draw(integer_programs(decision_map=data.draw(st.booleans())))
    d = mip._data
    n_rows = data.draw(st.integers(1, 3))
    theta = data.draw(thetas(n_rows, mip.n_params))
    rhs = st.sampled_from([-1.0, 0.0, 1.0, 2.0, 3.5])
    params = {}
    if d.A_ub is not None:
        params["b_ub"] = data.draw(arrays(np.float64, (n_rows, len(d.b_ub)), elements=rhs))
    if d.A_eq is not None:
        params["b_eq"] = data.draw(arrays(np.float64, (n_rows, len(d.b_eq)), elements=rhs))
    alone = []
    for i in range(n_rows):
        row = clone(mip).set_params(**{k: v[i] for k, v in params.items()})
        try:
            alone.append(row.solve(theta[i:i + 1])[0])
        except ValueError:
            alone.append(None)
    if any(a is None for a in alone):
        first = next(i for i, a in enumerate(alone) if a is None)
        with pytest.raises(ValueError, match=f"instance {first} "):
            mip.solve(theta, **params)
        return
    x = mip.solve(theta, **params)
    np.testing.assert_array_equal(x, np.array(alone))


def test_knapsack_and_mixed_variables(backend):
    # Two items (integer) and a continuous filler at price 1 per unit of room.
    weights = np.array([[2.0, 3.0, 1.0]])
    mip = MixedIntegerProgram(A_ub=weights, b_ub=[4.0], bounds=[(0, 1), (0, 1), (0, None)],
                              integrality=[1, 1, 0])
    x = mip.solve(np.array([[3.0, 4.5, 1.0], [3.0, 2.0, 1.0]]))
    np.testing.assert_allclose(x, [[0.0, 1.0, 1.0], [1.0, 0.0, 2.0]])
    assert mip.solve(np.array([[3.0, 4.5, 1.0]]), b_ub=[[1.5]]).tolist() == [[0.0, 0.0, 1.5]]


def test_constructor_rhs_returns_after_per_instance_rhs(backend):
    # One thread's model took this batch's right-hand sides; the next solve without
    # them is back on the constructor's.
    W, theta, capacity = _batch(4)
    mip = MixedIntegerProgram(A_ub=W, b_ub=[20.0, 20.0])
    before = mip.solve(theta)
    assert not np.array_equal(mip.solve(theta, b_ub=capacity), before)
    np.testing.assert_array_equal(mip.solve(theta), before)


def test_integer_variables_come_back_whole_and_without_negative_zeros(backend):
    mip = MixedIntegerProgram(A_ub=[[3.0, 2.0, 1.0]], b_ub=[4.0], bounds=(-1, 3))
    x = mip.solve(np.array([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]))
    np.testing.assert_array_equal(x, np.round(x))
    assert not np.signbit(x[x == 0]).any()


def test_torch_in_torch_out_on_the_same_dtype():
    mip = MixedIntegerProgram(A_ub=[[1.0, 1.0, 1.0]], b_ub=[2.0])
    x = mip.solve(torch.tensor([[1.0, -1.0, 2.0]], dtype=torch.float32))
    assert x.dtype == torch.float32 and x.tolist() == [[1.0, 0.0, 1.0]]
    assert mip.objective(x, torch.tensor([[1.0, -1.0, 2.0]])).tolist() == [3.0]


# ------------------------------------------------------------ decision_map

@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_decision_map_shapes_and_values(kind, backend):
    # Start a 2-period task in one of 3 periods; the decision is the load per period.
    D = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=float)
    mip = MixedIntegerProgram(A_eq=[[1, 1, 1]], b_eq=[1],
                              decision_map=sp.csr_array(D) if kind == "sparse" else D,
                              sense="minimize")
    assert (mip.n_params, mip.n_vars, mip.n_variables) == (4, 4, 3)
    prices = np.array([[5.0, 1.0, 2.0, 9.0], [1.0, 1.0, 9.0, 9.0], [9.0, 9.0, 1.0, 0.0]])
    x = mip.solve(prices)
    assert x.shape == (3, 4)
    np.testing.assert_array_equal(x, [[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]])
    np.testing.assert_array_equal(mip.objective(x, prices), [3.0, 2.0, 1.0])
    assert mip.lp_form() is None
    with pytest.raises(ValueError, match="4 columns"):
        mip.solve(np.ones((1, 3)))


def test_identity_decision_map_is_no_map():
    mip = MixedIntegerProgram(A_ub=[[1.0, 1.0]], b_ub=[1.0], decision_map=sp.eye_array(2))
    assert mip._data.D is None and isinstance(mip.lp_form(), LinearProgram)
    assert mip.solve([[1.0, 2.0]]).tolist() == [[0.0, 1.0]]


def test_sizes_must_agree():
    with pytest.raises(ValueError, match="A_ub has 2, decision_map has 3"):
        MixedIntegerProgram(A_ub=[[1.0, 1.0]], b_ub=[1.0], decision_map=np.ones((2, 3))).n_params
    with pytest.raises(ValueError, match="integrality has 3"):
        MixedIntegerProgram(A_ub=[[1.0, 1.0]], b_ub=[1.0], integrality=[1, 0, 1]).n_params
    with pytest.raises(ValueError, match="number of variables"):
        MixedIntegerProgram().n_params
    # Sizes may come from the bounds, the integrality or the decision map alone.
    assert MixedIntegerProgram(bounds=[(0, 1)] * 3).n_params == 3
    assert MixedIntegerProgram(integrality=[1, 0]).n_variables == 2
    assert MixedIntegerProgram(decision_map=np.ones((1, 5))).n_variables == 5


# ------------------------------------------------------------ parallel

def _batch(n_instances=24, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.integers(2, 9, size=(2, 10)).astype(float)
    theta = rng.integers(1, 6, size=(n_instances, 10)).astype(float)   # many ties
    capacity = rng.integers(5, 25, size=(n_instances, 2)).astype(float)
    return W, theta, capacity


def test_n_jobs_2_equals_sequential(backend):
    W, theta, capacity = _batch()
    sequential = MixedIntegerProgram(A_ub=W, b_ub=[20.0, 20.0])
    parallel = clone(sequential).set_params(n_jobs=2)
    np.testing.assert_array_equal(parallel.solve(theta), sequential.solve(theta))
    np.testing.assert_array_equal(parallel.solve(theta, b_ub=capacity),
                                  sequential.solve(theta, b_ub=capacity))
    # Rows solved after others (in one thread's model) equal rows solved first.
    reverse = theta[::-1].copy()
    np.testing.assert_array_equal(sequential.solve(reverse), sequential.solve(theta)[::-1])


_SOLVE_CHUNK = _milp_solve._solve_chunk
_CHUNK_THREADS = []


def _recording_chunk(*args):
    _CHUNK_THREADS.append(threading.current_thread().name)
    return _SOLVE_CHUNK(*args)


def test_a_dask_cluster_takes_the_solves(monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    joblib = pytest.importorskip("joblib")
    W, theta, capacity = _batch(8)
    mip = MixedIntegerProgram(A_ub=W, b_ub=[20.0, 20.0])
    expected = mip.solve(theta, b_ub=capacity)
    monkeypatch.setattr(_milp_solve, "_solve_chunk", _recording_chunk)
    _CHUNK_THREADS.clear()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            x = mip.solve(theta, b_ub=capacity)
    np.testing.assert_array_equal(x, expected)
    # The chunks (a few per worker thread of the cluster) ran in dask's threads.
    assert len(_CHUNK_THREADS) > 1 and all("Dask" in name for name in _CHUNK_THREADS)


def test_errors_name_the_first_failing_instance(backend):
    W, theta, capacity = _batch(6)
    capacity[[2, 4]] = -1.0                        # nothing fits below a negative capacity
    mip = MixedIntegerProgram(A_ub=W, b_ub=[20.0, 20.0], n_jobs=2)
    with pytest.raises(ValueError, match=r"instance 2 \(row 2 of theta\).*admit no point.*"
                                         r"Infeasible.*2 of 6"):
        mip.solve(theta, b_ub=capacity)
    unbounded = MixedIntegerProgram(A_ub=[[1.0, -1.0]], b_ub=[1.0], bounds=(0, None))
    with pytest.raises(ValueError, match="instance 1 .*nbounded"):
        unbounded.solve(np.array([[-1.0, -1.0], [1.0, 1.0]]))


def test_time_limit(backend):
    rng = np.random.default_rng(0)
    # A market split instance: finding any feasible point is hard.
    A = rng.integers(0, 100, size=(3, 30)).astype(float)
    split = MixedIntegerProgram(A_eq=A, b_eq=np.floor(A.sum(1) / 2), time_limit=1e-3)
    with pytest.raises(ValueError, match="instance 0 .*time_limit=0.001.*limit"):
        split.solve(rng.normal(size=(1, 30)))
    # A correlated knapsack: a feasible point comes at once, optimality takes seconds;
    # the best point found is returned, feasible, below the LP bound.
    W = rng.integers(20, 60, size=(3, 60)).astype(float)
    values = (W.sum(0) + rng.integers(0, 10, 60))[None]
    mip = MixedIntegerProgram(A_ub=W, b_ub=W.sum(1) / 2, time_limit=0.02)
    x = mip.solve(values)
    assert_feasible(mip, x[0])
    np.testing.assert_array_equal(x, np.round(x))
    bound = mip.lp_form().objective(mip.lp_form().solve(values), values)
    assert 0 < mip.objective(x, values)[0] <= bound[0]


# ------------------------------------------------------------ relaxation

def test_lp_form_is_the_lp_relaxation():
    mip = MixedIntegerProgram(A_ub=[[2.0, 3.0, 4.0]], b_ub=[5.0], bounds=(0, 2),
                              integrality=[1, 0, 1], sense="minimize")
    lp = mip.lp_form()
    assert isinstance(lp, LinearProgram) and lp.sense == "minimize"
    theta = torch.tensor([[-1.0, -2.0, 0.5]], dtype=torch.float64)
    np.testing.assert_allclose(mip.relax(theta, 0.3).numpy(), lp.relax(theta, 0.3).numpy())


def test_relaxation_through_a_decision_map_matches_finite_differences():
    D = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=float)
    mip = MixedIntegerProgram(A_eq=[[1, 1, 1]], b_eq=[1], decision_map=D, sense="minimize")
    simplex = LinearProgram(A_eq=[[1, 1, 1]], b_eq=[1], bounds=(0, 1), sense="minimize")
    theta = torch.tensor([[1.0, 0.4, 0.7, 2.0], [0.3, 0.2, 0.9, 0.1]], dtype=torch.float64,
                         requires_grad=True)
    x = mip.relax(theta, gamma=0.5)
    # v* minimizes (D' theta) @ v + gamma ||v||^2 over the simplex; x = D v*.
    v = simplex.relax(theta.detach() @ torch.as_tensor(D), 0.5)
    np.testing.assert_allclose(x.detach().numpy(), v.numpy() @ D.T, atol=1e-9)
    assert torch.autograd.gradcheck(lambda t: mip.relax(t, gamma=0.5), (theta,), eps=1e-6,
                                    atol=1e-6)
    assert mip.relax(theta.float(), 0.5).dtype == torch.float32


def test_relaxation_method_accepts_any_integer_program():
    from skdfl.methods import Relaxation

    D = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=float)
    mip = MixedIntegerProgram(A_eq=[[1, 1, 1]], b_eq=[1], decision_map=D, sense="minimize")
    theta_hat = torch.tensor([[1.0, 0.4, 0.7, 2.0]], requires_grad=True)
    x = Relaxation(mip, gamma=0.5)(theta_hat)
    (x * torch.tensor([[1.0, 2.0, 3.0, 4.0]])).sum().backward()
    assert theta_hat.grad is not None and torch.isfinite(theta_hat.grad).all()


def test_relaxation_takes_per_instance_rhs():
    import inspect

    if "b_ub" not in inspect.signature(LinearProgram._relax).parameters:
        pytest.skip("LinearProgram._relax takes no per-instance right-hand sides yet")
    mip = MixedIntegerProgram(A_ub=[[1.0, 1.0, 1.0]], b_ub=[1.0])
    theta = torch.tensor([[1.0, 1.2, 0.2], [1.0, 1.2, 0.2]], dtype=torch.float64)
    x = mip.relax(theta, 0.5, b_ub=[[1.0], [2.0]])
    for row, b in zip(x, (1.0, 2.0)):
        lp = clone(mip).set_params(b_ub=[b]).lp_form()
        np.testing.assert_allclose(row.numpy(), lp.relax(theta[:1], 0.5)[0].numpy(), atol=1e-8)


# ------------------------------------------------------------ estimator-facing behaviour

def test_pickle_and_clone_after_solving(backend):
    W, theta, capacity = _batch(5)
    mip = MixedIntegerProgram(A_ub=sp.csr_array(W), b_ub=[20.0, 20.0], n_jobs=2,
                              decision_map=np.hstack([np.eye(10), np.eye(10)[:, :0]]))
    expected = mip.solve(theta, b_ub=capacity)
    assert "_cache" in mip.__dict__
    again = pickle.loads(pickle.dumps(mip))
    assert "_cache" not in again.__dict__
    np.testing.assert_array_equal(again.solve(theta, b_ub=capacity), expected)
    np.testing.assert_array_equal(clone(mip).solve(theta, b_ub=capacity), expected)
    # set_params drops the derived structure.
    mip.set_params(b_ub=[0.0, 0.0])
    assert not mip.solve(theta).any()


def test_protocol_flags():
    mip = MixedIntegerProgram(A_ub=[[1.0, 1.0]], b_ub=[1.0])
    assert mip.is_linear and mip.any_sign and mip.sense == "maximize"
    assert mip.instance_params == ("b_ub", "b_eq")


@pytest.mark.parametrize("kwargs, match", [
    (dict(integrality=2), "0 .continuous. or 1 .integer.; got 2"),
    (dict(integrality=[1, 0.5]), "got 0.5 for variable 1"),
    (dict(integrality=[[1, 1]]), "integrality must be 0 or 1"),
    (dict(integrality="yes"), "integrality must be 0 or 1"),
    (dict(n_jobs=0), "n_jobs must be"),
    (dict(n_jobs=1.5), "n_jobs must be"),
    (dict(time_limit=0), "time_limit"),
    (dict(mip_rel_gap=-1), "mip_rel_gap"),
    (dict(sense="max"), "sense must be one of"),
    (dict(decision_map=[[np.nan, 1.0]]), "decision_map must contain only finite"),
    (dict(b_ub=[1.0, 2.0]), r"b_ub must have shape \(1,\)"),
])
def test_bad_arguments(kwargs, match):
    args = dict(A_ub=[[1.0, 1.0]], b_ub=[1.0], **kwargs) if "b_ub" not in kwargs else dict(
        A_ub=[[1.0, 1.0]], **kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        MixedIntegerProgram(**args).solve([[1.0, 1.0]])


def test_bad_per_instance_rhs():
    mip = MixedIntegerProgram(A_ub=[[1.0, 1.0]], b_ub=[1.0])
    theta = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"b_ub must have shape \(3, 1\)"):
        mip.solve(theta, b_ub=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="b_ub must be finite; got nan in row 1"):
        mip.solve(theta, b_ub=[[1.0], [np.nan], [1.0]])
    with pytest.raises(ValueError, match="b_eq was given per instance but .* no A_eq"):
        mip.solve(theta, b_eq=np.ones((3, 1)))
    with pytest.raises(ValueError, match="'capacity' is not a per-instance parameter"):
        mip.solve(theta, capacity=[1, 2, 3])
