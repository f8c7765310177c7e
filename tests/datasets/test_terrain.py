"""make_terrain_shortest_path: shapes, determinism, optimal paths, images that show the tiles."""

import numpy as np
import pytest

from skdfl.datasets import make_terrain_shortest_path
from skdfl.optimizers import ShortestPath

from ..optimizers.test_cell_paths import assert_is_cheapest_path


@pytest.fixture(scope="module")
def maps():
    return make_terrain_shortest_path(40, grid=12, random_state=0)


def test_shapes_dtypes_and_layout(maps):
    n, k, g = 40, 8, 12
    assert maps.images.shape == (n, 3, g * k, g * k) and maps.images.dtype == np.float32
    assert maps.data.shape == (n, 3 * g * k * g * k) and maps.data.dtype == np.float32
    np.testing.assert_array_equal(maps.data, maps.images.reshape(n, -1))
    assert maps.images.min() >= 0.0 and maps.images.max() <= 1.0
    assert maps.target.shape == (n, g * g) and maps.paths.shape == (n, g * g)
    assert maps.tiles.shape == (n, g, g)
    assert set(np.unique(maps.paths)) <= {0.0, 1.0}
    assert list(maps.tile_names) == ["road", "grass", "forest", "water", "mountain"]
    np.testing.assert_array_equal(maps.tile_costs, [0.8, 1.2, 3.5, 7.7, 9.2])
    sp = maps.optimizer
    assert isinstance(sp, ShortestPath)
    assert sp.get_params()["costs"] == "cells" and sp.get_params()["moves"] == 8
    assert sp.n_params == g * g


def test_costs_are_the_tiles_costs(maps):
    np.testing.assert_array_equal(maps.target, maps.tile_costs[maps.tiles].reshape(40, -1))


def test_every_tile_type_appears_in_blobs_and_every_map_has_a_road(maps):
    shares = np.bincount(maps.tiles.ravel(), minlength=5) / maps.tiles.size
    assert (shares > 0.05).all(), shares
    assert (maps.tiles == 0).reshape(40, -1).any(1).all()
    # Blobs, not salt and pepper: most cells share their type with the cell east of them.
    assert (maps.tiles[:, :, 1:] == maps.tiles[:, :, :-1]).mean() > 0.6


def test_paths_are_optimal_against_networkx(maps):
    for row in range(0, 40, 4):
        assert_is_cheapest_path(maps.paths[row], maps.target[row], 12, 12, 8)


def test_the_image_shows_each_cell_tile(maps):
    # Each 8x8 patch's mean colour is nearest to its own tile's colour.
    patches = maps.images.reshape(40, 3, 12, 8, 12, 8).mean(axis=(3, 5))    # (n, 3, 12, 12)
    distance = ((patches[:, None] - maps.tile_colors[None, :, :, None, None]) ** 2).sum(2)
    np.testing.assert_array_equal(distance.argmin(1), maps.tiles)
    # ... but the pixels vary inside a patch (texture and noise), and by type.
    assert maps.images.reshape(40, 3, 12, 8, 12, 8).std(axis=(3, 5)).min() > 0.01


def test_without_noise_cells_of_one_type_look_the_same():
    clean = make_terrain_shortest_path(3, grid=(4, 5), tile_size=4, noise=0.0, random_state=1)
    assert clean.images.shape == (3, 3, 16, 20) and clean.target.shape == (3, 20)
    patches = clean.images.reshape(3, 3, 4, 4, 5, 4).transpose(0, 2, 4, 1, 3, 5)
    for tile in np.unique(clean.tiles):
        same = patches[clean.tiles == tile]
        np.testing.assert_array_equal(same, np.broadcast_to(same[0], same.shape))


def test_determinism():
    a = make_terrain_shortest_path(5, grid=6, tile_size=3, random_state=7)
    b = make_terrain_shortest_path(5, grid=6, tile_size=3, random_state=7)
    c = make_terrain_shortest_path(5, grid=6, tile_size=3, random_state=8)
    for name in ("images", "target", "paths", "tiles"):
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a.images, c.images)
    state = np.random.RandomState(7)
    d = make_terrain_shortest_path(5, grid=6, tile_size=3, random_state=state)
    np.testing.assert_array_equal(a.images, d.images)


def test_return_X_y(maps):
    X, y = make_terrain_shortest_path(40, grid=12, random_state=0, return_X_y=True)
    np.testing.assert_array_equal(X, maps.data)
    np.testing.assert_array_equal(y, maps.target)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_samples=0), "n_samples"),
    (dict(n_samples=2, grid=1), "grid must be"),
    (dict(n_samples=2, grid=(1, 1)), "grid must be"),
    (dict(n_samples=2, grid="12"), "grid must be"),
    (dict(n_samples=2, grid=(3, 0)), "grid must be"),
    (dict(n_samples=2, tile_size=0), "tile_size"),
    (dict(n_samples=2, noise=-0.1), "noise"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_terrain_shortest_path(**kwargs)
