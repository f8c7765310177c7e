"""Linear programs in scipy.optimize.linprog form, and their QP relaxation."""

import numbers

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import linprog

from .._tensor import as_batch
from .._validation import check_option, check_scalar
from ._base import SENSES, Optimizer, device_key
from ._instance import instance_tensor
from ._lp_cvxpy import cvxpy_data
from ._qp import Polytope, relax_polytope

_HIGHS_STATUS = {1: "the iteration limit was reached", 2: "infeasible", 3: "unbounded",
                 4: "numerical difficulties"}


class LinearProgram(Optimizer):
    """A linear program whose objective vector is the unknown ``theta``.

    ``maximize (or minimize) theta @ x  subject to  A_eq x = b_eq,
    A_ub x <= b_ub, bounds``, with the conventions of
    :func:`scipy.optimize.linprog`. ``solve`` returns an optimal vertex of
    each instance (scipy's HiGHS, one call per instance: an exact reference
    path); ``relax`` is the differentiable quadratic relaxation of Wilder et
    al. (2019), ``theta @ x - gamma * ||x||^2`` (``+`` for a minimization),
    solved by the batched projection kernel of ``skdfl.optimizers``.

    Parameters
    ----------
    A_eq : array-like or sparse matrix of shape (n_eq, n_vars), optional
        Equality constraint matrix.
    b_eq : array-like of shape (n_eq,), optional
        Equality right-hand side; required with ``A_eq``.
    A_ub : array-like or sparse matrix of shape (n_ub, n_vars), optional
        Inequality constraint matrix (``A_ub @ x <= b_ub``).
    b_ub : array-like of shape (n_ub,), optional
        Inequality right-hand side; required with ``A_ub``.
    bounds : pair or sequence of pairs, default=(0, None)
        ``(low, high)`` for every variable, or one pair per variable;
        ``None`` means unbounded on that side.
    sense : {"maximize", "minimize"}, default="maximize"
        Direction of the objective ``theta @ x``.

    Attributes
    ----------
    n_params, n_vars : int
        Number of variables (validated lazily, on first use).

    Notes
    -----
    Per-instance parameters (``instance_params``): ``b_ub`` of shape
    ``(n_instances, n_ub)`` and ``b_eq`` of shape ``(n_instances, n_eq)``,
    finite, the right-hand sides of this instance's constraints (the
    matrices stay shared). Each needs its matrix. ``solve`` then solves
    every instance with its own right-hand side; ``relax`` projects onto
    every instance's own polytope in one batch, and an instance whose
    polytope is empty is reported by its row.

    See Also
    --------
    LinearProgram.from_cvxpy : Build one from a cvxpy model.
    LinearProgram.bipartite_matching : The bipartite matching polytope.

    References
    ----------
    B. Wilder, B. Dilkina, M. Tambe, "Melding the Data-Decisions Pipeline:
    Decision-Focused Learning for Combinatorial Optimization", AAAI 2019.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skdfl.optimizers import LinearProgram
    >>> lp = LinearProgram(A_ub=[[1.0, 1.0]], b_ub=[1.0], bounds=(0, 1))
    >>> lp.solve(np.array([[1.0, 2.0], [3.0, -1.0]]))
    array([[0., 1.],
           [1., 0.]])
    >>> theta = torch.tensor([[1.0, 1.2]], dtype=torch.float64, requires_grad=True)
    >>> x = lp.relax(theta, gamma=0.5)   # projection of theta / (2 gamma) = (1, 1.2)
    >>> x.detach().numpy().round(6)
    array([[0.4, 0.6]])
    >>> lp.solve(np.array([[1.0, 2.0], [1.0, 2.0]]), b_ub=[[1.0], [2.0]])  # a budget per row
    array([[0., 1.],
           [1., 1.]])
    """

    is_linear = True
    instance_params = ("b_ub", "b_eq")

    def __init__(self, A_eq=None, b_eq=None, A_ub=None, b_ub=None, bounds=(0, None),
                 sense="maximize"):
        self.A_eq = A_eq
        self.b_eq = b_eq
        self.A_ub = A_ub
        self.b_ub = b_ub
        self.bounds = bounds
        self.sense = sense

    # ------------------------------------------------------------------
    # Validation (lazy: __init__ only stores the arguments)
    # ------------------------------------------------------------------

    @property
    def _data(self):
        return self._cached("data", self._validate)

    def _validate(self):
        check_option(self.sense, "sense", SENSES)
        A_eq = _matrix(self.A_eq, "A_eq")
        A_ub = _matrix(self.A_ub, "A_ub")
        widths = {name: A.shape[1] for name, A in (("A_eq", A_eq), ("A_ub", A_ub))
                  if A is not None}
        if len(set(widths.values())) > 1:
            raise ValueError(f"A_eq and A_ub must have the same number of columns (one per "
                             f"variable); got {widths['A_eq']} and {widths['A_ub']}.")
        b_eq = _vector(self.b_eq, "b_eq", A_eq, "A_eq")
        b_ub = _vector(self.b_ub, "b_ub", A_ub, "A_ub")
        lo, hi = _bounds(self.bounds, next(iter(widths.values()), None))
        n = len(lo)
        if n == 0:
            raise ValueError("LinearProgram needs at least one variable; got A_eq, A_ub and "
                             "bounds that describe none.")
        return _LPData(n, A_eq, b_eq, A_ub, b_ub, lo, hi)

    @property
    def n_params(self):
        return self._data.n

    @property
    def n_vars(self):
        return self._data.n

    def _check_instance_params(self, params, n_instances, device):
        data = self._data
        checked = {}
        for name, A, matrix in (("b_ub", data.A_ub, "A_ub"), ("b_eq", data.A_eq, "A_eq")):
            if name not in params:
                continue
            if A is None:
                raise ValueError(f"{name} was given per instance, but this LinearProgram has no "
                                 f"{matrix} (no constraint rows for it to be the right-hand side "
                                 f"of); pass {matrix} to the constructor.")
            checked[name] = instance_tensor(params[name], name, n_instances,
                                            tail=(A.shape[0],), device=device)
        return checked

    # ------------------------------------------------------------------
    # Exact solver (reference path: scipy HiGHS, one call per instance)
    # ------------------------------------------------------------------

    def _solve(self, theta, b_ub=None, b_eq=None):
        data = self._data
        costs = theta.detach().cpu().to(torch.float64).numpy() * self.sign
        b_ub = _rows(b_ub, data.b_ub, len(costs))
        b_eq = _rows(b_eq, data.b_eq, len(costs))
        x = np.empty_like(costs)
        for i, c in enumerate(costs):
            res = linprog(c, A_ub=data.A_ub, b_ub=b_ub[i], A_eq=data.A_eq, b_eq=b_eq[i],
                          bounds=data.linprog_bounds, method="highs")
            if res.status != 0:
                raise ValueError(
                    f"LinearProgram has no optimal solution for instance {i} (row {i} of "
                    f"theta): {_HIGHS_STATUS.get(res.status, 'failed')} (HiGHS status "
                    f"{res.status}: {res.message})")
            x[i] = res.x + 0.0                  # no negative zeros
        return torch.as_tensor(x, dtype=theta.dtype, device=theta.device)

    # ------------------------------------------------------------------
    # Quadratic relaxation
    # ------------------------------------------------------------------

    def relax(self, theta, gamma, **params):
        """Solutions of ``theta @ x - gamma ||x||^2`` over the polytope (differentiable).

        The maximizer of ``theta @ x - gamma * ||x||^2`` (the minimizer of
        ``theta @ x + gamma * ||x||^2`` for a minimization) is the Euclidean
        projection of ``theta / (2 gamma)`` (of ``-theta / (2 gamma)``) onto
        the polytope: unique, continuous and piecewise linear in ``theta``.
        It is computed in float64 on ``theta``'s device for the whole batch;
        the backward pass differentiates its KKT conditions.

        Parameters
        ----------
        theta : Tensor of shape (n_instances, n_params)
            Objective vectors (a 1-D tensor is one instance).
        gamma : float
            Weight of the quadratic term, positive. As ``gamma -> 0`` the
            solution tends to an optimum of the linear program.
        **params : array-like of shape (n_instances, ...)
            Per-instance right-hand sides ``b_ub`` and ``b_eq`` (see Notes of
            the class): each instance is projected onto its own polytope.

        Returns
        -------
        x : Tensor of shape (n_instances, n_vars)
            Relaxed decisions, of ``theta``'s dtype, differentiable.

        Examples
        --------
        >>> import torch
        >>> from skdfl.optimizers import LinearProgram
        >>> lp = LinearProgram(A_eq=[[1.0, 1.0, 1.0]], b_eq=[1.0], bounds=(0, None))
        >>> lp.relax(torch.tensor([0.0, 1.0, 2.0]), gamma=1.0)   # projects (0, 0.5, 1)
        tensor([0.0000, 0.2500, 0.7500])
        >>> lp.relax(torch.tensor([[0.0, 1.0, 2.0]]), gamma=1.0, b_eq=[[2.0]])  # sum(x) = 2
        tensor([[0.1667, 0.6667, 1.1667]])
        """
        batch, restore = as_batch(theta, "theta", width=self.n_params)
        params = self.check_params(params, len(batch), batch.device)
        return restore(self._relax(batch, gamma, **params))

    def _relax(self, theta, gamma, b_ub=None, b_eq=None, upper=None):
        """``relax`` on a validated tensor, with optional per-instance data.

        ``b_ub`` (B, n_ub) and ``b_eq`` (B, n_eq) are checked float64
        right-hand sides; ``upper`` (B, n_vars), float64, adds the per-instance
        upper bounds ``x <= min(hi, upper)`` (for problems that close some
        variables per instance: ``upper`` at the lower bound fixes a variable
        there, ``inf`` adds nothing; it must not be below the lower bound).
        """
        gamma = float(check_scalar(gamma, "gamma", low=0.0, low_inclusive=False))
        polytope = self._cached(("polytope", device_key(theta.device)),
                                lambda: self._polytope().tensors(theta.device))
        if b_ub is None and b_eq is None and upper is None:
            self._cached("feasible", self._check_feasible)
            return relax_polytope(polytope, theta, gamma, self.sign)
        data, batch = self._data, theta.shape[0]
        for name, values, width in (("b_ub", b_ub, data.A_ub), ("b_eq", b_eq, data.A_eq),
                                    ("upper", upper, data.n)):
            if values is None:
                continue
            if width is None:
                raise ValueError(f"{name} was given per instance, but this LinearProgram has "
                                 f"no {name.replace('b', 'A')}.")
            width = width if name == "upper" else width.shape[0]
            if tuple(values.shape) != (batch, width):
                raise ValueError(f"{name} must have shape ({batch}, {width}), one row per "
                                 f"instance of theta; got shape {tuple(values.shape)}.")
        rows = polytope.for_rows(b_eq=b_eq, b_ub=b_ub, upper=upper)
        return relax_polytope(rows, theta, gamma, self.sign)

    def _check_feasible(self):
        data = self._data
        res = linprog(np.zeros(data.n), A_ub=data.A_ub, b_ub=data.b_ub, A_eq=data.A_eq,
                      b_eq=data.b_eq, bounds=data.linprog_bounds, method="highs")
        if res.status == 2:
            raise ValueError(f"the feasible set of the LinearProgram is empty (HiGHS status 2: "
                             f"{res.message}); no instance has a relaxation.")
        return True

    def _polytope(self):
        data = self._data
        dense = lambda A: None if A is None else (A.toarray() if sp.issparse(A) else A)  # noqa
        return Polytope(dense(data.A_eq), data.b_eq, dense(data.A_ub), data.b_ub,
                        data.lo, data.hi)

    # ------------------------------------------------------------------
    # Constructors
    # ------------------------------------------------------------------

    @classmethod
    def bipartite_matching(cls, n_left, n_right):
        """The bipartite matching polytope: each node matched at most once.

        Variables ``x_ij`` (row-major: ``i`` on the left, ``j`` on the right)
        with ``sum_j x_ij <= 1``, ``sum_i x_ij <= 1`` and ``0 <= x <= 1``;
        maximize ``theta @ x``. The polytope is integral, so ``solve`` returns
        a maximum-weight matching.

        Parameters
        ----------
        n_left, n_right : int
            Numbers of nodes on each side.

        Returns
        -------
        lp : LinearProgram

        Examples
        --------
        >>> import numpy as np
        >>> from skdfl.optimizers import LinearProgram
        >>> lp = LinearProgram.bipartite_matching(2, 2)
        >>> lp.solve(np.array([[1.0, 3.0, 2.0, 1.0]])).reshape(2, 2)
        array([[0., 1.],
               [1., 0.]])
        """
        check_scalar(n_left, "n_left", kind=numbers.Integral, low=1)
        check_scalar(n_right, "n_right", kind=numbers.Integral, low=1)
        rows_left = np.kron(np.eye(n_left), np.ones((1, n_right)))
        rows_right = np.kron(np.ones((1, n_left)), np.eye(n_right))
        A_ub = np.vstack([rows_left, rows_right])
        return cls(A_ub=A_ub, b_ub=np.ones(n_left + n_right), bounds=(0, 1), sense="maximize")

    @classmethod
    def from_cvxpy(cls, problem, parameter):
        """Build a LinearProgram from a cvxpy model with objective ``parameter @ x``.

        Parameters
        ----------
        problem : cvxpy.Problem
            ``Maximize(parameter @ x)`` or ``Minimize(parameter @ x)`` over one
            1-D continuous variable ``x``, subject to affine equality and
            inequality constraints (variable attributes such as
            ``nonneg=True`` count as constraints).
        parameter : cvxpy.Parameter
            The 1-D parameter of the objective: ``theta`` of the decision
            problem. It must not appear in the constraints.

        Returns
        -------
        lp : LinearProgram
            The same linear program; constraints on a single variable become
            bounds, the others rows of ``A_eq`` and ``A_ub``.

        Examples
        --------
        >>> import cvxpy as cp
        >>> import numpy as np
        >>> from skdfl.optimizers import LinearProgram
        >>> x, theta = cp.Variable(3), cp.Parameter(3)
        >>> problem = cp.Problem(cp.Maximize(theta @ x), [cp.sum(x) == 1, x >= 0])
        >>> lp = LinearProgram.from_cvxpy(problem, theta)
        >>> lp.solve(np.array([[0.2, 0.7, 0.1]]))
        array([[0., 1., 0.]])
        """
        return cls(**cvxpy_data(problem, parameter))


def _rows(values, shared, n_instances):
    """One right-hand side (numpy, or None) per instance: the given rows or the shared one."""
    if values is None:
        return [shared] * n_instances
    return values.detach().cpu().to(torch.float64).numpy()


class _LPData:
    """Validated matrices of a LinearProgram."""

    def __init__(self, n, A_eq, b_eq, A_ub, b_ub, lo, hi):
        self.n = n
        self.A_eq, self.b_eq, self.A_ub, self.b_ub = A_eq, b_eq, A_ub, b_ub
        self.lo, self.hi = lo, hi
        self.linprog_bounds = [(None if np.isinf(a) else a, None if np.isinf(b) else b)
                               for a, b in zip(lo, hi)]


def _matrix(A, name):
    if A is None:
        return None
    if sp.issparse(A):
        A = sp.csr_array(A, dtype=np.float64)
        values = A.data
    else:
        try:
            A = np.asarray(A, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a 2-D numeric array or sparse matrix; got "
                             f"{type(A).__name__}.") from exc
        values = A
    if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array of shape (n_constraints, "
                         f"n_vars); got shape {A.shape}.")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} must contain only finite values; got NaN or inf.")
    return A


def _vector(b, name, A, matrix_name):
    if A is None:
        if b is not None:
            raise ValueError(f"{name} was given without {matrix_name}; pass both or neither.")
        return None
    if b is None:
        raise ValueError(f"{matrix_name} was given without {name}; pass both or neither.")
    try:
        b = np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D numeric array; got {type(b).__name__}.") from exc
    if b.shape != (A.shape[0],):
        raise ValueError(f"{name} must have shape ({A.shape[0]},), one entry per row of "
                         f"{matrix_name}; got shape {b.shape}.")
    if not np.isfinite(b).all():
        raise ValueError(f"{name} must contain only finite values; got {b.tolist()}.")
    return b


def _bounds(bounds, n):
    """Lower and upper bound arrays from linprog-style ``bounds``."""
    def side(value, default):
        if value is None:
            return default
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or np.isnan(value):
            raise ValueError(f"bounds must hold numbers or None; got {value!r}.")
        return float(value)

    def pair(item):
        if not (isinstance(item, (tuple, list, np.ndarray)) and len(item) == 2):
            raise ValueError("bounds must be a pair (low, high) or a sequence of such pairs, "
                             f"one per variable; got {bounds!r}.")
        return side(item[0], -np.inf), side(item[1], np.inf)

    if bounds is None:
        bounds = (None, None)
    is_pair = (isinstance(bounds, (tuple, list, np.ndarray)) and len(bounds) == 2
               and all(v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))
                       for v in bounds))
    if is_pair:
        if n is None:
            raise ValueError("LinearProgram needs A_eq or A_ub to know the number of "
                             "variables, or one bounds pair per variable; got neither.")
        lo, hi = np.full(n, pair(bounds)[0]), np.full(n, pair(bounds)[1])
    else:
        if not isinstance(bounds, (tuple, list, np.ndarray)):
            raise ValueError("bounds must be a pair (low, high) or a sequence of such pairs, "
                             f"one per variable; got {bounds!r}.")
        pairs = [pair(item) for item in bounds]
        if n is not None and len(pairs) != n:
            raise ValueError(f"bounds must hold one (low, high) pair per variable ({n}, the "
                             f"columns of the constraint matrices); got {len(pairs)} pairs.")
        lo = np.array([p[0] for p in pairs], dtype=np.float64)
        hi = np.array([p[1] for p in pairs], dtype=np.float64)
    bad = np.flatnonzero((lo > hi) | (lo == np.inf) | (hi == -np.inf))
    if len(bad):
        i = bad[0]
        raise ValueError(f"bounds must satisfy low <= high with low < inf and high > -inf; "
                         f"got ({lo[i]}, {hi[i]}) for variable {i}.")
    return lo, hi
