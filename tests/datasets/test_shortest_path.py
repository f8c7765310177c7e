"""make_shortest_path against the formula written out here and against PyEPO."""

import numpy as np
import pytest

from skdfl.datasets import make_shortest_path
from skdfl.optimizers import ShortestPath


def reference(n, p, grid, deg, noise_width, seed):
    """Elmachtoub & Grigas / PyEPO, re-implemented loop by loop."""
    h, w = grid
    n_arcs = h * (w - 1) + (h - 1) * w
    rng = np.random.RandomState(seed)
    B = rng.binomial(1, 0.5, (n_arcs, p))
    x = rng.normal(0, 1, (n, p))
    eps = rng.uniform(1 - noise_width, 1 + noise_width, (n, n_arcs))
    c = np.empty((n, n_arcs))
    for i in range(n):
        for j in range(n_arcs):
            bx = sum(B[j, q] * x[i, q] for q in range(p))
            c[i, j] = ((bx / np.sqrt(p) + 3) ** deg + 1) / 3.5 ** deg * eps[i, j]
    return x, c


@pytest.mark.parametrize("n,p,grid", [(10, 5, (5, 5)), (1, 1, (1, 2)), (7, 3, (2, 6)),
                                      (4, 8, (6, 1))])
def test_shapes(n, p, grid):
    X, C = make_shortest_path(n, n_features=p, grid=grid, random_state=0)
    assert X.shape == (n, p)
    assert C.shape == (n, ShortestPath(grid=grid).n_params)
    assert X.dtype == C.dtype == np.float64


def test_defaults():
    X, C = make_shortest_path(3, random_state=0)
    assert X.shape == (3, 5) and C.shape == (3, 40)
    X_ref, C_ref = reference(3, 5, (5, 5), 1, 0.0, 0)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_allclose(C, C_ref, rtol=1e-12)


def test_determinism():
    a = make_shortest_path(20, degree=2, noise_width=0.5, random_state=42)
    b = make_shortest_path(20, degree=2, noise_width=0.5, random_state=42)
    c = make_shortest_path(20, degree=2, noise_width=0.5, random_state=43)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[1], c[1])
    d = make_shortest_path(20, degree=2, noise_width=0.5,
                           random_state=np.random.RandomState(42))
    np.testing.assert_array_equal(a[1], d[1])
    e, f = make_shortest_path(5), make_shortest_path(5)      # None: fresh draws
    assert not np.array_equal(e[0], f[0])


@pytest.mark.parametrize("n,p,grid,deg,noise,seed", [
    (6, 5, (5, 5), 1, 0.0, 0), (6, 5, (5, 5), 4, 0.5, 1), (5, 3, (2, 4), 2, 0.25, 7),
    (3, 1, (1, 3), 6, 0.9, 135), (4, 2, (3, 1), 3, 0.99, 2),
])
def test_matches_the_formula(n, p, grid, deg, noise, seed):
    X, C = make_shortest_path(n, n_features=p, grid=grid, degree=deg, noise_width=noise,
                              random_state=seed)
    X_ref, C_ref = reference(n, p, grid, deg, noise, seed)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_allclose(C, C_ref, rtol=1e-12)


def test_costs_positive_and_noise_free_costs_are_a_function_of_x():
    X, C = make_shortest_path(50, degree=3, random_state=0)
    assert (C > 0).all()
    # no noise: two draws with the same seed but more samples share the first rows
    X2, C2 = make_shortest_path(60, degree=3, random_state=0)
    np.testing.assert_array_equal(X2[:50], X)
    np.testing.assert_array_equal(C2[:50], C)
    Xn, Cn = make_shortest_path(50, degree=3, noise_width=0.5, random_state=0)
    np.testing.assert_array_equal(Xn, X)
    ratio = Cn / C
    assert (ratio >= 0.5).all() and (ratio <= 1.5).all()


@pytest.mark.parametrize("n,p,grid,deg,noise,seed", [
    (100, 5, (5, 5), 1, 0.0, 135), (50, 5, (5, 5), 4, 0.5, 1), (30, 3, (2, 4), 2, 0.25, 7),
    (20, 2, (4, 1), 6, 0.0, 3),
])
def test_matches_pyepo(n, p, grid, deg, noise, seed):
    shortestpath = pytest.importorskip("pyepo.data.shortestpath")
    X_ref, C_ref = shortestpath.genData(n, p, grid, deg, noise, seed)
    X, C = make_shortest_path(n, n_features=p, grid=grid, degree=deg, noise_width=noise,
                              random_state=seed)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_allclose(C, C_ref, rtol=1e-6)


def test_grid_as_list():
    _, C = make_shortest_path(2, grid=[3, 4], random_state=0)
    np.testing.assert_array_equal(C, make_shortest_path(2, grid=(3, 4), random_state=0)[1])


@pytest.mark.parametrize("name,value,error", [
    ("n_samples", 0, ValueError), ("n_samples", -3, ValueError), ("n_samples", 2.5, TypeError),
    ("n_samples", True, TypeError), ("n_samples", None, TypeError),
    ("n_features", 0, ValueError), ("n_features", 1.0, TypeError),
    ("degree", 0, ValueError), ("degree", 1.5, TypeError),
    ("noise_width", -0.1, ValueError), ("noise_width", 1.5, ValueError),
    ("noise_width", np.nan, ValueError), ("noise_width", "0.1", TypeError),
    ("grid", (1, 1), ValueError), ("grid", (0, 5), ValueError), ("grid", (5,), ValueError),
    ("grid", 5, ValueError),
])
def test_parameter_validation(name, value, error):
    kwargs = dict(n_samples=5, random_state=0)
    kwargs[name] = value
    with pytest.raises(error, match=name):
        make_shortest_path(**kwargs)


# ------------------------------------------------------------ closed arcs

def has_corner_path(grid, mask):
    import networkx as nx
    h, w = grid
    graph = nx.DiGraph()
    graph.add_nodes_from(range(h * w))
    graph.add_edges_from(ShortestPath(grid=grid).arcs[mask].tolist())
    return nx.has_path(graph, 0, h * w - 1)


def reference_mask(n, grid, fraction, seed, **kwargs):
    """Rejection sampling written out row by row, after the draws of X and C."""
    n_arcs = ShortestPath(grid=grid).n_params
    rng = np.random.RandomState(seed)
    rng.binomial(1, 0.5, (n_arcs, kwargs.get("n_features", 5)))
    rng.normal(0, 1, (n, kwargs.get("n_features", 5)))
    rng.uniform(1, 1, (n, n_arcs))
    mask = rng.uniform(size=(n, n_arcs)) >= fraction
    for _ in range(100):
        blocked = [i for i in range(n) if not has_corner_path(grid, mask[i])]
        if not blocked:
            return mask
        mask[blocked] = rng.uniform(size=(len(blocked), n_arcs)) >= fraction
    raise AssertionError("the reference needs more redraws")


def test_default_outputs_and_draws_unchanged_by_closed_arcs():
    assert len(make_shortest_path(5, random_state=0)) == 2
    assert len(make_shortest_path(5, random_state=0, closed_arc_fraction=0.0)) == 2
    X, C = make_shortest_path(30, degree=2, noise_width=0.3, random_state=4)
    X2, C2, mask = make_shortest_path(30, degree=2, noise_width=0.3, random_state=4,
                                      closed_arc_fraction=0.3)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(C2, C)
    assert mask.shape == C.shape and mask.dtype == bool


@pytest.mark.parametrize("grid,fraction,seed", [((5, 5), 0.2, 0), ((3, 4), 0.4, 1),
                                                ((5, 5), 0.05, 7), ((2, 6), 0.3, 3)])
def test_closed_arcs_are_rejection_sampled(grid, fraction, seed):
    _, _, mask = make_shortest_path(40, grid=grid, random_state=seed,
                                    closed_arc_fraction=fraction)
    np.testing.assert_array_equal(mask, reference_mask(40, grid, fraction, seed))


@pytest.mark.parametrize("fraction", [0.6, 0.9, 0.99])
def test_every_row_keeps_a_path_even_when_most_arcs_close(fraction):
    grid = (4, 5)
    _, C, mask = make_shortest_path(60, grid=grid, random_state=2,
                                    closed_arc_fraction=fraction)
    assert all(has_corner_path(grid, row) for row in mask)
    assert (~mask).any()
    x = ShortestPath(grid=grid).solve(C, arc_mask=mask)
    assert not x[~mask].any()


def test_closed_fraction_close_to_the_probability():
    _, _, mask = make_shortest_path(4000, grid=(8, 8), random_state=0,
                                    closed_arc_fraction=0.02)
    # conditioning on a path barely matters at 2%: within a few standard errors
    assert abs((~mask).mean() - 0.02) < 4 * np.sqrt(0.02 * 0.98 / mask.size)


@pytest.mark.parametrize("value,error", [(-0.1, ValueError), (1.0, ValueError),
                                         (1.5, ValueError), (np.nan, ValueError),
                                         ("0.1", TypeError), (True, TypeError)])
def test_bad_closed_arc_fraction(value, error):
    with pytest.raises(error, match="closed_arc_fraction"):
        make_shortest_path(5, random_state=0, closed_arc_fraction=value)
