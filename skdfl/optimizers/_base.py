"""The optimizer protocol: what every decision problem provides."""

import torch
from sklearn.base import BaseEstimator

from .._tensor import as_batch

SENSES = ("minimize", "maximize")


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
        return 1.0 if self.sense == "minimize" else -1.0

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

        The default accepts every finite value; subclasses restrict it (a
        graph with a cycle needs non-negative costs).
        """

    def solve(self, theta):
        """Exact decisions for a batch of parameter vectors.

        Parameters
        ----------
        theta : ndarray or Tensor of shape (n_instances, n_params)
            One parameter vector per row (a 1-D input is one instance).

        Returns
        -------
        x : ndarray or Tensor of shape (n_instances, n_vars)
            Optimal decisions, of the same kind (numpy or torch) as ``theta``.
        """
        batch, restore = as_batch(theta, "theta", width=self.n_params)
        solver = self.with_n_params(batch.shape[1], name="theta")
        solver.check_theta(batch, "theta")
        return restore(solver._solve(batch))

    def _solve(self, theta):
        """Batched exact solver on a validated float tensor."""
        raise NotImplementedError

    def objective(self, x, theta):
        """Objective value of decisions ``x`` under parameters ``theta``.

        Parameters
        ----------
        x : ndarray or Tensor of shape (n_instances, n_vars)
        theta : ndarray or Tensor of shape (n_instances, n_params)

        Returns
        -------
        value : ndarray or Tensor of shape (n_instances,)
        """
        x_batch, _ = as_batch(x, "x", width=self.n_vars)
        theta_batch, restore = as_batch(theta, "theta", width=self.n_params)
        if x_batch.shape != theta_batch.shape:
            raise ValueError(f"x and theta must have the same shape; got {tuple(x_batch.shape)} "
                             f"and {tuple(theta_batch.shape)}.")
        value = self._objective(x_batch.to(theta_batch), theta_batch)
        return restore(value.unsqueeze(-1))[..., 0]

    def _objective(self, x, theta):
        """Objective on validated tensors; linear by default."""
        return (x * theta).sum(-1)

    def lp_form(self):
        """The problem as a :class:`LinearProgram` over the same variables, or None.

        Problems whose decisions are the vertices of a polytope return that
        linear program; ``relax`` then uses its quadratic relaxation.
        """
        return None

    def relax(self, theta, gamma):
        """Differentiable continuous relaxation (problems that have one).

        The default relaxes the linear program of :meth:`lp_form`:
        ``theta @ x - gamma * ||x||^2`` maximized over its polytope
        (``theta @ x + gamma * ||x||^2`` minimized, for a minimization); see
        :meth:`LinearProgram.relax`.

        Parameters
        ----------
        theta : Tensor of shape (n_instances, n_params)
        gamma : float
            Weight of the quadratic term.

        Returns
        -------
        x : Tensor of shape (n_instances, n_vars)
            Relaxed decisions, differentiable in ``theta``.
        """
        if type(self).lp_form is Optimizer.lp_form:
            raise ValueError(f"{type(self).__name__} has no continuous relaxation; "
                             f"use a linear method such as method='spo+'.")
        batch, restore = as_batch(theta, "theta", width=self.n_params)
        width = batch.shape[1]
        # Built once per width (and cached with its factors): a problem sized by
        # the data binds to the width of theta.
        lp = self._cached(("lp_form", width),
                          lambda: self.with_n_params(width, name="theta").lp_form())
        return restore(lp._relax(batch, gamma))


def device_key(device):
    """A hashable key naming a torch device."""
    return str(torch.device(device))
