"""Grid search on a dask.distributed cluster gives the same results as sequentially."""

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.optimizers import ShortestPath

distributed = pytest.importorskip("dask.distributed")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning",
                                        "ignore::DeprecationWarning",
                                        "ignore::ResourceWarning")


def test_grid_search_on_a_local_cluster_matches_sequential():
    X, C = make_shortest_path(80, degree=2, random_state=0)
    search = GridSearchCV(
        DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method="dbb", max_iter=2,
                                 random_state=0),
        {"lambd": [1.0, 10.0], "learning_rate_init": [0.01, 0.05]}, cv=2)
    sequential = search.fit(X, C).cv_results_["mean_test_score"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        with parallel_config(backend="dask"):
            on_cluster = search.fit(X, C).cv_results_["mean_test_score"]
    np.testing.assert_array_equal(on_cluster, sequential)
