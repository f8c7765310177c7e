"""n_threads: torch intra-op threads while fitting and deciding, restored afterwards."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skdfl import DecisionFocusedClassifier, DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.estimators._threads import (WORK_PER_THREAD, auto_threads, count_parameters,
                                       threads_for, torch_threads)
from skdfl.optimizers import KSubset, ShortestPath

GRID = ShortestPath(grid=(5, 5))


@pytest.fixture
def three_threads():
    """Run the test with torch set to 3 threads (the suite's default is 1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    return make_shortest_path(64, degree=2, random_state=0)


class RecordThreads(Callback):
    """Record torch's thread count at every training batch."""

    def initialize(self):
        self.seen = set()
        return self

    def on_batch_begin(self, net, **kwargs):
        self.seen.add(torch.get_num_threads())


class FailAtEpoch(Callback):
    def on_epoch_begin(self, net, **kwargs):
        raise RuntimeError("stop here")


def test_auto_rule_follows_the_work():
    # The README's quick start: a linear model of 5 features, 40 costs, batches of 32.
    assert auto_threads(32, n_weights=5 * 40 + 40, n_outputs=40, max_threads=16) == 1
    assert auto_threads(1, n_weights=WORK_PER_THREAD * 5, max_threads=16) == 5
    assert auto_threads(1000, n_weights=10 ** 6, max_threads=4) == 4   # capped
    counts = [auto_threads(rows, 10_000, 40, max_threads=64) for rows in (1, 100, 1000, 10 ** 4)]
    assert counts == sorted(counts) and counts[0] == 1 and counts[-1] > 1


def test_auto_rule_never_exceeds_torch_setting(three_threads):
    assert auto_threads(10 ** 6, 10 ** 6) == three_threads
    assert threads_for(None, 10 ** 6, torch.nn.Linear(1000, 1000)) == three_threads
    assert threads_for(7, 1, None) == 7   # an explicit count is taken as given


def test_count_parameters():
    assert count_parameters(torch.nn.Linear(5, 40)) == 5 * 40 + 40
    assert count_parameters(torch.nn.Linear) == 0


def test_context_restores_also_on_error(three_threads):
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == three_threads
    with pytest.raises(KeyError):
        with torch_threads(2):
            raise KeyError("inside")
    assert torch.get_num_threads() == three_threads


def test_small_fit_runs_on_one_thread_and_restores(three_threads, data):
    X, C = data
    record = RecordThreads()
    est = DecisionFocusedRegressor(GRID, method="spo+", max_iter=2, n_iter_no_change=None,
                                   callbacks=[record], random_state=0).fit(X, C)
    assert record.seen == {1}
    assert torch.get_num_threads() == three_threads
    assert est.n_threads is None


def test_large_network_uses_the_threads_torch_has(three_threads, data):
    X, C = data
    record = RecordThreads()
    DecisionFocusedRegressor(GRID, method="two-stage", hidden_layer_sizes=(512, 512),
                             max_iter=1, n_iter_no_change=None, callbacks=[record],
                             random_state=0).fit(X, C)
    assert record.seen == {three_threads}


def test_explicit_count_and_restore_after_an_error(three_threads, data):
    X, C = data
    record = RecordThreads()
    DecisionFocusedClassifier(KSubset(k=2), max_iter=1, n_iter_no_change=None, n_threads=2,
                              callbacks=[record]).fit(X[:, :4], (C[:, :4] > 1).astype(int))
    assert record.seen == {2}
    assert torch.get_num_threads() == three_threads
    with pytest.raises(RuntimeError, match="stop here"):
        DecisionFocusedRegressor(GRID, max_iter=1, n_threads=2,
                                 callbacks=[FailAtEpoch()]).fit(X, C)
    assert torch.get_num_threads() == three_threads


def test_deciding_uses_the_same_rule(three_threads, data):
    X, C = data
    est = DecisionFocusedRegressor(GRID, method="spo+", max_iter=1, n_iter_no_change=None,
                                   random_state=0).fit(X, C)
    seen = []
    solve = est.optimizer_.solve

    def recording_solve(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return solve(*args, **kwargs)

    est.optimizer_.solve = recording_solve
    decisions = est.decide(X)
    assert seen == [1] and torch.get_num_threads() == three_threads
    est.set_params(n_threads=2)
    np.testing.assert_array_equal(est.decide(X), decisions)   # same decisions either way
    assert seen == [1, 2] and torch.get_num_threads() == three_threads


@pytest.mark.parametrize("bad, error", [(0, ValueError), (1.5, TypeError), ("auto", TypeError)])
def test_bad_n_threads(bad, error, data):
    X, C = data
    with pytest.raises(error, match="n_threads"):
        DecisionFocusedRegressor(GRID, n_threads=bad, max_iter=1).fit(X, C)
