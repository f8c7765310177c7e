"""Wilder et al.'s matching instances cut from the Cora citation network."""

from importlib import resources

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from skdfl.datasets import load_cora_matching
from skdfl.optimizers import LinearProgram


@pytest.fixture(scope="module")
def cora():
    return load_cora_matching(pair_features="concatenate")


@pytest.fixture(scope="module")
def citations():
    """The citation links read straight from the shipped file, as a set of paper pairs."""
    path = resources.files("skdfl.datasets") / "data" / "cora.npz"
    with resources.as_file(path) as p, np.load(p) as raw:
        indptr, indices = raw["adj_indptr"], raw["adj_indices"]
    citing = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    return {frozenset(pair) for pair in zip(citing.tolist(), indices.tolist())}


def test_shapes_and_layout(cora):
    assert cora.data.shape == (27, 2500 * 100) and cora.target.shape == (27, 2500)
    assert cora.data.dtype == np.float64 and cora.target.dtype == np.int64
    assert set(np.unique(cora.target)) == {0, 1}
    assert cora.left.shape == cora.right.shape == (27, 50)
    assert cora.paper_ids.shape == (27, 100)
    assert cora.optimizer.n_params == 2500
    assert "cora.LICENSE" in cora.DESCR and "Sen et al." in cora.DESCR
    # pair (i, j) holds left paper i's vector, then right paper j's
    pairs = cora.data.reshape(27, 50, 50, 2, 50)
    np.testing.assert_array_equal(pairs[:, :, :, 0], np.broadcast_to(
        pairs[:, :, :1, 0], pairs[:, :, :, 0].shape))
    np.testing.assert_array_equal(pairs[:, :, :, 1], np.broadcast_to(
        pairs[:, :1, :, 1], pairs[:, :, :, 1].shape))
    # the same paper has the same vector wherever it appears
    left_vectors = pairs[:, :, 0, 0].reshape(-1, 50)
    first = {}
    for paper, vector in zip(cora.left.ravel().tolist(), left_vectors):
        np.testing.assert_array_equal(first.setdefault(paper, vector), vector)


def test_instances_are_disjoint_papers_and_targets_are_the_citations(cora, citations):
    papers = np.concatenate([cora.left, cora.right], axis=1)
    assert len(np.unique(papers)) == 27 * 100           # no paper in two places
    rows = np.random.RandomState(0).choice(27, 4, replace=False)
    for r in rows:
        expected = [[int(frozenset((a, b)) in citations) for b in cora.right[r]]
                    for a in cora.left[r]]
        np.testing.assert_array_equal(cora.target[r].reshape(50, 50), expected)


def test_parts_keep_links_inside_and_sides_maximize_links_across(cora, citations):
    papers = np.concatenate([cora.left, cora.right], axis=1)
    inside = [sum(frozenset(pair) in citations for pair in
                  ((a, b) for i, a in enumerate(p) for b in p[i + 1:])) for p in papers.tolist()]
    across = cora.target.sum(1)
    assert sum(inside) > 0.7 * len(citations)            # a random cut keeps ~4%
    # a random balanced split puts about half of the links across
    assert (across >= 0.7 * np.array(inside)).all()


def test_matching_value_of_the_true_links_is_the_maximum_matching(cora):
    """The optimizer's value at its solve equals scipy's maximum matching."""
    lp = cora.optimizer
    values = lp.objective(lp.solve(cora.target), cora.target)
    for r in range(len(cora.target)):
        links = cora.target[r].reshape(50, 50)
        i, j = linear_sum_assignment(links, maximize=True)
        assert values[r] == links[i, j].sum()
    assert values.min() > 0


def test_deterministic_and_a_prefix_of_the_full_set(cora):
    small = load_cora_matching(n_instances=2, pair_features="concatenate")
    np.testing.assert_array_equal(small.data, cora.data[:2])
    np.testing.assert_array_equal(small.target, cora.target[:2])
    np.testing.assert_array_equal(small.paper_ids, cora.paper_ids[:2])
    X, y = load_cora_matching(n_instances=2, pair_features="concatenate", return_X_y=True)
    np.testing.assert_array_equal(X, small.data)
    np.testing.assert_array_equal(y, small.target)


@pytest.mark.parametrize("pair_features, width", [("product", 4), ("both", 12), (None, 12)])
def test_pair_features_and_small_instances(pair_features, width):
    # None: the default, both
    options = {} if pair_features is None else {"pair_features": pair_features}
    data = load_cora_matching(n_instances=3, n_nodes=10, n_components=4, **options)
    assert data.data.shape == (3, 25 * width) and data.target.shape == (3, 25)
    pairs = data.data.reshape(3, 5, 5, width)
    concatenated = load_cora_matching(n_instances=3, n_nodes=10, n_components=4,
                                      pair_features="concatenate")
    ab = concatenated.data.reshape(3, 5, 5, 8)
    np.testing.assert_allclose(pairs[..., -4:], ab[..., :4] * ab[..., 4:])
    assert LinearProgram.bipartite_matching(5, 5).n_params == data.target.shape[1]


def test_raw_words_are_the_binary_vectors():
    data = load_cora_matching(n_instances=2, n_nodes=4, n_components=None,
                              pair_features="concatenate")
    assert data.data.shape == (2, 4 * 2 * 1433)
    assert set(np.unique(data.data)) == {0.0, 1.0}


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_nodes=9), "n_nodes must be even"),
    (dict(n_nodes=0), "n_nodes must be >= 2"),
    (dict(n_instances=28), "n_instances must be <= 27"),
    (dict(n_instances=0), "n_instances must be >= 1"),
    (dict(n_components=1433), "n_components must be <= 1432"),
    (dict(pair_features="sum"), "pair_features must be one of"),
    (dict(random_state=-1), "random_state must be >= 0"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        load_cora_matching(**kwargs)


def test_licence_attribution_and_package_data_ship_with_the_data():
    import fnmatch
    import pathlib
    import tomllib

    data = resources.files("skdfl.datasets") / "data"
    licence = (data / "cora.LICENSE").read_text()
    assert "MIT License" in licence and "Shchur" in licence
    assert "LINQS" not in licence and "2708 papers" in (data / "cora.LINQS_README.txt").read_text()
    description = (data / "cora.rst").read_text()
    assert "cora.LICENSE" in description and "cora.LINQS_README.txt" in description
    pyproject = pathlib.Path(__file__).parents[2] / "pyproject.toml"
    patterns = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"][
        "skdfl.datasets"]
    for name in ("cora.npz", "cora.LICENSE", "cora.LINQS_README.txt", "cora.rst"):
        assert any(fnmatch.fnmatch(f"data/{name}", p) for p in patterns), name
