"""Procedurally drawn terrain maps: images, cell costs and shortest paths (Warcraft-like)."""

import numbers

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from sklearn.utils import Bunch, check_random_state

from .._validation import check_scalar
from ..optimizers import ShortestPath

#: The tile types, their costs (the cost of a path through a cell) and colours (RGB in [0, 1]).
TILE_NAMES = ("road", "grass", "forest", "water", "mountain")
TILE_COSTS = np.array([0.8, 1.2, 3.5, 7.7, 9.2])
TILE_COLORS = np.array([[0.80, 0.70, 0.45],
                        [0.40, 0.70, 0.25],
                        [0.10, 0.38, 0.12],
                        [0.15, 0.35, 0.80],
                        [0.58, 0.52, 0.48]])
ROAD, GRASS, FOREST, WATER, MOUNTAIN = range(len(TILE_NAMES))

# Thresholds on the standardized smooth fields: water below, mountains above
# (about a sixth of the cells each), forest where it is moist.
_WATER_BELOW, _MOUNTAIN_ABOVE, _FOREST_ABOVE = -0.95, 0.95, 0.3
# Width, in cells, of the smoothing that makes blobs of one tile type.
_BLOB_SIGMA = 1.5
# Amplitude of the tile textures, on top of the per-pixel noise.
_TEXTURE = 0.12
# Rows solved at once (bounds the solver's memory).
_CHUNK = 512


def make_terrain_shortest_path(n_samples, grid=12, *, tile_size=8, noise=0.05,
                               random_state=None, return_X_y=False):
    """Terrain maps as small RGB images, their cell costs and their shortest paths.

    A generator in the spirit of the Warcraft shortest-path maps of
    Vlastelica et al. (2020), also used by Niepert et al. (2021, I-MLE),
    drawn procedurally (no images are shipped). Each map is a ``grid x
    grid`` array of cells, each cell one of five tile types with a fixed
    cost: road 0.8, grass 1.2, forest 3.5, water 7.7, mountain 9.2. Tiles
    come in smooth blobs: water and mountains where a smoothed random
    elevation field is low or high, forest where a second, moisture field
    is high, grass elsewhere; one or two roads cross each map (random
    walks from one side to the opposite one). The optimal path runs from
    the top-left cell to the bottom-right one, moving to any of the 8
    neighbours of a cell, and costs the sum of the costs of its cells, both
    ends included: :class:`~skdfl.optimizers.ShortestPath` with
    ``costs="cells"``, which ``optimizer`` holds.

    A map is rendered with ``tile_size x tile_size`` pixels per cell in its
    tile's colour, plus a texture of its type (speckles for forest, waves
    for water, a lit slope for mountains, a centre line for roads, blades
    for grass) and independent pixel noise, so a network has to learn which
    patch means which cost.

    Parameters
    ----------
    n_samples : int
        Number of maps.
    grid : int or tuple of (int, int), default=12
        Cells per side (the Warcraft maps come in 12, 18, 24 and 30), or
        ``(height, width)``.
    tile_size : int, default=8
        Pixels per side of a cell (the Warcraft maps have 8).
    noise : float, default=0.05
        Standard deviation of the independent noise on each pixel and
        channel (pixel values are then clipped to ``[0, 1]``).
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``H, W`` the grid and ``k`` the tile size:

        - ``images``: ndarray of shape ``(n_samples, 3, H * k, W * k)``,
          float32 in ``[0, 1]``, channels first (RGB), as torch's
          convolutions take them; pixel ``(r, c)`` shows cell
          ``(r // k, c // k)``.
        - ``data``: ndarray of shape ``(n_samples, 3 * H * k * W * k)``,
          float32, the images flattened row by row (C order: channel, then
          pixel row, then pixel column), the 2-D ``X`` an estimator takes;
          a network's module restores the images with
          ``X.view(-1, 3, H * k, W * k)``.
        - ``target``: ndarray of shape ``(n_samples, H * W)``, the cell
          costs, cells row-major (the ``theta`` of ``optimizer``).
        - ``paths``: ndarray of shape ``(n_samples, H * W)``, 0/1, the cells
          of an optimal path under ``target`` (ties go to the solver's
          choice), the observed decisions.
        - ``tiles``: ndarray of shape ``(n_samples, H, W)``, int, each
          cell's tile type, an index into ``tile_names``.
        - ``tile_names``, ``tile_costs``, ``tile_colors``: the five tile
          types, their costs and their base colours.
        - ``optimizer``: ``ShortestPath(grid=(H, W), costs="cells",
          moves=8)``.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> import numpy as np
    >>> from skdfl.datasets import make_terrain_shortest_path
    >>> maps = make_terrain_shortest_path(20, grid=12, random_state=0)
    >>> maps.images.shape, maps.data.shape, maps.target.shape, maps.paths.shape
    ((20, 3, 96, 96), (20, 27648), (20, 144), (20, 144))
    >>> bool(np.array_equal(maps.target, maps.tile_costs[maps.tiles].reshape(20, -1)))
    True
    >>> cost = maps.optimizer.objective(maps.paths, maps.target)
    >>> bool(np.allclose(cost, maps.optimizer.objective(maps.optimizer.solve(maps.target),
    ...                                                 maps.target)))
    True
    """
    check_scalar(n_samples, "n_samples", kind=numbers.Integral, low=1)
    height, width = _check_grid(grid)
    check_scalar(tile_size, "tile_size", kind=numbers.Integral, low=1)
    check_scalar(noise, "noise", low=0.0)
    rng = check_random_state(random_state)
    tiles = _draw_tiles(n_samples, height, width, rng)
    images = _render(tiles, int(tile_size), float(noise), rng)
    data = images.reshape(n_samples, -1)
    target = TILE_COSTS[tiles].reshape(n_samples, -1)
    if return_X_y:
        return data, target
    optimizer = ShortestPath(grid=(height, width), costs="cells", moves=8)
    paths = _solve(optimizer, target)
    return Bunch(images=images, data=data, target=target, paths=paths, tiles=tiles,
                 tile_names=np.array(TILE_NAMES, dtype=object), tile_costs=TILE_COSTS.copy(),
                 tile_colors=TILE_COLORS.copy(), optimizer=optimizer)


def _solve(optimizer, costs):
    """Optimal paths of every map, in chunks, on one torch thread.

    The solver's tensors are small (a few hundred thousand entries): torch's
    thread pool only adds synchronization there, which costs seconds on a
    busy machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        costs = torch.as_tensor(costs)
        return torch.cat([optimizer.solve(part) for part in costs.split(_CHUNK)]).numpy()
    finally:
        torch.set_num_threads(threads)


def _check_grid(grid):
    if isinstance(grid, numbers.Integral) and not isinstance(grid, bool):
        grid = (grid, grid)
    if (not isinstance(grid, (tuple, list)) or len(grid) != 2
            or not all(isinstance(g, numbers.Integral) and not isinstance(g, bool)
                       for g in grid) or min(grid) < 1 or grid[0] * grid[1] < 2):
        raise ValueError("grid must be a positive integer (cells per side) or a pair (height, "
                         f"width) with at least two cells; got {grid!r}.")
    return int(grid[0]), int(grid[1])


def _smooth_field(n_samples, height, width, rng):
    """Standardized smooth random fields, one per map: (n_samples, height, width)."""
    field = gaussian_filter(rng.standard_normal((n_samples, height, width)),
                            sigma=(0, _BLOB_SIGMA, _BLOB_SIGMA), mode="reflect")
    field -= field.mean(axis=(1, 2), keepdims=True)
    return field / np.maximum(field.std(axis=(1, 2), keepdims=True), 1e-12)


def _draw_tiles(n_samples, height, width, rng):
    """Tile types of every cell: (n_samples, height, width) int64."""
    elevation = _smooth_field(n_samples, height, width, rng)
    moisture = _smooth_field(n_samples, height, width, rng)
    tiles = np.full((n_samples, height, width), GRASS, dtype=np.int64)
    tiles[moisture > _FOREST_ABOVE] = FOREST
    tiles[elevation < _WATER_BELOW] = WATER
    tiles[elevation > _MOUNTAIN_ABOVE] = MOUNTAIN
    n_roads = rng.randint(1, 3, n_samples)
    for road in range(2):
        across = rng.random(n_samples) < 0.5        # west-east, else north-south
        rows = np.flatnonzero((n_roads > road) & across)
        _draw_road(tiles, rows, rng, transpose=False)
        _draw_road(tiles, np.flatnonzero((n_roads > road) & ~across), rng, transpose=True)
    return tiles


def _draw_road(tiles, maps, rng, transpose):
    """A random walk across each of ``maps``, one cell per column (or per row)."""
    view = tiles.transpose(0, 2, 1) if transpose else tiles
    height, width = view.shape[1:]
    position = rng.randint(0, height, len(maps))
    for column in range(width):                      # a loop over columns, not maps
        view[maps, position, column] = ROAD
        step = rng.choice([-1, 0, 0, 1], len(maps))
        position = np.clip(position + step, 0, height - 1)


def _textures(tile_size, rng):
    """A fixed pattern per tile type, (n_types, k, k), values in about [-1, 1]."""
    k = tile_size
    r, c = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    middle = (k - 1) / 2
    patterns = np.zeros((len(TILE_NAMES), k, k))
    patterns[ROAD] = np.where(np.abs(c - middle) < max(k / 8, 0.5), 1.0, 0.0)   # centre line
    patterns[GRASS] = np.where((r + 2 * c) % 4 == 0, 0.6, -0.2)                  # blades
    patterns[FOREST] = np.where(rng.random((k, k)) < 0.3, -1.0, 0.3)             # speckles
    patterns[WATER] = np.sin(2 * np.pi * r / max(k / 2, 1.0))                    # waves
    patterns[MOUNTAIN] = 1.0 - (r + c) / max(2 * middle, 1.0)                    # lit slope
    return patterns


def _render(tiles, tile_size, noise, rng):
    """RGB images (n_samples, 3, H * k, W * k), float32 in [0, 1]."""
    n_samples, height, width = tiles.shape
    k = tile_size
    patterns = (_TEXTURE * _textures(k, rng)).astype(np.float32)
    colours = TILE_COLORS.astype(np.float32)
    # The pixel noise comes from a Generator seeded by ``rng``: its float32
    # normal draws are several times faster than RandomState's.
    pixel_rng = np.random.default_rng(rng.randint(0, 2**31 - 1, size=4))
    images = np.empty((n_samples, 3, height * k, width * k), dtype=np.float32)
    for start in range(0, n_samples, _CHUNK):        # bounds the float64 scratch memory
        part = tiles[start:start + _CHUNK]
        # Each cell's colour and texture, laid out as (n, 3, H, k, W, k).
        colour = colours[part].transpose(0, 3, 1, 2)[:, :, :, None, :, None]
        texture = patterns[part].transpose(0, 1, 3, 2, 4)[:, None]
        image = (colour + texture).reshape(len(part), 3, height * k, width * k)
        if noise > 0:
            image += np.float32(noise) * pixel_rng.standard_normal(image.shape, np.float32)
        images[start:start + _CHUNK] = np.clip(image, 0.0, 1.0)
    return images
