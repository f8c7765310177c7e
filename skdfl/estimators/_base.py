"""Machinery shared by the decision-focused estimators (a skorch net inside)."""

import copy
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import Callback, EarlyStopping, ProgressBar
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from .._warnings import warn
from .._validation import check_finite, check_numeric, check_option, check_scalar
from ..methods._base import DecisionLoss
from ..methods._pool import PooledSolver, SolutionPool, check_solve_ratio
from ..methods._registry import make_loss, resolve_method, task_loss_method
from ..methods._taskmet import METRICS, ConditionalMetric, DiagonalMetric
from ..nn._modules import ACTIVATIONS
from ..optimizers import Optimizer
from ..optimizers._instance import params_to, take_rows
from ._batches import TensorBatches
from ._callbacks import DivergenceCheck, ValidationRegret, forward_in_chunks
from ._output_check import OutputCheck
from ._decision_targets import (ValidationMismatch, check_decisions, decision_loss,
                                from_decisions, match_score, resolve_decision_method,
                                sized_optimizer)
from ._device import check_device, seeded
from ._deciding import (CHUNK_SIZE, check_predictions, check_signs, checked_instance_params,
                        regret_score, request_instance_params)
from ._defaults import (default_out_activation, resolve_gamma, resolve_lambd,
                        start_at_mean_target)
from ._flat_loss import FlatLossCheck, mean_abs_feature
from ._links import OUT_ACTIVATIONS
from ._module import ModuleParamsMixin, build_module, check_module, store_module_params
from ._net import Net
from ._pool_progress import KEY as POOL_LOSS, pool_progress
from ._printlog import print_log
from ._sparse import as_features, dense_tensor
from ._targets import TargetLayout, pack_target
from ._threads import check_n_threads, threads_for, torch_threads
from ._taskmet_net import TaskMetCriterion, TaskMetNet
from ._weights import check_sample_weight, weighted_mean_abs

#: Estimator parameters a method may read (see ``skdfl.methods._registry``).
METHOD_HYPERPARAMETERS = ("gamma", "lambd", "noise", "tau", "n_samples", "sigma",
                          "finite_difference")


class _PackedTargetLoss(torch.nn.Module):
    """skorch passes one packed target tensor (see ``_targets``) to the loss.

    ``fit`` checked the data once, so every batch goes straight to the loss's
    ``batch_loss``, without the per-call checks of its ``forward``.
    """

    def __init__(self, loss, layout, link, solver):
        super().__init__()
        self.loss = loss
        self.layout = layout
        self.link = link
        self.solver = solver

    def forward(self, output, target):
        theta_hat = output if getattr(self.loss, "takes_logits", False) else self.link(output)
        return self.layout.batch_loss(self.loss, theta_hat, target, self.solver)


class DecisionFocusedBase(ModuleParamsMixin, BaseEstimator):
    """fit / decide / score for estimators that train through a decision.

    Subclasses set the link from the network's output to ``theta_hat``
    (``_link``) and whether targets are probabilities (``_probabilities``).
    """

    _probabilities = False
    _out_activations = tuple(OUT_ACTIVATIONS)

    def __init__(self, optimizer, *, method="auto", gamma="auto", lambd="auto", noise="sog",
                 tau=1.0, n_samples=1, sigma=1.0, finite_difference="central",
                 solve_ratio=1.0, metric="diagonal",
                 metric_learning_rate=0.01, inner_steps=1, cg_iter=10, cg_damping=1e-3,
                 per_item=False, module=None, targets="parameters", hidden_layer_sizes=(),
                 activation="relu", out_activation=None, alpha=0.0,
                 batch_size=32, learning_rate_init=0.01, max_iter=100, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, callbacks=None,
                 device="cpu", n_threads=None, random_state=None, verbose=0,
                 **module__params):
        self.optimizer = optimizer
        self.method = method
        self.gamma = gamma
        self.lambd = lambd
        self.noise = noise
        self.tau = tau
        self.n_samples = n_samples
        self.sigma = sigma
        self.finite_difference = finite_difference
        self.solve_ratio = solve_ratio
        self.metric = metric
        self.metric_learning_rate = metric_learning_rate
        self.inner_steps = inner_steps
        self.cg_iter = cg_iter
        self.cg_damping = cg_damping
        self.per_item = per_item
        self.module = module
        self.targets = targets
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.out_activation = out_activation
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.callbacks = callbacks
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose
        store_module_params(self, module__params)   # skorch-style module__* parameters

    def _default_out_activation(self):
        # The link follows where the optimizer's parameters live.
        return default_out_activation(getattr(self, "optimizer_", self.optimizer))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True   # densified one batch at a time
        return tags

    @property
    def _link(self):
        name = self.out_activation or self._default_out_activation()
        return OUT_ACTIVATIONS[name]

    def _check_params(self):
        if not isinstance(self.optimizer, Optimizer):
            raise TypeError(f"optimizer must be an skdfl Optimizer such as "
                            f"ShortestPath(grid=(5, 5)); got {self.optimizer!r}.")
        positive = dict(low=0.0, low_inclusive=False)
        if not (isinstance(self.gamma, str) and self.gamma == "auto"):
            check_scalar(self.gamma, "gamma", low=0.0)
        if not (isinstance(self.lambd, str) and self.lambd == "auto"):
            check_scalar(self.lambd, "lambd", **positive)
        check_solve_ratio(self.solve_ratio)
        for name in ("tau", "sigma", "learning_rate_init", "metric_learning_rate"):
            check_scalar(getattr(self, name), name, **positive)
        check_scalar(self.n_iter_no_change, "n_iter_no_change", kind=numbers.Integral, low=1,
                     allow_none=True)
        for name in ("n_samples", "batch_size", "max_iter", "inner_steps",
                     "cg_iter"):
            check_scalar(getattr(self, name), name, kind=numbers.Integral, low=1)
        for name in ("alpha", "tol", "cg_damping"):
            check_scalar(getattr(self, name), name, low=0.0)
        check_scalar(self.verbose, "verbose", kind=numbers.Integral, low=0)
        check_n_threads(self.n_threads)
        check_scalar(self.validation_fraction, "validation_fraction", low=0.0,
                     low_inclusive=False, high=0.99)
        if self.noise is not None:
            check_option(self.noise, "noise", ("sog", "gumbel"))
        check_option(self.finite_difference, "finite_difference", ("backward", "central"))
        check_option(self.metric, "metric", METRICS)
        check_option(self.activation, "activation", ACTIVATIONS)
        if self.out_activation is not None:
            check_option(self.out_activation, "out_activation", self._out_activations)
        sizes = self.hidden_layer_sizes
        if not (isinstance(sizes, (tuple, list)) and all(
                isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
                for s in sizes)):
            raise ValueError("hidden_layer_sizes must be a tuple of positive integers; "
                             f"got {sizes!r}.")
        for flag in ("per_item", "early_stopping"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise TypeError(f"{flag} must be True or False; got {getattr(self, flag)!r}.")
        check_module(self, {"hidden_layer_sizes": (), "activation": "relu"})
        return self._torch_device()

    def _torch_device(self):
        return check_device(self.device)

    def _extra_callbacks(self):
        if self.callbacks is None:
            return []
        if not isinstance(self.callbacks, (list, tuple)):
            raise TypeError("callbacks must be a list of skorch callbacks; got "
                            f"{type(self.callbacks).__name__}.")
        named = []
        for i, item in enumerate(self.callbacks):
            name, callback = item if isinstance(item, tuple) else (f"user_{i}", item)
            if not isinstance(callback, Callback):
                raise TypeError("callbacks must hold skorch.callbacks.Callback instances; "
                                f"got {callback!r} at position {i}.")
            named.append((name, callback))
        return named

    def _validate_X(self, X, reset):
        X = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite=False,
                          accept_sparse="csr")
        check_finite(X, "X")
        return X

    def _validate_Xy(self, X, y):
        if y is not None:
            y = check_numeric(y, "y")
            check_finite(y, "y")  # before sklearn's own, terser message
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64,
                             ensure_all_finite=False, accept_sparse="csr")
        check_finite(X, "X")
        if y.ndim != 2:
            raise ValueError("y must be 2-D, shape (n_samples, n_params): one row of true "
                             f"parameters per instance; got shape {y.shape}.")
        return X, y

    def _build_module(self, n_features, n_params):
        return build_module(self, n_features, n_params)

    def _initial_module(self, n_features, y, weights=None, decisions=False):
        module = self._build_module(n_features, y.shape[1])
        # A sigmoid link starts at the mean target: for a classifier, the base rate of
        # its labels; an identity link too, where y holds parameters (observed
        # decisions are no costs to start from). See start_at_mean_target.
        if self._link is OUT_ACTIVATIONS["sigmoid"]:
            start_at_mean_target(module, y, weights)
        elif self._link is OUT_ACTIVATIONS["identity"] and not decisions:
            start_at_mean_target(module, y, weights, link="identity")
        return module

    def _target_scale(self, y, weights=None):
        # For a linear objective a positive rescaling of theta changes no
        # decision, so training on unit-scale targets lets one learning rate
        # serve raw prices and costs alike.
        if self._probabilities or not self.optimizer_.is_linear:
            return 1.0
        scale = weighted_mean_abs(y, weights)
        return scale if scale > 0 else 1.0

    def _make_loss(self, method, x_true, device, seed, pool=None):
        if isinstance(self.method, DecisionLoss):
            # A user's own loss, bound to the fitted copy of the optimizer.
            loss = copy.deepcopy(self.method)
            loss.optimizer = self.optimizer_
            return loss
        hyperparameters = self._hyperparameters()
        return make_loss(
            method, self.optimizer_, probabilities=self._fits_probabilities(),
            solution_size=max(float(x_true.ne(0).sum(-1).double().mean()), 1.0),
            generator=torch.Generator(device=device).manual_seed(seed), pool=pool,
            **hyperparameters)

    def _fits_probabilities(self):
        """Whether two-stage fits by log-loss: a classifier, or a sigmoid regressor of
        probabilities (squared error through the sigmoid vanishes where it saturates:
        at the paper's budget-allocation scale it drove every prediction to about 0)."""
        return self._probabilities or (
            self._link is torch.sigmoid
            and getattr(self.optimizer_, "theta_domain", "real") == "probability")

    def _hyperparameters(self):
        """The method hyperparameters this fit uses, ``"auto"`` resolved."""
        values = {name: getattr(self, name) for name in METHOD_HYPERPARAMETERS}
        values["gamma"] = self.gamma_
        values["lambd"] = self.lambd_
        return values

    def _resolve_method(self):
        if from_decisions(self):
            return resolve_decision_method(self)
        if isinstance(self.method, DecisionLoss):
            return self.method.method_name or type(self.method).__name__
        return resolve_method(self.method, self.optimizer_, self._probabilities)

    def _solver(self, pool, layout, device, seed):
        """The optimizer that training solves with: pooled when ``solve_ratio < 1``."""
        solve_ratio = check_solve_ratio(self.solve_ratio)
        if solve_ratio == 1.0:
            return self.optimizer_
        if layout.params and self.optimizer_.pool_feasible(
                pool.decisions[:1], **take_rows(layout.params, slice(0, 1))) is None:
            raise ValueError(
                f"solve_ratio={self.solve_ratio} takes decisions from a pool of other "
                f"instances' solutions, and with per-instance {sorted(layout.params)} "
                f"{type(self.optimizer_).__name__} cannot tell which of them suit a row; "
                "use solve_ratio=1.0.")
        return PooledSolver(self.optimizer_, pool, solve_ratio, seed)

    def _criterion_and_net(self, x_true, device, seed, n_features, layout):
        """The skorch criterion and net class (with its extra arguments) of the method."""
        n_params = layout.n_params
        if self.method_ != "taskmet":
            # One pool of decisions, shared by pooled solving and the losses
            # that compare with it (contrastive, ranking).
            pool = SolutionPool(x_true.to(device))
            loss = self._make_loss(self.method_, x_true, device, seed, pool)
            if from_decisions(self):
                loss = decision_loss(loss, self.method_)
            solver = self._solver(pool, layout, device, seed)
            return _PackedTargetLoss(loss, layout, self._link, solver), Net, {}
        try:
            task_method = task_loss_method(self.optimizer_)
        except ValueError as exc:
            raise ValueError(f"method 'taskmet' needs a linear optimizer or one with a "
                             f"relaxation for its task loss; {type(self.optimizer_).__name__} "
                             "has neither.") from exc
        metric = (DiagonalMetric(n_params) if self.metric == "diagonal"
                  else ConditionalMetric(n_features, n_params))
        criterion = TaskMetCriterion(self._make_loss(task_method, x_true, device, seed),
                                     metric, layout, self._link)
        return criterion, TaskMetNet, dict(
            inner_steps=int(self.inner_steps), cg_iter=int(self.cg_iter),
            cg_damping=float(self.cg_damping), metric_lr=float(self.metric_learning_rate))

    def fit(self, X, y, sample_weight=None, **params):
        """Train the model for the decisions it leads to.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features, one decision instance per row. A sparse matrix stays
            sparse and is densified one batch at a time.
        y : array-like of shape (n_samples, n_params)
            True parameters of each instance's optimization problem (with
            ``targets="decisions"``: its observed optimal decision, shape
            ``(n_samples, n_vars)``).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each instance's loss: a batch's loss is
            ``sum_i w_i l_i / sum_i w_i``, so an integer weight counts a
            row as that many copies within its batch (with one batch of
            every row, ``batch_size >= n_samples``, a deterministic method
            such as ``"two-stage"`` or ``"relaxation"`` then fits as on the
            repeated rows, up to float rounding). ``"dbb"``,
            ``"imle"`` and ``"aimle"``, which solve at parameters shifted by
            the loss gradient, shift by the weighted gradient, as their
            estimators define. The target scale and the validation regret
            of early stopping are weighted too; a
            :class:`~skdfl.methods.DecisionLoss` of one's own needs
            ``instance_losses`` for weights. Requested through metadata
            routing with ``set_fit_request(sample_weight=True)``.
        **params : array-like of shape (n_samples, ...)
            Per-instance problem data, named in the optimizer's
            ``instance_params`` (e.g. ``capacity`` for a
            :class:`~skdfl.optimizers.Knapsack`): known when deciding, not
            predicted. Every solve of training uses each row's own values;
            ``decide`` and ``score`` then need them too. Requested through
            metadata routing by default, so that ``GridSearchCV`` and
            ``cross_validate`` split them per fold.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        device = self._check_params()
        decisions = from_decisions(self)   # y holds observed decisions, not parameters
        extra_callbacks = self._extra_callbacks()
        self.optimizer.check_param_names(params)
        X, y = self._validate_Xy(X, y)
        weights = check_sample_weight(sample_weight, X.shape[0])
        self.optimizer_ = (sized_optimizer(self.optimizer, y) if decisions
                           else clone(self.optimizer).with_n_params(y.shape[1], name="y"))
        params = self.optimizer_.check_params(params, X.shape[0])
        if decisions:
            check_decisions(self.optimizer_, y, params)
        else:
            self.optimizer_.check_theta(y, "y")
        self.method_ = self._resolve_method()
        # decisions have no costs to rescale
        self.target_scale_ = 1.0 if decisions else self._target_scale(y, weights)
        self.instance_params_ = tuple(sorted(params))
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        if decisions:
            theta, x_true = None, torch.as_tensor(y)
        else:
            theta = torch.as_tensor(y / self.target_scale_)
            with torch_threads(threads_for(self.n_threads, min(len(y), CHUNK_SIZE), None,
                                           self.optimizer_.n_vars)):
                x_true = self.optimizer_._solve(theta, **params)
        # decisions train no relaxation (refused), so "auto" has no costs to read there
        self.gamma_ = (1.0 if decisions and self.gamma == "auto"
                       else resolve_gamma(self.gamma, self.optimizer_, theta, x_true, params,
                                          weights))
        self.lambd_ = resolve_lambd(self.lambd, self.method_, self.batch_size, decisions)
        target = pack_target(theta, x_true)
        features = as_features(X)
        params = params_to(params, device)
        row_weights = None if weights is None else torch.as_tensor(weights, device=device)
        layout = TargetLayout(0 if decisions else y.shape[1], x_true.shape[1], params,
                              row_weights)

        callbacks = [("divergence", DivergenceCheck(self.method_)),
                     ("flat_loss", FlatLossCheck(self.method_, self._hyperparameters(),
                                                 mean_abs_feature(features)))]
        train_split, train_decisions = None, x_true
        if self.early_stopping:
            train, valid = train_test_split(np.arange(X.shape[0]),
                                            test_size=self.validation_fraction,
                                            random_state=seed)
            if len(train) == 0 or len(valid) == 0:
                raise ValueError(f"early_stopping needs at least one training and one "
                                 f"validation instance; got n_samples={X.shape[0]} and "
                                 f"validation_fraction={self.validation_fraction}.")
            train_split = predefined_split(Dataset(features[valid], target[valid]))
            valid_params = take_rows(params, torch.as_tensor(valid, device=device))
            valid_weights = None if row_weights is None else row_weights[valid]
            if decisions:
                monitor, validation = "valid_mismatch", ValidationMismatch(
                    self.optimizer_, dense_tensor(features[valid], device),
                    x_true[valid].to(device),
                    self._link, valid_params, valid_weights)
            else:
                monitor, validation = "valid_regret", ValidationRegret(
                    self.optimizer_, dense_tensor(features[valid], device),
                    theta[valid].to(device),
                    x_true[valid].to(device), self._link, valid_params, valid_weights)
            callbacks.append((monitor, validation))
            features, target = features[train], target[train]
            train_decisions = x_true[train]   # the pool must not see validation optima
        else:
            monitor = "train_loss"
            progress = (None if self.n_iter_no_change is None else
                        pool_progress(self.method, self.method_, features, target, seed))
            if progress is not None:
                monitor = POOL_LOSS         # the batches' loss rises as the pool grows
                callbacks.append(("pool_progress", progress))
        if self.n_iter_no_change is not None:
            callbacks.append(("early_stopping", EarlyStopping(
                monitor=monitor, patience=self.n_iter_no_change, threshold=self.tol,
                threshold_mode="abs", lower_is_better=True, load_best=self.early_stopping,
                sink=print if self.verbose else _silent)))
        # After early stopping, which may load the best epoch's parameters at the end.
        saturating = self._link in (OUT_ACTIVATIONS["sigmoid"], OUT_ACTIVATIONS["softplus"])
        callbacks.append(("output_check", OutputCheck(
            self._link, None if not saturating else
            1.0 if decisions else float(theta.abs().median()))))
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks += extra_callbacks

        with seeded(seed, device):
            criterion, net_class, net_params = self._criterion_and_net(
                train_decisions, device, seed, X.shape[1], layout)
            self.net_ = net_class(
                module=self._initial_module(X.shape[1], y / self.target_scale_, weights,
                                            decisions),
                criterion=criterion,
                optimizer=torch.optim.Adam,
                optimizer__weight_decay=float(self.alpha),
                # One kernel for the whole update: at these model sizes the
                # per-tensor steps cost about a fifth of a batch.
                optimizer__fused=True,
                lr=float(self.learning_rate_init),
                max_epochs=int(self.max_iter),
                batch_size=int(self.batch_size),
                iterator_train=TensorBatches,
                iterator_train__shuffle=True,
                iterator_valid=TensorBatches,
                train_split=train_split,
                callbacks=callbacks,
                device=device,
                verbose=int(self.verbose),
                callbacks__print_log=print_log(),
                **net_params,
            )
            self.net_.initialize()   # its module's size sets the threads
            with torch_threads(threads_for(self.n_threads, self.batch_size, self.net_.module_,
                                           layout.n_vars)):
                self.net_.partial_fit(features, target)
        self.metric_ = getattr(self.net_.criterion_, "metric", None)
        self._record_history(monitor)
        return self

    def _record_history(self, monitor="valid_regret"):
        history = self.net_.history
        self.n_iter_ = len(history)
        self.loss_curve_ = [float(v) for v in history[:, "train_loss"]]
        if self.early_stopping:
            # as score: minus the regret, or the share of matching decisions
            self.validation_scores_ = [(1.0 - float(v)) if monitor == "valid_mismatch"
                                       else -float(v) for v in history[:, monitor]]
            self.best_validation_score_ = max(self.validation_scores_)
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        if self.n_iter_ == self.max_iter and self.n_iter_no_change is not None:
            warn(f"{type(self).__name__} reached max_iter={self.max_iter} epochs before "
                 "the monitored loss stopped improving.", ConvergenceWarning)

    def _forward(self, X):
        """The network's raw output on ``X`` (numpy, float64)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        with self._deciding_threads(X.shape[0]):
            out = forward_in_chunks(self.net_, as_features(X), CHUNK_SIZE)
        return out.double().cpu()

    def _deciding_threads(self, n_rows):
        """Torch threads for predicting and deciding ``n_rows`` rows (see ``_threads``)."""
        return torch_threads(threads_for(self.n_threads, min(n_rows, CHUNK_SIZE),
                                         self.net_.module_, self.optimizer_.n_vars))

    def _decision_parameters(self, X):
        """``theta_hat`` on the scale of the data: what the optimizer decides with."""
        return check_predictions(self._link(self._forward(X)).numpy() * self.target_scale_)

    def _get_metadata_request(self):
        # The optimizer's per-instance parameters are requested by default,
        # so that meta-estimators route them to fit and score, split per fold.
        return request_instance_params(super()._get_metadata_request(), self.optimizer,
                                       ("fit", "score"))

    def decide(self, X, **params):
        """Decisions of the optimizer on the predicted parameters.

        Rows are processed in chunks of ``CHUNK_SIZE`` instances, so the
        working memory beyond ``X`` and the returned decisions stays bounded
        however many instances are decided.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        **params : array-like of shape (n_samples, ...)
            Per-instance problem data, as in ``fit``; required when ``fit``
            had them.

        Returns
        -------
        decisions : ndarray of shape (n_samples, n_vars)
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        params = checked_instance_params(self, params, X.shape[0], "decide")
        decisions = np.empty((X.shape[0], self.optimizer_.n_vars))
        with self._deciding_threads(X.shape[0]):
            self._decide_chunks(X, params, decisions)
        return decisions

    def _decide_chunks(self, X, params, decisions):
        for i in range(0, X.shape[0], CHUNK_SIZE):
            chunk = dense_tensor(X[i:i + CHUNK_SIZE])
            theta_hat = self._link(forward_in_chunks(self.net_, chunk, CHUNK_SIZE).double())
            theta_hat = check_predictions(theta_hat.cpu().numpy() * self.target_scale_, i)
            decisions[i:i + CHUNK_SIZE] = self.optimizer_.solve(
                check_signs(theta_hat, self.optimizer_, i),
                **take_rows(params, slice(i, i + CHUNK_SIZE)))

    def score(self, X, y, sample_weight=None, **params):
        """Minus the normalized regret of the decisions on ``X`` (higher is better).

        With ``targets="decisions"``: the share of rows whose decision equals
        the observed one in ``y`` (1 is best); the regret needs the true
        parameters, :func:`skdfl.metrics.regret`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples, n_params)
            True parameters (with ``targets="decisions"``: observed decisions,
            shape (n_samples, n_vars)).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each instance: ``sum_i w_i regret_i / sum_i w_i
            |f(x*_i, theta_i)|``, so an integer weight counts a row as that
            many copies. Requested through metadata routing with
            ``set_score_request(sample_weight=True)``.
        **params : array-like of shape (n_samples, ...)
            Per-instance problem data, as in ``fit``; required when ``fit``
            had them.

        Returns
        -------
        score : float
            ``-regret(y, theta_hat, optimizer=optimizer_, sample_weight=sample_weight,
            **params)``, or the (weighted) share of matching decisions.
        """
        if from_decisions(self):
            decisions = self.decide(X, **params)
            return match_score(decisions, y, check_sample_weight(sample_weight, len(decisions)))
        theta_hat = check_signs(self._decision_parameters(X), self.optimizer_)
        params = checked_instance_params(self, params, len(theta_hat), "score")
        weights = check_sample_weight(sample_weight, len(theta_hat))
        with self._deciding_threads(len(theta_hat)):   # its solves too, not only the forward
            return regret_score(y, theta_hat, self.optimizer_, params, weights)


def _silent(*args, **kwargs):
    """A sink that prints nothing."""


__all__ = ["DecisionFocusedBase"]
