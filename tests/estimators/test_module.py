"""module=: a user's own torch network (a small CNN here), skorch-style module__* parameters."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from skdfl import DecisionFocusedClassifier, DecisionFocusedRegressor
from skdfl.methods._registry import METHODS
from skdfl.metrics import regret
from skdfl.optimizers import Knapsack, ShortestPath

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = ShortestPath(grid=(3, 3))   # 12 arcs


class TinyCNN(torch.nn.Module):
    """Rows of 36 pixels as 6x6 images: one convolution, a linear head."""

    def __init__(self, n_channels=2, n_outputs=12):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, n_channels, kernel_size=3, padding=1)
        self.head = torch.nn.Linear(n_channels * 36, n_outputs)

    def forward(self, X):
        images = X.reshape(-1, 1, 6, 6)
        return self.head(torch.relu(self.conv(images)).flatten(1))


class ItemNet(torch.nn.Module):
    """One item's 3 features to its value."""

    def __init__(self, width=4):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(3, width), torch.nn.ReLU(),
                                        torch.nn.Linear(width, 1))

    def forward(self, X):
        return self.body(X)


@pytest.fixture(scope="module")
def images():
    """6x6 'images' whose pixels drive the 12 arc costs through a fixed linear map."""
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(160, 36))
    costs = 1.0 + X @ rng.uniform(size=(36, 12)) / 6
    return X[:120], costs[:120], X[120:], costs[120:]


def cnn(**params):
    params = {"max_iter": 2, "random_state": 0, "module": TinyCNN, **params}
    return DecisionFocusedRegressor(GRID, **params)


def test_a_cnn_learns_the_costs_from_images(images):
    X, C, X_test, C_test = images
    est = cnn(method="spo+", max_iter=10, n_iter_no_change=None, learning_rate_init=0.05,
              module__n_channels=3).fit(X, C)
    assert isinstance(est.net_.module_, TinyCNN)
    assert est.net_.module_.conv.out_channels == 3
    trained = regret(C_test, est.predict(X_test), optimizer=GRID)
    untrained = regret(C_test, cnn(max_iter=1, learning_rate_init=1e-6).fit(X, C)
                       .predict(X_test), optimizer=GRID)
    assert trained < 0.5 * untrained
    assert est.score(X_test, C_test) == pytest.approx(-trained)


@pytest.mark.parametrize("method", [m for m in METHODS if m != "auto"])
def test_every_method_trains_a_module_of_ones_own(images, method):
    X, C, _, _ = images
    est = cnn(method=method, max_iter=1, batch_size=40).fit(X[:80], C[:80])
    assert est.method_ == method and isinstance(est.net_.module_, TinyCNN)
    assert est.decide(X[:5]).shape == (5, 12)


def test_per_item_shares_the_module_across_items():
    rng = np.random.RandomState(0)
    n_items = 8
    features = rng.normal(size=(60, n_items, 3))
    values = np.abs(features @ np.array([1.0, -0.5, 0.3])) + 0.1
    X = features.reshape(60, -1)
    knapsack = Knapsack(weights=np.ones(n_items), capacity=3)
    est = DecisionFocusedRegressor(knapsack, method="spo+", module=ItemNet, module__width=6,
                                   per_item=True, max_iter=2, random_state=0).fit(X, values)
    shared = est.net_.module_.module
    assert isinstance(shared, ItemNet) and shared.body[0].out_features == 6
    # one network for every item: the prediction of item j depends on its features only
    moved = X.copy()
    moved[:, :3] += 1.0
    delta = est.predict(moved) - est.predict(X)
    assert np.abs(delta[:, 0]).max() > 0 and np.abs(delta[:, 1:]).max() == 0


def test_an_instance_is_copied_so_refits_start_again_and_it_is_never_trained(images):
    X, C, X_test, _ = images
    torch.manual_seed(0)
    net = TinyCNN()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    first = cnn(module=net, method="dbb").fit(X, C)
    second = cnn(module=net, method="dbb").fit(X, C)
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])
    assert first.net_.module_ is not net
    np.testing.assert_array_equal(first.predict(X_test), second.predict(X_test))
    # refitting the same estimator starts from the instance's weights again
    again = first.predict(X_test)
    np.testing.assert_array_equal(first.fit(X, C).predict(X_test), again)


def test_a_class_is_built_under_random_state(images):
    X, C, X_test, _ = images
    first, second, other = (cnn(random_state=seed).fit(X, C).predict(X_test)
                            for seed in (1, 1, 2))
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def test_module_params_in_get_params_set_params_clone_and_pickle(images):
    X, C, X_test, _ = images
    est = cnn(module__n_channels=3)
    assert est.get_params()["module__n_channels"] == 3
    assert "module__n_channels=3" in repr(est)
    est.set_params(module__n_channels=4, module__n_outputs=12, max_iter=1)
    copy = clone(est)
    assert copy.get_params()["module__n_channels"] == 4
    assert copy.get_params()["module__n_outputs"] == 12 and copy.max_iter == 1
    copy.fit(X, C)
    assert copy.net_.module_.conv.out_channels == 4
    restored = pickle.loads(pickle.dumps(copy))
    np.testing.assert_array_equal(restored.predict(X_test), copy.predict(X_test))
    np.testing.assert_array_equal(restored.decide(X_test), copy.decide(X_test))


def test_grid_search_over_module_params(images):
    X, C, _, _ = images
    search = GridSearchCV(cnn(max_iter=1), {"module__n_channels": [1, 3]}, cv=2).fit(X, C)
    assert [p["module__n_channels"] for p in search.cv_results_["params"]] == [1, 3]
    best = search.best_estimator_
    assert best.net_.module_.conv.out_channels == search.best_params_["module__n_channels"]


def test_a_classifier_takes_a_module_too(images):
    X, C, X_test, _ = images
    labels = (C > np.median(C)).astype(int)
    clf = DecisionFocusedClassifier(GRID, method="two-stage", module=TinyCNN, max_iter=2,
                                    random_state=0).fit(X, labels)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (40, 12) and ((proba > 0) & (proba < 1)).all()


@pytest.mark.parametrize("params, error, match", [
    (dict(module=TinyCNN, module__n_outputs=5), ValueError,
     r"must map a batch of rows, shape \(B, 36\), to \(B, 12\).*returned \(2, 5\)"),
    (dict(module=TinyCNN, module__bad=1), TypeError,
     r"could not be built from the module__\* parameters \['bad'\]"),
    (dict(module=None, module__n_channels=3), ValueError, "module__n_channels was given, but"),
    (dict(module=TinyCNN(), module__n_channels=3), ValueError,
     "build the module from its class.*module=TinyCNN"),
    (dict(module=TinyCNN, hidden_layer_sizes=(8,)), ValueError,
     "hidden_layer_sizes shapes the built-in MLP"),
    (dict(module="cnn"), TypeError, "module must be None, a torch.nn.Module subclass"),
    (dict(module=ItemNet), ValueError,
     r"failed on a batch of rows, a float32 tensor of shape \(2, 36\): RuntimeError"),
])
def test_bad_modules_get_a_clear_error(images, params, error, match):
    X, C, _, _ = images
    with pytest.raises(error, match=match):
        cnn(**params).fit(X, C)


def test_an_unknown_keyword_is_refused():
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_channels'"):
        DecisionFocusedRegressor(GRID, n_channels=3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_module_of_ones_own_on_cuda(images):
    X, C, X_test, _ = images
    est = cnn(device="cuda", method="imle").fit(X, C)
    assert next(est.net_.module_.parameters()).device.type == "cuda"
    cpu = cnn(method="imle").fit(X, C)
    assert est.decide(X_test).shape == cpu.decide(X_test).shape


class _ModeRecorder(torch.nn.Module):
    """A linear model that records, per call, whether it ran in training mode."""

    modes = []

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(5, 40)

    def forward(self, X):
        type(self).modes.append((self.training, torch.is_grad_enabled()))
        return self.linear(X)


def test_training_batches_run_in_train_mode_and_the_rest_in_eval_mode():
    # The net switches a module's mode only when it changes: after the
    # validation loss and regret, which run the module in eval mode, the next
    # training batch must still run in train mode.
    from skdfl.datasets import make_shortest_path
    X, C = make_shortest_path(80, grid=(5, 5), random_state=0)[:2]
    _ModeRecorder.modes = []
    est = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method="spo+",
                                   module=_ModeRecorder, early_stopping=True, batch_size=32,
                                   max_iter=3, n_iter_no_change=None, random_state=0)
    est.fit(X, C)
    modes = _ModeRecorder.modes
    assert (True, True) in modes and (False, False) in modes
    # Every call with gradients on (a training batch) ran in train mode.
    assert all(training for training, grad in modes if grad)
    _ModeRecorder.modes = []
    est.decide(X[:5])
    assert _ModeRecorder.modes == [(False, False)]


class _Recorder(Callback):
    """Logs every batch-level event it sees, with its label, into ``events``."""

    def __init__(self, label, events):
        self.label, self.events = label, events

    def on_batch_begin(self, net, training=False, **kwargs):
        self.events.append((self.label, "begin", training))

    def on_grad_computed(self, net, named_parameters, training=False, **kwargs):
        self.events.append((self.label, "grad", len(list(named_parameters))))

    def on_batch_end(self, net, training=False, **kwargs):
        self.events.append((self.label, "end", training))


def test_net_calls_every_overridden_handler_in_order_and_survives_pickle():
    # The net skips skorch's empty handlers; every handler a callback
    # defines must still run, once per event, in the callbacks' order.
    from skdfl.datasets import make_shortest_path
    X, C = make_shortest_path(64, grid=(5, 5), random_state=0)[:2]
    events = []
    est = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method="spo+", batch_size=32,
                                   max_iter=2, n_iter_no_change=None, random_state=0,
                                   callbacks=[_Recorder("a", events), _Recorder("b", events)])
    est.fit(X, C)
    batch = [("a", "begin", True), ("b", "begin", True), ("a", "grad", 2), ("b", "grad", 2),
             ("a", "end", True), ("b", "end", True)]
    assert events == batch * 4           # 2 epochs of 2 batches, no validation
    # A pickled net, or one whose callbacks were initialized anew, calls its
    # own callbacks' handlers (not those of the callbacks it had before).
    for net in (pickle.loads(pickle.dumps(est)).net_, est.net_.initialize_callbacks()):
        handlers = [handler.__self__ for handler in net._handlers("on_batch_end")]
        callbacks = dict(net.callbacks_)
        assert handlers[-2:] == [callbacks["user_0"], callbacks["user_1"]]
