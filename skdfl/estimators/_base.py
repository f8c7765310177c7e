"""Machinery shared by the decision-focused estimators (a skorch net inside)."""

import numbers
import warnings

import numpy as np
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from .._validation import check_finite, check_option, check_scalar
from ..methods._registry import make_loss, resolve_method
from ..metrics import regret
from ..nn import MLP, PerItem
from ..nn._modules import ACTIVATIONS
from ..optimizers import Optimizer
from ._callbacks import DivergenceCheck, ValidationRegret, forward_in_chunks


class _PackedTargetLoss(torch.nn.Module):
    """skorch passes one target tensor: the true theta and its decisions side by side."""

    def __init__(self, loss, n_params):
        super().__init__()
        self.loss = loss
        self.n_params = n_params

    def forward(self, theta_hat, target):
        theta, x_true = target[:, :self.n_params], target[:, self.n_params:]
        return self.loss(theta_hat, theta, x_true)


class DecisionFocusedMixin:
    """fit / predict / decide / score for estimators that train through a decision."""

    def _check_params(self):
        if not isinstance(self.optimizer, Optimizer):
            raise TypeError(f"optimizer must be an skdfl Optimizer such as "
                            f"ShortestPath(grid=(5, 5)); got {self.optimizer!r}.")
        check_scalar(self.lambd, "lambd", low=0.0, low_inclusive=False)
        check_scalar(self.tau, "tau", low=0.0, low_inclusive=False)
        check_scalar(self.sigma, "sigma", low=0.0, low_inclusive=False)
        check_scalar(self.n_samples, "n_samples", kind=numbers.Integral, low=1)
        if self.noise is not None:
            check_option(self.noise, "noise", ("sog", "gumbel"))
        check_scalar(self.batch_size, "batch_size", kind=numbers.Integral, low=1)
        check_scalar(self.learning_rate_init, "learning_rate_init", low=0.0,
                     low_inclusive=False)
        check_scalar(self.max_iter, "max_iter", kind=numbers.Integral, low=1)
        check_scalar(self.alpha, "alpha", low=0.0)
        check_scalar(self.validation_fraction, "validation_fraction", low=0.0,
                     low_inclusive=False, high=0.99)
        check_scalar(self.n_iter_no_change, "n_iter_no_change", kind=numbers.Integral, low=1)
        check_scalar(self.tol, "tol", low=0.0)
        check_scalar(self.verbose, "verbose", kind=numbers.Integral, low=0)
        check_option(self.activation, "activation", ACTIVATIONS)
        sizes = self.hidden_layer_sizes
        if not (isinstance(sizes, (tuple, list)) and all(
                isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
                for s in sizes)):
            raise ValueError("hidden_layer_sizes must be a tuple of positive integers; "
                             f"got {sizes!r}.")
        for flag in ("per_item", "early_stopping"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise TypeError(f"{flag} must be True or False; got {getattr(self, flag)!r}.")
        return self._torch_device()

    def _torch_device(self):
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device must name a torch device such as 'cpu' or 'cuda'; "
                             f"got {self.device!r}.") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} was requested but CUDA is not "
                             "available on this machine; use device='cpu'.")
        return device

    def _validate_X(self, X, reset):
        X = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite=False)
        check_finite(X, "X")
        return X

    def _validate_Xy(self, X, y):
        if y is not None:
            check_finite(np.asarray(y), "y")  # before sklearn's own, terser message
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64,
                             ensure_all_finite=False)
        check_finite(X, "X")
        check_finite(y, "y")
        if y.ndim != 2:
            raise ValueError("y must be 2-D, shape (n_samples, n_params): one row of true "
                             f"parameters per instance; got shape {y.shape}.")
        return X, y

    def _item_count(self, n_features):
        n_items = getattr(self.optimizer_, "n_items", None) or self.optimizer_.n_params
        if n_features % n_items or self.optimizer_.n_params % n_items:
            raise ValueError(
                f"per_item=True needs X's width to split into {n_items} items; got "
                f"{n_features} features, which is not a multiple of {n_items}.")
        return n_items

    def _build_module(self, n_features, n_params):
        if not self.per_item:
            return MLP(n_features, n_params, tuple(self.hidden_layer_sizes), self.activation)
        n_items = self._item_count(n_features)
        shared = MLP(n_features // n_items, n_params // n_items,
                     tuple(self.hidden_layer_sizes), self.activation)
        return PerItem(shared, n_items)

    def _target_scale(self, y):
        # For a linear objective a positive rescaling of theta changes no
        # decision, so training on unit-scale targets lets one learning rate
        # serve raw prices and costs alike.
        if not self.optimizer_.is_linear:
            return 1.0
        scale = float(np.mean(np.abs(y)))
        return scale if scale > 0 else 1.0

    def fit(self, X, y):
        """Train the model for the decisions it leads to.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, one decision instance per row.
        y : array-like of shape (n_samples, n_params)
            True parameters of each instance's optimization problem.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        device = self._check_params()
        X, y = self._validate_Xy(X, y)
        self.optimizer_ = clone(self.optimizer).with_n_params(y.shape[1], name="y")
        self.optimizer_.check_theta(y, "y")
        self.method_ = resolve_method(self.method, self.optimizer_)
        self.target_scale_ = self._target_scale(y)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        theta = torch.as_tensor(y / self.target_scale_)
        x_true = self.optimizer_._solve(theta)
        target = torch.cat([theta, x_true], dim=1).float()
        loss = make_loss(
            self.method_, self.optimizer_, lambd=float(self.lambd), noise=self.noise,
            tau=float(self.tau), n_samples=int(self.n_samples), sigma=float(self.sigma),
            solution_size=max(float(x_true.ne(0).sum(-1).double().mean()), 1.0),
            generator=torch.Generator(device=device).manual_seed(seed))
        features = torch.tensor(X, dtype=torch.float32)

        callbacks = [("divergence", DivergenceCheck(self.method_))]
        train_split = None
        if self.early_stopping:
            index = np.arange(len(X))
            train, valid = train_test_split(index, test_size=self.validation_fraction,
                                            random_state=seed)
            if len(train) == 0 or len(valid) == 0:
                raise ValueError(f"early_stopping needs at least one training and one "
                                 f"validation instance; got n_samples={len(X)} and "
                                 f"validation_fraction={self.validation_fraction}.")
            train_split = predefined_split(Dataset(features[valid], target[valid]))
            callbacks.append(("valid_regret", ValidationRegret(
                self.optimizer_, features[valid].to(device), theta[valid].to(device),
                target[valid, y.shape[1]:].to(device))))
            monitor = "valid_regret"
            features, target = features[train], target[train]
        else:
            monitor = "train_loss"
        callbacks.append(("early_stopping", EarlyStopping(
            monitor=monitor, patience=self.n_iter_no_change, threshold=self.tol,
            threshold_mode="abs", lower_is_better=True, load_best=self.early_stopping,
            sink=print if self.verbose else _silent)))

        with _seeded(seed, device):
            self.net_ = NeuralNet(
                module=self._build_module(X.shape[1], y.shape[1]),
                criterion=_PackedTargetLoss(loss, y.shape[1]),
                optimizer=torch.optim.Adam,
                optimizer__weight_decay=float(self.alpha),
                lr=float(self.learning_rate_init),
                max_epochs=int(self.max_iter),
                batch_size=int(self.batch_size),
                iterator_train__shuffle=True,
                train_split=train_split,
                callbacks=callbacks,
                device=device,
                verbose=int(self.verbose),
            )
            self.net_.fit(features, target)
        self._record_history()
        return self

    def _record_history(self):
        history = self.net_.history
        self.n_iter_ = len(history)
        self.loss_curve_ = [float(v) for v in history[:, "train_loss"]]
        if self.early_stopping:
            self.validation_scores_ = [-float(v) for v in history[:, "valid_regret"]]
            self.best_validation_score_ = max(self.validation_scores_)
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        if self.n_iter_ == self.max_iter:
            warnings.warn(f"{type(self).__name__} reached max_iter={self.max_iter} epochs "
                          "before the monitored loss stopped improving.", ConvergenceWarning)

    def _predict_theta(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        out = forward_in_chunks(self.net_, torch.tensor(X, dtype=torch.float32))
        return out.double().cpu().numpy() * self.target_scale_

    def decide(self, X):
        """Decisions of the optimizer on the predicted parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        decisions : ndarray of shape (n_samples, n_vars)
        """
        theta_hat = self._decision_parameters(X)
        return self.optimizer_.solve(theta_hat)

    def score(self, X, y, sample_weight=None):
        """Minus the normalized regret of the decisions on ``X`` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples, n_params)
            True parameters.
        sample_weight : None
            Not supported; must be None.

        Returns
        -------
        score : float
            ``-regret(y, theta_hat, optimizer=optimizer_)``.
        """
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported by score; got an array.")
        theta_hat = self._decision_parameters(X)
        y = np.asarray(y, dtype=np.float64) if not hasattr(y, "iloc") else y.to_numpy(float)
        if y.ndim != 2 or y.shape != theta_hat.shape:
            raise ValueError(f"y must have shape {theta_hat.shape} (n_samples, n_params); "
                             f"got {y.shape}.")
        return -regret(y, theta_hat, optimizer=self.optimizer_)


def _silent(*args, **kwargs):
    """A sink that prints nothing."""


class _seeded:
    """Seed torch's generators for one fit without touching the caller's state."""

    def __init__(self, seed, device):
        self.seed, self.device = seed, device

    def __enter__(self):
        devices = []
        if self.device.type == "cuda":
            devices = [self.device.index or torch.cuda.current_device()]
        self._fork = torch.random.fork_rng(devices=devices)
        self._fork.__enter__()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)


__all__ = ["DecisionFocusedMixin"]
