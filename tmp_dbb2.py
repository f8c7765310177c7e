import sys, numpy as np, torch
sys.path.insert(0, "benchmarks")
from terrain import TerrainCNN, optimal_share
from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_terrain_shortest_path
from skdfl.optimizers import ShortestPath
class Norm(TerrainCNN):
    def forward(self, X):
        c = torch.nn.functional.softplus(super().forward(X))
        return c / c.mean(1, keepdim=True)
maps = make_terrain_shortest_path(300, random_state=0)
opt = ShortestPath(grid=(12, 12), costs="cells", negative_costs="clip")
method, lambd = sys.argv[1], float(sys.argv[2])
est = DecisionFocusedRegressor(opt, method=method, targets="decisions", module=Norm,
    module__channels=8, out_activation="identity", learning_rate_init=3e-3, max_iter=4,
    n_iter_no_change=None, random_state=0, **({} if lambd < 0 else {"lambd": lambd})).fit(maps.data[:200], maps.paths[:200])
P = est.predict(maps.data[200:])
print(method, lambd, "pred mean/min/max", P.mean(), P.min(), P.max(), "corr", np.corrcoef(P.ravel(), maps.target[200:].ravel())[0,1],
  "share", optimal_share(opt, est.decide(maps.data[200:]), maps.target[200:]))
