"""Terrain maps (12x12): a small CNN learns paths from images, from decisions or from costs.

The setting of the Warcraft shortest-path experiments (Vlastelica et al.
2020; Niepert et al. 2021, I-MLE, Table 2) on skdfl's procedurally drawn
terrain maps (``skdfl.datasets.make_terrain_shortest_path``): each map is a
96x96 RGB image of 12x12 cells of five tile types with fixed costs, and the
decision is the cheapest 8-neighbour path from the top-left cell to the
bottom-right one (``ShortestPath(grid=(12, 12), costs="cells")``).

What is measured
----------------
For each seed, ``make_terrain_shortest_path(n_train + n_test, grid=12,
random_state=seed)`` is split into training and test maps. ``TerrainCNN``
below (three 3x3 convolutions with max pooling down to the 12x12 cells, a
1x1 convolution to one cost per cell; passed as ``module=TerrainCNN`` with
``module__*`` parameters) is trained by ``DecisionFocusedRegressor`` with
Adam (learning rate 1e-3, batch size 32, ``lambd="auto"``) for a fixed
number of epochs (no early stopping):

- from the observed paths only (``targets="decisions"``, y = 0/1 cells of
  the optimal paths): ``imle``, ``dbb`` (both through a Hamming loss on the
  decisions, as in the I-MLE paper) and ``fy``; for imle and dbb the
  network outputs positive costs of mean 1 per map
  (``module__normalize=True``: from paths the costs are known only up to a
  positive factor, and the Hamming loss does not see it); imle with its
  sum-of-Gamma noise at temperature ``tau=0.3`` (the estimator's default
  is 1: see "Why imle trailed dbb" below);
- from the true cell costs: ``spo+`` (softplus output) and ``two-stage``
  (squared error).

The optimizer is ``ShortestPath(grid=(12, 12), costs="cells",
negative_costs="clip")``: the perturbation methods solve at shifted or
noisy costs that can be negative, and, as in the reference codes of
blackbox differentiation and I-MLE, such costs are treated as 0. The
network's output is positive (softplus), so the decisions scored below are
never clipped.

- **optimal %**: the share of test maps whose predicted path (solved with
  the predicted costs) is optimal under the true costs: its true cost is
  within ``1e-6`` (relative) of the optimum. Path costs are compared, not
  the 0/1 paths: ties between equally cheap paths are common with five
  tile costs. Mean over the seeds, with a 95% t-interval (``mean +-
  t(0.975, n_seeds - 1) * sd / sqrt(n_seeds)``).
- **seconds**: mean wall time of one fit.

The paper's Table 2 (Warcraft 12x12, accuracy = share of optimal paths) is
not reproduced here from memory: see ``PAPER_NOTE``.

Target (issue 17): imle's share >= dbb's minus 2 points.

Measured (full runs, 2026-12-02: imle (``tau=0.3``) and dbb together on a
quiet machine, ``--methods imle dbb``; fy, spo+ and two-stage from the
earlier full run beside a test suite, their code unchanged since, so their
seconds are inflated)::

    method     trained from     optimal %  seeds  seconds
    imle       paths          77.3 +- 6.4      3     75.5
    dbb        paths         75.2 +- 10.9      3     70.6
    fy         paths          62.5 +- 9.4      3     64.0
    spo+       costs          89.2 +- 3.8      3     61.4
    two-stage  costs         84.3 +- 12.6      3     58.8

The target holds: imle 79.5, 74.5, 78.0 on seeds 0, 1, 2 against dbb's
74.0, 71.5, 80.0 (dbb's shares are those of the earlier run, to the
decimal). imle at other temperatures, same full setting (``--methods imle
--tau T``; the shares per seed in brackets)::

    tau  optimal %      seeds 0, 1, 2
    1    62.7 +- 9.5    63.5, 66.0, 58.5   (the earlier run)
    0.5  74.8 +- 1.9    75.0, 74.0, 75.5
    0.3  77.3 +- 6.4    79.5, 74.5, 78.0
    0.1  80.2 +- 6.1    83.0, 78.5, 79.0
    -    75.2 +- 10.9   74.0, 71.5, 80.0   (no noise: dbb's numbers, see below)

Every temperature from 0.1 to 0.5 meets the target; at the default 1 imle
is 12 points behind. 0.3 was chosen from the pilots below before this
sweep and is kept (0.1 did worst of the three in the seed-0 pilot); the
sweep says that at this training length less noise is better, down to a
point: without noise imle is dbb.

dbb with the projection onto the sphere
---------------------------------------
Since 2026-12-03 ``method="dbb"`` trains the regret through predictions
projected onto a sphere (``BlackboxRegret(normalize=True)``, against the
collapse of the predictions measured on the energy knapsack). From
decisions it stays the paper's layer, because on these maps the projection
did much worse through the Hamming loss: 18.3 +- 8.3% optimal paths (full
run, 3 seeds, ``lambd`` 32) against 75.2 +- 10.9%; in ``--quick`` pilots
(seed 0) 26.0 and 27.0 at ``lambd`` 32 and 96 against the paper's layer's
47.0 and 52.0, and 48.0 with only the shift's start rescaled (no projection
of the gradient): the projection of the gradient is what costs. The
network already fixes the scale here (costs of mean 1 per map), so there
is no collapse to prevent; why the projection hurts we did not establish
(a guess: the network's division by the mean keeps the component along the
costs that the projection removes from each step, as a change of the costs'
contrast).

Why imle trailed dbb
--------------------
Not the plumbing: ``tau``, ``noise`` and ``n_samples`` reach the I-MLE
layer as given, the Hamming loss's step is ``(1 - 2 x*) / batch_size`` per
cell, and the signs follow the paper for a minimization (the logits are
``-costs``: the forward pass solves at ``costs - eps``, the target at
``costs - eps + lambd * dL/dz``, the gradient is ``(z' - z) / lambd``;
``tests/methods/test_perturbation.py`` checks this against every path of a
3x3 grid). Without noise imle is dbb exactly (same decisions and
gradients; the same 52.0% in a ``--quick`` pilot).

The noise is the difference, through the scale of the costs. With
``lambd="auto"`` the target step is 3 per cell on costs of mean 1, so the
target path is the observed one on essentially every map (below), and the
I-MLE gradient is ``(x* - z) / lambd`` with ``z`` the noisy path: dbb's
gradient with a noisy path in place of the network's own. It vanishes only
where the noisy path is the observed one. A network whose costs are free
to grow can make the noise small beside them; here they are pinned to mean
1 per map (``module__normalize=True``, which dbb needs), so ``tau`` is the
noise relative to the costs, and at ``tau=1`` the noise moves the
path off the optimum on most maps even when the predicted costs are the true
ones (``--noise-check``: true costs of mean 1, 300 maps of seed 0)::

    noise   tau  noisy path optimal %  target path observed %
    sog       1                    14                     100
    sog     0.5                    35                     100
    sog     0.3                    47                     100
    sog     0.1                    89                     100
    gumbel    1                     1                      95
    gumbel  0.5                     1                     100
    gumbel  0.3                     4                     100
    gumbel  0.1                    23                     100

(At ``lambd=20``, a step of 0.625, the target path is still the observed
one on 97% of the maps at ``tau=1``: why lambd 20, 96 and 500 trained
alike. Once the target is the observed path, ``lambd`` only scales the
gradient, and Adam undoes a constant scale.)

The true costs are then far from a stationary point of training: imle
keeps pulling the costs of the observed path down against noise it cannot
outgrow. (On unscaled costs of the paper's five tile values, 0.8 to 9.2,
whose mean is 3.8 on these maps, ``tau=1`` would be about 0.26 of the mean
cost, close to 0.3 on costs of mean 1.) The per-cell noise at ``tau=1``
(sum-of-Gamma, ``k`` = 15 cells, the mean path length) has a standard
deviation of 0.32 and exceeds 0.5 on 6% of the cells, against normalized
tile costs of 0.22, 0.33, 0.96, 2.12 and 2.53.

Pilots of the noise (one seed, 500 train / 200 test maps, 8 epochs; seed 0
unless said):

- seed 0: dbb 68.0; imle ``tau`` 1: 60.0, 0.5: 68.0, 0.3: 73.5, 0.1:
  64.0; ``tau`` 1 with ``n_samples=4``: 65.5; Gumbel noise at ``tau`` 0.1:
  60.5;
- seed 1: dbb 73.0; imle ``tau`` 1: 65.0, 0.5: 73.0, 0.3: 71.0, 0.1: 72.0;
- ``--quick`` (300 / 100 maps, 6 epochs): dbb 52.0, imle without noise
  52.0, ``tau`` 1: 60.0, 0.3: 55.0, 0.1: 52.0, Gumbel 0.1: 54.0 (short
  training favours the noise; it costs at length);
- imle at ``tau`` 1 on raw scores through a softplus (``--raw-costs``: the
  network's scale is free): seed 0: 68.0, seed 1: 62.0. On seed 1 the mean
  predicted cost had grown to 2.5 after 8 epochs (``tau`` 1 is then 0.4 of
  it): the network does outgrow the noise, but slowly.

More samples average the noise but keep its bias; temperatures of 0.1 to
0.5 brought imle level with dbb in these pilots (within their noise of a
few points), and 0.3 is kept. The estimator's default stays 1:
it is the scale of the rescaled parameters of ``targets="parameters"``,
where the network's scale is free, and the temperature that suits a
network whose scale is pinned depends on the costs' spread, which the
paths alone do not tell (the user guide says so under ``tau``).

Earlier pilots behind the other settings (one seed, 500 train / 200 test
maps, 8 epochs unless said; imle at ``tau=1``; measured on a loaded
machine):

- imle with lambd 20: 62.5%, "auto" (96): 63.5%, lambd 500: 64.0%,
  learning rate 3e-3: 64.5% (1000 maps, 10 epochs, seed 0);
- learning rate 3e-3: imle 68.0, dbb 14.5 (it diverged: 57 at 4 epochs on
  200 maps), fy 17.5 (on costs of mean 1), spo+ 85.0, two-stage 40.5;
- learning rate 1e-3: imle 60.5, dbb 67.5, fy 18.0 (on costs of mean 1);
  imle with lambd 10: 60.0, with 30: 57.5 (dbb with 30: 66.5);
- fy on raw scores through a softplus: 63.0 (learning rate 3e-3); on costs
  of mean 1 with sigma 0.1: 60.5 (1e-3);
- without costs of mean 1 (softplus output; 200 maps, 4 epochs), dbb's
  predictions fell to about 1e-5 and 5% of its paths were optimal.

Usage::

    python benchmarks/terrain.py            # 1000 train / 200 test maps, 10 epochs, 3 seeds
    python benchmarks/terrain.py --quick    # 300 / 100 maps, 6 epochs, 3 seeds (~2-3 min)
    python benchmarks/terrain.py --methods imle dbb --tau 1   # imle at the default temperature
    python benchmarks/terrain.py --noise-check                # the table above (seconds)
"""

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from _common import format_table, progress_log, t_interval, verdict
from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_terrain_shortest_path
from skdfl.optimizers import ShortestPath

GRID = 12
TILE_SIZE = 8
#: imle's noise temperature on costs of mean 1 (the estimator's default is 1).
IMLE_TAU = 0.3

#: What we could (not) look up of the paper's Table 2.
PAPER_NOTE = (
    "Niepert et al. (NeurIPS 2021), Table 2, Warcraft 12x12: the table itself could not be "
    "found in the reference material available to us, so its numbers are not quoted here. "
    "A third-party leaderboard lists I-MLE at 97.2% accuracy on 'Warcraft' shortest paths, "
    "without the grid size; the paper reports I-MLE comparable to or above BB (blackbox "
    "differentiation). Their maps are real Warcraft II tiles with a ResNet18 backbone; "
    "ours are procedurally drawn and the CNN is small: compare the ordering, not the level.")


class TerrainCNN(torch.nn.Module):
    """Map images (flattened rows) to one cost per cell.

    Three 3x3 convolutions, each followed by ReLU and 2x2 max pooling (the
    last one adaptive, to the grid), take a ``tile_size``-pixel cell to one
    position; a 1x1 convolution then gives the cell's cost.

    Parameters
    ----------
    grid : int
        Cells per side.
    tile_size : int
        Pixels per cell side.
    channels : int
        Channels of the first convolution (then twice as many).
    normalize : bool
        Return positive costs of mean 1 per map (softplus, divided by the
        map's mean) instead of raw scores. From paths alone the costs are
        identified only up to a positive factor (scaling every cost changes
        no decision); fixing the scale keeps the network from drifting
        along it. Without it, dbb drove its predictions towards 0 (where
        the softplus output saturates and learning stops) and found 5% of
        the optimal paths in a pilot (200 maps, 4 epochs) against 57% with
        it.
    """

    def __init__(self, grid=GRID, tile_size=TILE_SIZE, channels=16, normalize=False):
        super().__init__()
        self.side, self.normalize = grid * tile_size, normalize
        width = 2 * channels
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, channels, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(channels, width, 3, padding=1), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(width, width, 3, padding=1), torch.nn.ReLU(),
            torch.nn.AdaptiveMaxPool2d(grid))
        self.head = torch.nn.Conv2d(width, 1, 1)

    def forward(self, X):
        images = X.view(-1, 3, self.side, self.side)
        scores = self.head(self.features(images)).flatten(1)
        if not self.normalize:
            return scores
        costs = torch.nn.functional.softplus(scores)
        return costs / costs.mean(1, keepdim=True)


#: (label, method, targets, normalize, options): decisions-only methods first.
#: imle and dbb learn through a Hamming loss, blind to the scale of the
#: costs: their network returns costs of mean 1 per map. With that scale
#: pinned, imle's noise temperature ``tau`` is relative to the costs (the
#: network cannot outgrow the noise), and the default 1 is too hot here (see
#: the pilots above): imle uses 0.3. fy's noise sets a scale of its own (its
#: loss falls as the costs grow against the noise), and spo+ and two-stage
#: learn the costs themselves: raw scores through a softplus.
METHODS = (
    ("imle", "imle", "decisions", True, {"tau": IMLE_TAU}),
    ("dbb", "dbb", "decisions", True, {}),
    ("fy", "fy", "decisions", False, {}),
    ("spo+", "spo+", "parameters", False, {}),
    ("two-stage", "two-stage", "parameters", False, {}),
)


@dataclass
class Run:
    label: str
    seed: int
    optimal: float
    seconds: float


def optimal_share(optimizer, decisions, costs, rtol=1e-6):
    """Share of rows whose decision costs the optimum under ``costs`` (relative tolerance)."""
    best = optimizer.objective(optimizer.solve(costs), costs)
    cost = optimizer.objective(decisions, costs)
    return float(np.mean(cost <= best + rtol * np.abs(best)))


def make_estimator(method, targets, normalize, options, optimizer, args, seed):
    # normalize: positive costs of mean 1 per map from the module itself
    # (see TerrainCNN); otherwise raw scores through the softplus output.
    return DecisionFocusedRegressor(
        optimizer, method=method, targets=targets, module=TerrainCNN,
        module__grid=GRID, module__tile_size=TILE_SIZE, module__channels=args.channels,
        module__normalize=normalize, out_activation="identity" if normalize else "softplus",
        batch_size=args.batch_size,
        learning_rate_init=args.learning_rate, max_iter=args.epochs, n_iter_no_change=None,
        random_state=seed, **{**options, **method_options(args)})


def method_options(args):
    """The method hyperparameters given on the command line (the estimator's defaults else)."""
    given = {"lambd": args.lambd, "tau": args.tau, "n_samples": args.n_samples}
    options = {name: value for name, value in given.items() if value is not None}
    if args.noise is not None:
        options["noise"] = None if args.noise == "none" else args.noise
    return options


def run(args, log):
    optimizer = ShortestPath(grid=(GRID, GRID), costs="cells", negative_costs="clip")
    runs = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        maps = make_terrain_shortest_path(args.n_train + args.n_test, grid=GRID,
                                          tile_size=TILE_SIZE, random_state=seed)
        train, test = slice(0, args.n_train), slice(args.n_train, None)
        X_test, C_test = maps.data[test], maps.target[test]
        for label, method, targets, normalize, options in METHODS:
            if args.methods and label not in args.methods:
                continue
            y = maps.paths[train] if targets == "decisions" else maps.target[train]
            normalize = normalize and not args.raw_costs
            est = make_estimator(method, targets, normalize, options, optimizer, args, seed)
            start = time.perf_counter()
            est.fit(maps.data[train], y)
            seconds = time.perf_counter() - start
            share = optimal_share(optimizer, est.decide(X_test), C_test)
            runs.append(Run(label, seed, share, seconds))
            log(f"seed {seed} {label:10s} optimal {100 * share:5.1f}%  {seconds:6.1f} s")
    return runs


def noise_at_truth(n_maps=300, seed=0, taus=(1.0, 0.5, 0.3, 0.1), shift=3.0):
    """How far imle's noise moves the decision when the predicted costs are the true ones.

    At the true costs scaled to mean 1 per map (a perfect network of the
    benchmark's imle), the forward pass solves at ``costs - eps`` and the
    backward pass at those costs plus ``shift * (1 - 2 x*)`` (``lambd_ /
    batch_size = 3``: the Hamming loss's step). Prints, per noise and
    temperature, the share of maps whose noisy path is optimal and whose
    target path is the observed one: where the noisy path is not optimal,
    the gradient ``(z' - z) / lambd`` is not zero even at the true costs.
    """
    from skdfl.methods._noise import draw_noise
    maps = make_terrain_shortest_path(n_maps, grid=GRID, tile_size=TILE_SIZE, random_state=seed)
    optimizer = ShortestPath(grid=(GRID, GRID), costs="cells", negative_costs="clip")
    costs = torch.as_tensor(maps.target)
    costs = costs / costs.mean(1, keepdim=True)
    observed = torch.as_tensor(maps.paths, dtype=costs.dtype)
    k = float(observed.sum(1).mean())
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for kind in ("sog", "gumbel"):
        for tau in taus:
            eps = draw_noise(kind, costs.shape, scale=tau, k=k, generator=generator,
                             dtype=costs.dtype)
            noisy = optimizer.solve(costs - eps).numpy()
            target = optimizer.solve(costs - eps + shift * (1 - 2 * observed)).numpy()
            optimal = optimal_share(optimizer, noisy, maps.target)
            observed_share = np.mean((target == maps.paths).all(1))
            rows.append({"noise": kind, "tau": f"{tau:g}",
                         "noisy path optimal %": f"{100 * optimal:.0f}",
                         "target path observed %": f"{100 * observed_share:.0f}"})
    print(format_table(rows, left=("noise",)))


def report(runs):
    rows, means = [], {}
    for label, _, targets, _, _ in METHODS:
        mine = [r for r in runs if r.label == label]
        if not mine:
            continue
        mean, half = t_interval([100 * r.optimal for r in mine])
        means[label] = mean
        rows.append({"method": label, "trained from": "paths" if targets == "decisions"
                     else "costs", "optimal %": f"{mean:.1f} +- {half:.1f}",
                     "seeds": str(len(mine)),
                     "seconds": f"{np.mean([r.seconds for r in mine]):.1f}"})
    print(format_table(rows, left=("method", "trained from")))
    print()
    held = (means["imle"] >= means["dbb"] - 2.0) if {"imle", "dbb"} <= set(means) else None
    print(f"target: imle's optimal % >= dbb's minus 2 points: {verdict(held)}")
    print()
    print(PAPER_NOTE)


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="300 train / 100 test maps, 6 epochs (about 2-3 minutes)")
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--lambd", type=float, default=None,
                        help="dbb/imle smoothing (default: the estimator's 'auto')")
    parser.add_argument("--tau", type=float, default=None,
                        help=f"imle noise temperature (default: {IMLE_TAU})")
    parser.add_argument("--noise", choices=("sog", "gumbel", "none"), default=None,
                        help="imle noise (default: the estimator's)")
    parser.add_argument("--n-samples", type=int, default=None,
                        help="imle/fy perturbations per map and step (default: the estimator's)")
    parser.add_argument("--raw-costs", action="store_true",
                        help="imle and dbb on raw scores through a softplus, not costs of mean 1")
    parser.add_argument("--methods", nargs="*", default=None,
                        help=f"a subset of {[m[0] for m in METHODS]}")
    parser.add_argument("--noise-check", action="store_true",
                        help="only print how imle's noise moves the paths at the true costs")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    sizes = (300, 100, 6) if args.quick else (1000, 200, 10)
    args.n_train = args.n_train or sizes[0]
    args.n_test = args.n_test or sizes[1]
    args.epochs = args.epochs or sizes[2]
    return args


def main(argv=None):
    args = parse(argv)
    if args.noise_check:
        return noise_at_truth(seed=args.first_seed)
    log = progress_log(args.quiet)
    log(f"{args.n_train} train / {args.n_test} test maps, {args.epochs} epochs, "
        f"{args.seeds} seed(s)")
    report(run(args, log))


if __name__ == "__main__":
    sys.exit(main())
