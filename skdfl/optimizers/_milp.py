"""Mixed-integer linear programs whose objective is linear in ``theta``, solved by HiGHS."""

import numbers

import numpy as np
import scipy.sparse as sp
import torch

from .._validation import check_option, check_scalar
from ._base import SENSES, Optimizer, device_key
from ._instance import instance_tensor
from ._linear_program import LinearProgram, _bounds, _matrix, _vector
from ._milp_solve import MILPStructure, solve_instances


class MixedIntegerProgram(Optimizer):
    """A mixed-integer program whose objective is ``theta @ (decision_map @ v)``.

    ``maximize (or minimize) theta @ (D v)  subject to  A_eq v = b_eq,
    A_ub v <= b_ub, bounds, v_j integer where integrality_j = 1``, in the
    form of :func:`scipy.optimize.milp` and :func:`scipy.optimize.linprog`.
    ``D`` (``decision_map``) maps the solver's variables ``v`` to the
    decision ``x = D v``: ``theta`` has one entry per row of ``D`` and may be
    much smaller than ``v`` (48 prices of the periods of a schedule whose
    variables are task starts). Without ``decision_map`` the decision is
    ``v`` itself.

    ``solve`` runs HiGHS (licence-free) once per instance; the instances run
    in parallel through joblib, so ``with joblib.parallel_config(
    backend="dask"):`` solves them on a dask cluster. Each thread builds the
    HiGHS model once and changes only the costs (and per-instance right-hand
    sides) between solves (through ``highspy``; :func:`scipy.optimize.milp`
    where it is missing).

    Parameters
    ----------
    A_eq : array-like or sparse matrix of shape (n_eq, n_variables), optional
        Equality constraint matrix.
    b_eq : array-like of shape (n_eq,), optional
        Equality right-hand side; required with ``A_eq``.
    A_ub : array-like or sparse matrix of shape (n_ub, n_variables), optional
        Inequality constraint matrix (``A_ub @ v <= b_ub``).
    b_ub : array-like of shape (n_ub,), optional
        Inequality right-hand side; required with ``A_ub``.
    bounds : pair or sequence of pairs, default=(0, 1)
        ``(low, high)`` for every variable, or one pair per variable;
        ``None`` means unbounded on that side (as :class:`LinearProgram`).
    integrality : {0, 1} or array-like of shape (n_variables,), default=1
        1 for an integer variable, 0 for a continuous one (as
        :func:`scipy.optimize.milp`); a scalar applies to every variable.
    sense : {"maximize", "minimize"}, default="maximize"
        Direction of the objective ``theta @ x``.
    decision_map : array-like or sparse matrix of shape (n_params, n_variables), optional
        ``D``, the linear map from the solver's variables to the decision.
        Default: the identity (the decision is the variable vector).
    n_jobs : int, optional
        Parallel workers of the per-instance solves (joblib's ``n_jobs``:
        ``None`` is one unless a ``joblib.parallel_config`` says otherwise,
        ``-1`` all cores).
    time_limit : float, optional
        Seconds HiGHS may spend on one instance. A solve stopped by it returns
        the best decision found (not proved optimal: the regret against it
        can dip below zero); one that found none raises ``ValueError``.
    mip_rel_gap : float, optional
        Relative optimality gap at which HiGHS stops; default HiGHS's own
        (1e-4: decisions within 0.01% of the optimum). 0 proves optimality.

    Attributes
    ----------
    n_params, n_vars : int
        Rows of ``decision_map`` (the number of variables without it).
    n_variables : int
        Number of the solver's variables ``v``.

    See Also
    --------
    MixedIntegerProgram.from_cvxpy : Build one from a cvxpy model.
    LinearProgram : The continuous case.

    Notes
    -----
    Per-instance parameters (``instance_params``): ``b_ub`` of shape
    ``(n_instances, n_ub)`` and ``b_eq`` of shape ``(n_instances, n_eq)``,
    the right-hand sides of that instance's constraints (today's capacities,
    this plant's demand); the constraint matrices stay shared.

    The decisions are exact up to ``mip_rel_gap``; integer variables come
    back rounded to whole numbers (HiGHS returns them within its
    feasibility tolerance). Through highspy, HiGHS runs one thread per solve
    (the parallelism is ``n_jobs``'s) and without its feasibility-jump
    heuristic, a fixed cost of a few milliseconds a solve; every solve starts
    afresh, so a decision does not depend on the batch it was solved in.

    ``relax`` (``method="relaxation"``) is the quadratic relaxation of
    Wilder et al. (2019) over the variables: ``v*`` maximizes
    ``(D' theta) @ v - gamma * ||v||^2`` over the LP relaxation (integrality
    dropped), and the relaxed decision is ``D v*``, differentiable in
    ``theta``. :meth:`lp_form` returns that LP relaxation when the decision
    is the variable vector (no ``decision_map``, or the identity), and
    ``None`` otherwise (the relaxed polytope of ``x = D v`` has no
    linprog form over ``x``).

    Examples
    --------
    A two-dimensional knapsack: pick items within two capacities.

    >>> import numpy as np
    >>> from skdfl.optimizers import MixedIntegerProgram
    >>> weights = np.array([[2.0, 3.0, 4.0], [3.0, 1.0, 2.0]])
    >>> mip = MixedIntegerProgram(A_ub=weights, b_ub=[5.0, 4.0])
    >>> mip.solve(np.array([[3.0, 4.0, 5.0], [1.0, 1.0, 5.0]]))
    array([[1., 1., 0.],
           [0., 0., 1.]])
    >>> mip.solve(np.array([[3.0, 4.0, 5.0]]), b_ub=[[9.0, 6.0]])   # larger capacities
    array([[0., 1., 1.]])

    A decision map: start a two-period task at period 0, 1 or 2 (the
    variables) and pay the prices of the periods it runs in (the decision).

    >>> runs_in = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]])
    >>> task = MixedIntegerProgram(A_eq=[[1, 1, 1]], b_eq=[1], decision_map=runs_in,
    ...                            sense="minimize")
    >>> task.n_params, task.n_variables
    (4, 3)
    >>> task.solve(np.array([[5.0, 1.0, 2.0, 9.0]]))
    array([[0., 1., 1., 0.]])
    """

    sense = "maximize"
    is_linear = True
    any_sign = True
    instance_params = ("b_ub", "b_eq")

    def __init__(self, A_eq=None, b_eq=None, A_ub=None, b_ub=None, bounds=(0, 1),
                 integrality=1, sense="maximize", decision_map=None, n_jobs=None,
                 time_limit=None, mip_rel_gap=None):
        self.A_eq = A_eq
        self.b_eq = b_eq
        self.A_ub = A_ub
        self.b_ub = b_ub
        self.bounds = bounds
        self.integrality = integrality
        self.sense = sense
        self.decision_map = decision_map
        self.n_jobs = n_jobs
        self.time_limit = time_limit
        self.mip_rel_gap = mip_rel_gap

    # ------------------------------------------------------------------
    # Validation (lazy: __init__ only stores the arguments)
    # ------------------------------------------------------------------

    @property
    def _data(self):
        return self._cached("data", self._validate)

    def _validate(self):
        check_option(self.sense, "sense", SENSES)
        n_jobs = check_scalar(self.n_jobs, "n_jobs", kind=numbers.Integral, allow_none=True)
        if n_jobs == 0:
            raise ValueError("n_jobs must be a positive number of workers, or negative "
                             "(-1: all cores), or None; got 0.")
        check_scalar(self.time_limit, "time_limit", low=0.0, low_inclusive=False,
                     allow_none=True)
        check_scalar(self.mip_rel_gap, "mip_rel_gap", low=0.0, allow_none=True)
        A_eq, A_ub = _matrix(self.A_eq, "A_eq"), _matrix(self.A_ub, "A_ub")
        D = _matrix(self.decision_map, "decision_map")
        integer = _integrality(self.integrality)
        widths = {name: A.shape[1] for name, A in
                  (("A_eq", A_eq), ("A_ub", A_ub), ("decision_map", D)) if A is not None}
        if integer.ndim:
            widths["integrality"] = len(integer)
        if len(set(widths.values())) > 1:
            listed = ", ".join(f"{name} has {width}" for name, width in widths.items())
            raise ValueError(f"A_eq, A_ub, decision_map and integrality must agree on the "
                             f"number of variables (columns; entries of integrality); "
                             f"{listed}.")
        n = next(iter(widths.values()), None)
        if n is None and _is_pair(self.bounds):
            raise ValueError("MixedIntegerProgram needs A_eq, A_ub, decision_map, a per-variable "
                             "integrality or one bounds pair per variable to know the number "
                             "of variables; got none of them.")
        lo, hi = _bounds(self.bounds, n)
        n = len(lo)
        if n == 0:
            raise ValueError("MixedIntegerProgram needs at least one variable; got bounds "
                             "that describe none.")
        integer = np.broadcast_to(integer, (n,)).copy()
        b_eq = _vector(self.b_eq, "b_eq", A_eq, "A_eq")
        b_ub = _vector(self.b_ub, "b_ub", A_ub, "A_ub")
        options = {"time_limit": None if self.time_limit is None else float(self.time_limit),
                   "mip_rel_gap": None if self.mip_rel_gap is None else float(self.mip_rel_gap)}
        structure = MILPStructure(A_ub, b_ub, A_eq, b_eq, lo, hi, integer, options)
        identity = D is None or (D.shape[0] == n and _is_identity(D))
        return _MILPData(structure, A_eq, b_eq, A_ub, b_ub, lo, hi,
                         None if identity else sp.csr_array(D))

    @property
    def n_params(self):
        data = self._data
        return data.structure.n if data.D is None else data.D.shape[0]

    @property
    def n_vars(self):
        return self.n_params

    @property
    def n_variables(self):
        """Number of the solver's variables (columns of the constraint matrices)."""
        return self._data.structure.n

    def _check_instance_params(self, params, n_instances, device):
        data = self._data
        checked = {}
        for name, matrix, size in (("b_ub", "A_ub", data.structure.n_ub),
                                   ("b_eq", "A_eq", data.structure.n_eq)):
            if name not in params:
                continue
            if size == 0:
                raise ValueError(f"{name} was given per instance but the MixedIntegerProgram "
                                 f"has no {matrix}; pass {matrix} to the constructor.")
            checked[name] = instance_tensor(params[name], name, n_instances, tail=(size,),
                                            device=device)
        return checked

    # ------------------------------------------------------------------
    # Exact solver: HiGHS per instance, in parallel
    # ------------------------------------------------------------------

    def _solve(self, theta, b_ub=None, b_eq=None):
        data = self._data
        theta64 = theta.detach().cpu().to(torch.float64).numpy()
        costs = self.sign * (theta64 if data.D is None else (data.D.T @ theta64.T).T)
        rhs = [None if b is None else b.detach().cpu().numpy() for b in (b_ub, b_eq)]
        v, status = solve_instances(data.structure, np.ascontiguousarray(costs), *rhs,
                                    n_jobs=self.n_jobs)
        failed = np.flatnonzero(np.isnan(v).any(1))
        if len(failed):
            self._raise_unsolved(failed, status)
        x = v if data.D is None else (data.D @ v.T).T
        return torch.as_tensor(x + 0.0, dtype=theta.dtype, device=theta.device)

    def _raise_unsolved(self, failed, status):
        row = int(failed[0])
        name = status[row]
        lowered = name.lower()
        if "infeasible" in lowered and "unbounded" in lowered:
            hint = ("its constraints (with this row's b_ub and b_eq, if given) admit no "
                    "point, or its objective is unbounded (bound the variables)")
        elif "infeasible" in lowered:
            hint = "its constraints (with this row's b_ub and b_eq, if given) admit no point"
        elif "unbounded" in lowered:
            hint = "its objective is unbounded at this theta; bound the variables"
        elif "limit" in lowered:
            hint = (f"no feasible point was found within time_limit={self.time_limit} "
                    f"seconds; raise time_limit")
        else:
            hint = "HiGHS stopped without a solution"
        raise ValueError(f"MixedIntegerProgram has no solution for instance {row} (row {row} "
                         f"of theta): {hint} (HiGHS status: {name!r}); {len(failed)} of "
                         f"{len(status)} instance(s) failed.")

    # ------------------------------------------------------------------
    # Relaxation: the LP relaxation over the variables, mapped by D
    # ------------------------------------------------------------------

    def lp_form(self):
        """The LP relaxation (integrality dropped) when the decision is the variable vector.

        Returns
        -------
        lp : LinearProgram or None
            The linear program over the variables, or ``None`` with a
            ``decision_map`` other than the identity (``relax`` still works:
            it relaxes over the variables and maps the result by
            ``decision_map``).

        Examples
        --------
        >>> from skdfl.optimizers import MixedIntegerProgram
        >>> mip = MixedIntegerProgram(A_ub=[[1.0, 1.0]], b_ub=[1.5])
        >>> lp = mip.lp_form()
        >>> lp.solve([[1.0, 2.0]])        # the relaxation takes half of the first item
        array([[0.5, 1. ]])
        """
        return None if self._data.D is not None else self._variable_lp()

    def _variable_lp(self):
        data = self._data
        bounds = [(None if np.isinf(a) else float(a), None if np.isinf(b) else float(b))
                  for a, b in zip(data.lo, data.hi)]
        return LinearProgram(A_eq=data.A_eq, b_eq=data.b_eq, A_ub=data.A_ub, b_ub=data.b_ub,
                             bounds=bounds, sense=self.sense)

    def _relax(self, theta, gamma, **params):
        lp = self._cached("variable_lp", self._variable_lp)
        lp_params = self._lp_params(params)
        D = self._data.D
        if D is None:
            return lp._relax(theta, gamma, **lp_params)
        D = self._cached(("decision_map", device_key(theta.device)), lambda: torch.as_tensor(
            D.toarray(), dtype=torch.float64, device=theta.device))
        # Costs of the variables D' theta; the relaxed decision D v (chain rule through D).
        v = lp._relax(theta.to(torch.float64) @ D, gamma, **lp_params)
        return (v @ D.T).to(theta.dtype)

    def _lp_params(self, params):
        return {name: value.to(torch.float64) for name, value in params.items()}

    # ------------------------------------------------------------------
    # Constructors
    # ------------------------------------------------------------------

    @classmethod
    def from_cvxpy(cls, problem, parameter, **kwargs):
        """Build a MixedIntegerProgram from a cvxpy model with objective ``parameter @ expr``.

        Parameters
        ----------
        problem : cvxpy.Problem
            ``Maximize(parameter @ expr)`` or ``Minimize(parameter @ expr)``
            where ``expr`` is an affine expression of the variables (of any
            shapes; integer, boolean or continuous), subject to affine
            equality and inequality constraints (variable attributes such as
            ``nonneg=True`` and ``boolean=True`` count). A constant added to
            the objective changes no decision and is dropped.
        parameter : cvxpy.Parameter
            The 1-D parameter of the objective: ``theta`` of the decision
            problem. It must not appear in the constraints.
        **kwargs
            ``n_jobs``, ``time_limit`` and ``mip_rel_gap`` of the result.

        Returns
        -------
        mip : MixedIntegerProgram
            The variables of ``problem`` in the order of
            ``problem.variables()``, each flattened in column-major
            (Fortran, cvxpy's) order, are its variables; ``expr`` becomes
            ``decision_map`` (omitted where ``expr`` is the variable vector).
            Constraints on a single variable become its bounds; the other rows
            of ``A_ub`` and ``A_eq`` are cvxpy's canonical ones (per-instance
            ``b_ub`` and ``b_eq`` refer to them: read ``mip.A_ub`` first).

        Examples
        --------
        >>> import cvxpy as cp
        >>> import numpy as np
        >>> from skdfl.optimizers import MixedIntegerProgram
        >>> start = cp.Variable(3, boolean=True)            # start the task at 0, 1 or 2
        >>> price = cp.Parameter(4)
        >>> runs_in = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]])
        >>> problem = cp.Problem(cp.Minimize(price @ (runs_in @ start)), [cp.sum(start) == 1])
        >>> task = MixedIntegerProgram.from_cvxpy(problem, price)
        >>> task.solve(np.array([[5.0, 1.0, 2.0, 9.0]]))
        array([[0., 1., 1., 0.]])
        """
        from ._milp_cvxpy import milp_arguments

        unknown = sorted(set(kwargs) - {"n_jobs", "time_limit", "mip_rel_gap"})
        if unknown:
            raise TypeError(f"from_cvxpy takes n_jobs, time_limit and mip_rel_gap besides the "
                            f"problem and its parameter; got {unknown}.")
        return cls(**milp_arguments(problem, parameter), **kwargs)


class _MILPData:
    """Validated structure of a MixedIntegerProgram."""

    def __init__(self, structure, A_eq, b_eq, A_ub, b_ub, lo, hi, D):
        self.structure = structure
        self.A_eq, self.b_eq, self.A_ub, self.b_ub = A_eq, b_eq, A_ub, b_ub
        self.lo, self.hi = lo, hi
        self.D = D


def _integrality(value):
    """Integer flags: a 0-d or 1-d bool array."""
    try:
        flags = np.asarray(value)
    except (TypeError, ValueError):
        flags = np.asarray(None)
    if flags.ndim > 1 or flags.dtype.kind not in "biuf" or flags.size == 0:
        raise ValueError("integrality must be 0 or 1 (every variable), or a 1-D array with one "
                         f"0/1 entry per variable; got {value!r}.")
    bad = np.flatnonzero((flags != 0) & (flags != 1))
    if len(bad):
        entry = flags.flat[bad[0]]
        where = "" if flags.ndim == 0 else f" for variable {bad[0]}"
        raise ValueError(f"integrality must hold 0 (continuous) or 1 (integer); got {entry}"
                         f"{where}.")
    return flags.astype(bool)


def _is_pair(bounds):
    """Whether ``bounds`` is one (low, high) pair for every variable (or None)."""
    return bounds is None or (isinstance(bounds, (tuple, list, np.ndarray)) and len(bounds) == 2
                              and all(v is None or np.ndim(v) == 0 for v in bounds))


def _is_identity(D):
    if sp.issparse(D):
        return (D != sp.eye_array(D.shape[0], format="csr")).nnz == 0
    return np.array_equal(D, np.eye(D.shape[0]))
