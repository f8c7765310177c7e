"""The optimizer protocol: what every decision problem provides."""

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._tensor import as_batch
from .._validation import check_option

SENSES = ("minimize", "maximize")
#: The parameter domains an optimizer may declare (``Optimizer.theta_domain``).
THETA_DOMAINS = ("real", "nonnegative", "probability")


class Optimizer(BaseEstimator):
    """Base class of the batched decision problems.

    A subclass describes one family of optimization problems whose objective
    depends on an unknown parameter vector ``theta``. It is a scikit-learn
    ``BaseEstimator`` only so that ``clone``, ``get_params`` and nested grid
    search keys (``optimizer__k``) work; it is never fitted.

    Subclasses implement ``n_params``, ``n_vars`` and ``_solve`` (a batched
    exact solver on float tensors). Linear problems inherit ``objective``.

    Attributes
    ----------
    sense : {"minimize", "maximize"}
        Whether smaller or larger objective values are better.
    is_linear : bool
        True when ``objective(x, theta) == (x * theta).sum(-1)``.
    any_sign : bool
        True when ``solve`` is exact for parameters of either sign. The
        perturbation methods (spo+, dbb, imle, fy) need it: they solve at
        shifted or noisy parameters, which can be negative.
    theta_domain : {"real", "nonnegative", "probability"}
        Where ``theta`` lives: any real numbers, numbers ``>= 0`` (costs on a
        graph with a cycle), or probabilities in [0, 1] (coverage).
        ``check_theta`` enforces it, and a
        :class:`~skdfl.DecisionFocusedRegressor` links its network's output
        to it by default (``out_activation`` ``"identity"``, ``"softplus"``
        or ``"sigmoid"``).

    Examples
    --------
    >>> import numpy as np
    >>> from skdfl.optimizers import KSubset
    >>> opt = KSubset(k=2)
    >>> x = opt.solve(np.array([[0.1, 0.9, 0.5]]))
    >>> x
    array([[0., 1., 1.]])
    >>> opt.objective(x, np.array([[0.1, 0.9, 0.5]]))
    array([1.4])
    """

    sense = "minimize"
    is_linear = True
    any_sign = True
    theta_domain = "real"
    #: Constructor arguments an instance may override, given per instance as
    #: keyword arrays whose first axis is the instance (see ``check_params``).
    instance_params = ()

    # Derived structure (graphs, index tensors) is cached per device and
    # rebuilt after unpickling or cloning, so it never travels.
    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_cache", None)
        return state

    def __setattr__(self, name, value):
        # A changed parameter (set_params, or plain assignment) invalidates
        # whatever was derived from the old one.
        if not name.startswith("_"):
            self.__dict__.pop("_cache", None)
        super().__setattr__(name, value)

    def _cached(self, key, build):
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            # Built as ordinary tensors even under a caller's inference mode: a cached
            # tensor made there could never enter autograd afterwards.
            with torch.inference_mode(False):
                cache[key] = build()
        return cache[key]

    @property
    def n_params(self):
        """Number of entries of ``theta`` (``None`` if set by the data)."""
        raise NotImplementedError

    @property
    def n_vars(self):
        """Number of entries of a decision."""
        raise NotImplementedError

    @property
    def sign(self):
        """+1 for a minimization, -1 for a maximization."""
        return 1.0 if check_option(self.sense, "sense", SENSES) == "minimize" else -1.0

    def with_n_params(self, n_params, name="y"):
        """Return the optimizer to use for data with ``n_params`` columns.

        Problems whose size is fixed at construction check the width and
        return ``self``; problems sized by the data (``KSubset`` without
        ``n_items``) return a copy bound to that size.

        Parameters
        ----------
        n_params : int
            Number of columns of the data.
        name : str, default="y"
            The argument's name, used in the error message.

        Returns
        -------
        optimizer : Optimizer
        """
        if n_params != self.n_params:
            raise ValueError(
                f"{name} must have optimizer.n_params={self.n_params} columns, one per "
                f"parameter of {type(self).__name__}; got {n_params} columns."
            )
        return self

    def check_theta(self, theta, name="theta"):
        """Raise ``ValueError`` if ``theta`` has values the solver cannot take.

        The default accepts every finite value; subclasses restrict it to
        their ``theta_domain`` (a graph with a cycle needs non-negative
        costs, coverage needs probabilities).

        Parameters
        ----------
        theta : array-like or Tensor of shape (n_instances, n_params)
            Parameters, numpy or torch.
        name : str, default="theta"
            The argument's name, used in the message.
        """

    def check_params(self, params, n_instances, device=None):
        """Validate per-instance parameters and return them as tensors.

        Parameters
        ----------
        params : dict
            Keyword arrays named in ``instance_params``, each with one row per
            instance; ``None`` values count as not given.
        n_instances : int
            The number of instances (rows of ``theta``).
        device : torch.device, optional
            Where the tensors go.

        Returns
        -------
        params : dict of Tensor
            The given parameters, checked (shape, range, integrality) and
            converted; the constructor's values stand for those not given.
        """
        self.check_param_names(params)
        given = {name: value for name, value in params.items() if value is not None}
        if not given:
            return {}
        return self._check_instance_params(given, int(n_instances), device)

    def check_param_names(self, names):
        """Raise ``ValueError`` for a name that is not in ``instance_params``."""
        unknown = sorted(set(names) - set(self.instance_params))
        if unknown:
            accepted = (f"its per-instance parameters are {list(self.instance_params)}"
                        if self.instance_params else "it takes no per-instance parameters")
            raise ValueError(f"{unknown[0]!r} is not a per-instance parameter of "
                             f"{type(self).__name__}; {accepted}.")

    def _check_instance_params(self, params, n_instances, device):
        """Checked tensors of the given per-instance parameters (subclasses)."""
        raise NotImplementedError

    def solve(self, theta, **params):
        """Exact decisions for a batch of parameter vectors.

        Parameters
        ----------
        theta : ndarray or Tensor of shape (n_instances, n_params)
            One parameter vector per row (a 1-D input is one instance).
        **params : array-like of shape (n_instances, ...)
            Per-instance values of the names in ``instance_params`` (a
            capacity per row, say); the constructor's stand for those not
            given.

        Returns
        -------
        x : ndarray or Tensor of shape (n_instances, n_vars)
            Optimal decisions, of the same kind (numpy or torch) as ``theta``.
        """
        batch, restore = as_batch(theta, "theta", width=self.n_params)
        solver = self.with_n_params(batch.shape[1], name="theta")
        params = solver.check_params(params, len(batch), batch.device)
        solver.check_theta(batch, "theta")
        return restore(solver._solve(batch, **params))

    def _solve(self, theta, **params):
        """Batched exact solver on a validated float tensor and checked parameters."""
        raise NotImplementedError

    def objective(self, x, theta, **params):
        """Objective value of decisions ``x`` under parameters ``theta``.

        Parameters
        ----------
        x : ndarray or Tensor of shape (n_instances, n_vars)
        theta : ndarray or Tensor of shape (n_instances, n_params)
        **params : array-like of shape (n_instances, ...)
            Per-instance values of the names in ``instance_params``.

        Returns
        -------
        value : ndarray or Tensor of shape (n_instances,)
        """
        x_batch, _ = as_batch(x, "x", width=self.n_vars)
        theta_batch, restore = as_batch(theta, "theta", width=self.n_params)
        if x_batch.shape[0] != theta_batch.shape[0] or (
                self.is_linear and x_batch.shape != theta_batch.shape):
            what = "shape" if self.is_linear else "number of instances (rows)"
            raise ValueError(f"x and theta must have the same {what}; got shapes "
                             f"{tuple(x_batch.shape)} and {tuple(theta_batch.shape)}.")
        solver = self
        if params:
            solver = self.with_n_params(theta_batch.shape[1], name="theta")
            params = solver.check_params(params, len(theta_batch), theta_batch.device)
        if not self.is_linear:
            # A linear objective is a dot product for any theta; others (coverage
            # probabilities) have a domain.
            solver.check_theta(theta_batch, "theta")
        value = solver._objective(x_batch.to(theta_batch), theta_batch, **params)
        return restore(value.unsqueeze(-1))[..., 0]

    def _objective(self, x, theta, **params):
        """Objective on validated tensors; linear by default."""
        return (x * theta).sum(-1)

    def pool_feasible(self, decisions, **params):
        """Which pooled decisions each instance may take, or None if this cannot be told.

        A solution pool (``solve_ratio < 1``) holds decisions of other
        instances; with per-instance parameters some are infeasible for a
        row. Problems that can check feasibility in batch override this.

        Parameters
        ----------
        decisions : Tensor of shape (n_decisions, n_vars)
        **params : Tensor
            Checked per-instance parameters, one row per instance.

        Returns
        -------
        feasible : Tensor of shape (n_instances, n_decisions) of bool, or None
        """
        return None

    def lp_form(self):
        """The problem as a :class:`LinearProgram` over the same variables, or None.

        Problems whose decisions are the vertices of a polytope return that
        linear program; ``relax`` then uses its quadratic relaxation.
        """
        return None

    def relax(self, theta, gamma, **params):
        """Differentiable continuous relaxation (problems that have one).

        The default relaxes the linear program of :meth:`lp_form`:
        ``theta @ x - gamma * ||x||^2`` maximized over its polytope
        (``theta @ x + gamma * ||x||^2`` minimized, for a minimization); see
        :meth:`LinearProgram.relax`. Per-instance parameters become the
        per-instance right-hand sides of that linear program.

        Parameters
        ----------
        theta : Tensor of shape (n_instances, n_params)
        gamma : float
            Weight of the quadratic term.
        **params : array-like of shape (n_instances, ...)
            Per-instance values of the names in ``instance_params``.

        Returns
        -------
        x : Tensor of shape (n_instances, n_vars)
            Relaxed decisions, differentiable in ``theta``.
        """
        if type(self).lp_form is Optimizer.lp_form:
            raise ValueError(f"{type(self).__name__} has no continuous relaxation; "
                             f"use a linear method such as method='spo+'.")
        batch, restore = as_batch(theta, "theta", width=self.n_params)
        solver = self.with_n_params(batch.shape[1], name="theta")
        params = solver.check_params(params, len(batch), batch.device)
        return restore(self._relax(batch, gamma, **params))

    def _relax(self, theta, gamma, **params):
        """``relax`` on a validated tensor and checked per-instance parameters.

        Subclasses with a relaxation of their own implement this (or, more
        simply, override ``relax``); the default relaxes :meth:`lp_form`.
        """
        if type(self).relax is not Optimizer.relax:
            return self.relax(theta, gamma, **params)
        width = theta.shape[1]
        solver = self.with_n_params(width, name="theta")
        # Built once per width (and cached with its factors): a problem sized by
        # the data binds to the width of theta.
        lp = self._cached(("lp_form", width), lambda: solver.lp_form())
        return lp._relax(theta, gamma, **solver._lp_params(params))

    def _lp_params(self, params):
        """Per-instance parameters of :meth:`lp_form` that stand for this problem's.

        ``params`` are this problem's checked per-instance tensors; the result
        holds those of the linear program (``b_ub``, ``b_eq``, or ``upper``:
        per-instance upper bounds of the variables). Problems with instance
        parameters override it.
        """
        if params:
            raise ValueError(f"{type(self).__name__} has no relaxation for the per-instance "
                             f"parameters {sorted(params)}.")
        return {}


def theta_values(theta, name="theta"):
    """``theta`` as a tensor for a domain check: tensors as they are, arrays without a copy.

    ``check_theta`` is public and called on numpy data (``y`` in ``fit``) as
    well as on tensors (predictions in training).
    """
    if isinstance(theta, torch.Tensor):
        return theta
    array = np.asarray(theta)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array; got dtype {array.dtype}.")
    return torch.as_tensor(array)


def device_key(device):
    """A hashable key naming a torch device."""
    return str(torch.device(device))
