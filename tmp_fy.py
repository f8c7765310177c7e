import sys, numpy as np, torch
sys.path.insert(0, "benchmarks")
from terrain import TerrainCNN, optimal_share
from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_terrain_shortest_path
from skdfl.optimizers import ShortestPath
maps = make_terrain_shortest_path(700, random_state=0)
opt = ShortestPath(grid=(12, 12), costs="cells", negative_costs="clip")
method, norm, lr, sigma = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3]), float(sys.argv[4])
est = DecisionFocusedRegressor(opt, method=method, targets="decisions", module=TerrainCNN,
    module__normalize=norm, out_activation="identity" if norm else "softplus", learning_rate_init=lr, max_iter=8,
    n_iter_no_change=None, random_state=0, sigma=sigma).fit(maps.data[:500], maps.paths[:500])
P = est.predict(maps.data[500:])
print(sys.argv[1:], "pred mean/min/max", P.mean(), P.min(), P.max(), "share", optimal_share(opt, est.decide(maps.data[500:]), maps.target[500:]))
