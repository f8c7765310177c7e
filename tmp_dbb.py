import sys, numpy as np, torch
sys.path.insert(0, "benchmarks")
from terrain import TerrainCNN, optimal_share
from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_terrain_shortest_path
from skdfl.optimizers import ShortestPath
maps = make_terrain_shortest_path(300, random_state=0)
opt = ShortestPath(grid=(12, 12), costs="cells", negative_costs="clip")
for lambd in [float(sys.argv[1])]:
    est = DecisionFocusedRegressor(opt, method="dbb", targets="decisions", module=TerrainCNN,
        module__channels=8, out_activation=sys.argv[2], learning_rate_init=3e-3, max_iter=4,
        n_iter_no_change=None, random_state=0, lambd=lambd, verbose=1).fit(maps.data[:200], maps.paths[:200])
    P = est.predict(maps.data[200:])
    print(lambd, "pred mean/min/max", P.mean(), P.min(), P.max(), "corr", np.corrcoef(P.ravel(), maps.target[200:].ravel())[0,1])
    print("share", optimal_share(opt, est.decide(maps.data[200:]), maps.target[200:]), "path len", est.decide(maps.data[200:]).sum(1).mean(), maps.paths[200:].sum(1).mean())
