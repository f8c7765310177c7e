"""The Optimizer protocol: input kinds, shapes, objective, feasibility (hypothesis)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skdfl.optimizers import (CoverageMaximizer, KSubset, LinearProgram, Optimizer,
                              ShortestPath)

from .test_shortest_path import CYCLIC, assert_is_path

SETTINGS = settings(max_examples=60, deadline=None)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
nonneg = st.floats(0.0, 1e3, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def grid_instances(draw, elements=finite):
    h, w = draw(st.sampled_from([(1, 2), (2, 1), (2, 2), (1, 5), (4, 1), (3, 3), (3, 5),
                                 (5, 5)]))
    sp = ShortestPath(grid=(h, w))
    theta = draw(arrays(np.float64, (draw(st.integers(1, 4)), sp.n_params), elements=elements))
    return sp, theta


@st.composite
def k_subset_instances(draw):
    n = draw(st.integers(1, 8))
    k = draw(st.integers(1, n))
    n_items = draw(st.sampled_from([None, n]))
    theta = draw(arrays(np.float64, (draw(st.integers(1, 4)), n), elements=finite))
    return KSubset(k=k, n_items=n_items), theta


def as_kind(theta, kind):
    """numpy / torch (float64 or float32), 2-D or 1-D (first row)."""
    array_kind, ndim = kind
    if ndim == 1:
        theta = theta[0]
    if array_kind == "numpy":
        return theta
    return torch.as_tensor(theta, dtype=torch.float64 if array_kind == "torch64"
                           else torch.float32)


KINDS = st.tuples(st.sampled_from(["numpy", "torch64", "torch32"]), st.sampled_from([1, 2]))


@SETTINGS
@given(instance=st.one_of(grid_instances(), k_subset_instances()), kind=KINDS)
def test_solve_and_objective_return_the_input_kind(instance, kind):
    opt, theta = instance
    theta = as_kind(theta, kind)
    x = opt.solve(theta)
    value = opt.objective(x, theta)
    if kind[0] == "numpy":
        assert isinstance(x, np.ndarray) and isinstance(value, np.ndarray)
        assert x.dtype == np.float64
    else:
        assert isinstance(x, torch.Tensor) and isinstance(value, torch.Tensor)
        assert x.dtype == theta.dtype and x.device == theta.device
    assert tuple(x.shape) == tuple(theta.shape)
    assert tuple(value.shape) == tuple(theta.shape[:-1])          # (B,) or ()
    expected = (np.asarray(x, dtype=np.float64) * np.asarray(theta, dtype=np.float64)).sum(-1)
    np.testing.assert_allclose(np.asarray(value, dtype=np.float64), expected,
                               rtol=1e-5 if kind[0] == "torch32" else 1e-12, atol=1e-3)


@SETTINGS
@given(instance=grid_instances())
def test_grid_decisions_are_paths_and_beat_every_other_path(instance):
    sp, theta = instance
    h, w = sp.grid
    x = sp.solve(theta)
    for row in x:
        assert_is_path(row, sp.arcs, 0, h * w - 1)
    # the decision is at least as good as the decision taken for any other row
    values = sp.objective(x, theta)
    for other in x:
        assert (values <= sp.objective(np.tile(other, (len(x), 1)), theta) + 1e-9).all()


@SETTINGS
@given(theta=arrays(np.float64, (3, 4), elements=nonneg))
def test_cyclic_decisions_are_paths(theta):
    sp = ShortestPath(**CYCLIC)
    for row in sp.solve(theta):
        assert_is_path(row, sp.arcs, CYCLIC["source"], CYCLIC["target"])


@SETTINGS
@given(instance=k_subset_instances())
def test_k_subset_decisions_are_feasible_and_optimal(instance):
    opt, theta = instance
    x = opt.solve(theta)
    assert np.isin(x, (0.0, 1.0)).all()
    np.testing.assert_array_equal(x.sum(-1), opt.k)
    # the chosen items are the k largest: the k-th largest chosen >= any unchosen
    for row, t in zip(x, theta):
        if row.sum() < len(row):
            assert t[row == 1].min() >= t[row == 0].max()


@SETTINGS
@given(instance=st.one_of(grid_instances(), k_subset_instances()))
def test_solve_does_not_mutate_input(instance):
    opt, theta = instance
    before = theta.copy()
    tensor = torch.as_tensor(theta.copy())
    opt.solve(theta)
    opt.solve(tensor)
    np.testing.assert_array_equal(theta, before)
    np.testing.assert_array_equal(tensor.numpy(), before)


def test_integer_and_list_inputs_become_float():
    opt = KSubset(k=1)
    np.testing.assert_array_equal(opt.solve([[1, 3, 2]]), [[0.0, 1.0, 0.0]])
    x = opt.solve(torch.tensor([1, 3, 2]))
    assert x.dtype == torch.float64
    assert opt.solve(np.array([True, False, True])).sum() == 1


def test_objective_shape_mismatch_names_x_and_theta():
    opt = KSubset(k=1)
    with pytest.raises(ValueError, match="x and theta"):
        opt.objective(np.ones((2, 3)), np.ones((3, 3)))
    sp = ShortestPath(grid=(2, 2))
    with pytest.raises(ValueError, match="x must have 4 columns"):
        sp.objective(np.ones((2, 3)), np.ones((2, 4)))


def test_objective_of_mixed_kinds_follows_theta():
    opt = KSubset(k=1)
    value = opt.objective(torch.tensor([[0.0, 1.0]]), np.array([[2.0, 5.0]]))
    assert isinstance(value, np.ndarray) and value.tolist() == [5.0]
    value = opt.objective(np.array([[0.0, 1.0]]), torch.tensor([[2.0, 5.0]]))
    assert isinstance(value, torch.Tensor) and value.tolist() == [5.0]


def test_base_class_is_abstract():
    class Incomplete(Optimizer):
        pass

    with pytest.raises(NotImplementedError):
        Incomplete().n_params
    with pytest.raises(NotImplementedError):
        Incomplete().n_vars
    assert Incomplete().sign == 1.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_k_subset_cuda_matches_cpu():
    theta = torch.randn(16, 7, generator=torch.Generator().manual_seed(0))
    opt = KSubset(k=3)
    x = opt.solve(theta.cuda())
    assert x.is_cuda
    torch.testing.assert_close(x.cpu(), opt.solve(theta), rtol=0, atol=0)
    value = opt.objective(x, theta.cuda())
    assert value.is_cuda
    torch.testing.assert_close(value.cpu(), opt.objective(opt.solve(theta), theta))


@pytest.mark.parametrize("make", [
    lambda: (CoverageMaximizer(k=2, n_items=6, n_targets=4), 24),
    lambda: (LinearProgram.bipartite_matching(3, 3), 9),
])
def test_an_optimizer_first_used_under_inference_mode_still_differentiates(make):
    # Its cached tensors (weights, polytope) are built on first use: under a caller's
    # torch.inference_mode they must still be ordinary tensors, which autograd can save.
    (used, width), (fresh, _) = make(), make()
    rng = np.random.default_rng(0)
    theta = torch.as_tensor(rng.uniform(0.1, 0.9, size=(3, width)))
    direction = torch.as_tensor(rng.normal(size=(3, used.n_vars)))
    with torch.inference_mode():
        used.relax(theta, 0.5)
    grads = []
    for opt in (used, fresh):
        leaf = theta.clone().requires_grad_(True)
        (opt.relax(leaf, 0.5) * direction).sum().backward()
        grads.append(leaf.grad)
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1])
