"""Per-instance HiGHS solves of a mixed-integer program, in parallel through joblib.

An integer program has no batched kernel: every instance (row of costs) is one
HiGHS solve. The instances are cut into a few chunks per worker and the chunks
run on threads (HiGHS releases the GIL). Under joblib's default backends these
are threads this module keeps from call to call, each with its HiGHS models
built once (a training step's solves are tens of milliseconds, where starting
a pool and its models per call costs a fifth of the parallel time, measured);
under any other backend the chunks go through ``joblib.Parallel``, so ``with
joblib.parallel_config(backend="dask"):`` sends them to a dask cluster
unchanged.

Two HiGHS front ends give the same decisions: ``highspy`` (when importable),
where each thread builds the model once and only changes the costs and
right-hand sides between solves, and :func:`scipy.optimize.milp`, one model per
call, the fallback.
"""

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections import OrderedDict

import joblib
import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

try:
    import highspy
except ImportError:      # pragma: no cover - highspy ships with cvxpy
    highspy = None

#: Chunks per worker: enough to balance solves of uneven length, few enough
#: that the per-task overhead stays small against millisecond solves.
CHUNKS_PER_WORKER = 4
#: HiGHS models kept per thread (one per problem structure solved recently).
_MODELS_PER_THREAD = 4
_local = threading.local()
#: joblib's default backends (processes, switched to threads by ``prefer``, or
#: threads): under them the chunks run on the threads kept in ``_pools``.
_DEFAULT_BACKENDS = ("LokyBackend", "ThreadingBackend")
_pools = {}     # (process id, workers) -> ThreadPoolExecutor; a forked child makes its own


class MILPStructure:
    """What every instance shares: the constraint rows, bounds and integrality.

    The rows are ``A_ub`` then ``A_eq`` (``row_lower <= A v <= row_upper``);
    an instance may replace the right-hand sides ``b_ub`` and ``b_eq``.
    Picklable (plain arrays), so that joblib backends with processes or a dask
    cluster take it; ``token`` names it in the per-thread model caches.

    Parameters
    ----------
    A_ub, A_eq : ndarray or sparse matrix, or None
    b_ub, b_eq : ndarray or None
    lo, hi : ndarray of shape (n,)
        Variable bounds (``-inf``/``inf`` where absent).
    integer : ndarray of bool, shape (n,)
        Which variables must be whole numbers.
    options : dict
        HiGHS options (``time_limit``, ``mip_rel_gap``); None values omitted.
    """

    def __init__(self, A_ub, b_ub, A_eq, b_eq, lo, hi, integer, options):
        n = len(lo)
        blocks = [sp.csc_array(A, dtype=np.float64) for A in (A_ub, A_eq) if A is not None]
        self.A = sp.csc_array(sp.vstack(blocks, format="csc")) if blocks else \
            sp.csc_array((0, n))
        self.n_ub = 0 if A_ub is None else A_ub.shape[0]
        self.n_eq = 0 if A_eq is None else A_eq.shape[0]
        self.b_ub = np.zeros(0) if b_ub is None else b_ub
        self.b_eq = np.zeros(0) if b_eq is None else b_eq
        self.lo, self.hi = lo, hi
        self.integer = np.asarray(integer, dtype=bool)
        self.options = {k: v for k, v in options.items() if v is not None}
        self.token = uuid.uuid4().hex

    @property
    def n(self):
        return len(self.lo)

    def row_bounds(self, b_ub, b_eq):
        """Lower and upper row bounds for the right-hand sides ``b_ub``, ``b_eq``."""
        lower = np.concatenate([np.full(self.n_ub, -np.inf), b_eq])
        return lower, np.concatenate([b_ub, b_eq])


def solve_instances(structure, costs, b_ub=None, b_eq=None, n_jobs=None, backend=None):
    """Minimize ``costs[i] @ v`` over the integer program, for every row ``i``.

    Parameters
    ----------
    structure : MILPStructure
    costs : ndarray of shape (B, n)
    b_ub : ndarray of shape (B, n_ub), optional
        Per-instance right-hand sides (the structure's for every row if None).
    b_eq : ndarray of shape (B, n_eq), optional
    n_jobs : int, optional
        Joblib's ``n_jobs``: the number of parallel workers.
    backend : {"highspy", "scipy"}, optional
        The HiGHS front end; default highspy when importable.

    Returns
    -------
    v : ndarray of shape (B, n)
        The solutions, integer variables rounded to whole numbers; NaN rows
        where HiGHS found none.
    status : list of str
        Per instance, HiGHS's model status ("Optimal", "Time limit reached",
        "Infeasible", ...); a row of ``v`` holds a solution when it is optimal
        or when a feasible point was found within the limits.
    """
    backend = backend or ("highspy" if highspy is not None else "scipy")
    n_instances = len(costs)
    workers = joblib.effective_n_jobs(n_jobs)
    n_chunks = min(n_instances, 1 if workers == 1 else CHUNKS_PER_WORKER * workers)
    edges = np.linspace(0, n_instances, n_chunks + 1).round().astype(int)
    chunks = [(costs[a:b], None if b_ub is None else b_ub[a:b],
               None if b_eq is None else b_eq[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    if n_chunks <= 1:
        results = [_solve_chunk(structure, backend, *chunk) for chunk in chunks]
    else:
        results = _map_chunks(structure, backend, chunks, n_jobs, workers)
    v = np.concatenate([r[0] for r in results]) if results else np.zeros((0, structure.n))
    return v, [s for r in results for s in r[1]]


def _map_chunks(structure, backend, chunks, n_jobs, workers):
    """``_solve_chunk`` of every chunk, on kept threads or through joblib's backend."""
    active, _ = joblib.parallel.get_active_backend()
    if type(active).__name__ not in _DEFAULT_BACKENDS:
        return joblib.Parallel(n_jobs=n_jobs, prefer="threads")(
            joblib.delayed(_solve_chunk)(structure, backend, *chunk) for chunk in chunks)
    key = (os.getpid(), workers)
    if key not in _pools:
        _pools[key] = ThreadPoolExecutor(workers, thread_name_prefix="skdfl-highs")
    return list(_pools[key].map(lambda chunk: _solve_chunk(structure, backend, *chunk),
                                chunks))


def _solve_chunk(structure, backend, costs, b_ub, b_eq):
    solve = _solve_highspy if backend == "highspy" else _solve_scipy
    v = np.full(costs.shape, np.nan)
    status = []
    for i, c in enumerate(costs):
        rhs = (structure.b_ub if b_ub is None else b_ub[i],
               structure.b_eq if b_eq is None else b_eq[i])
        x, name = solve(structure, c, rhs, per_row=b_ub is not None or b_eq is not None)
        if x is not None:
            v[i] = np.where(structure.integer, np.round(x), x) + 0.0   # no negative zeros
        status.append(name)
    return v, status


# ----------------------------------------------------------------------
# highspy: one model per thread, only costs and right-hand sides change
# ----------------------------------------------------------------------

def _solve_highspy(structure, c, rhs, per_row):
    model = _thread_model(structure)
    h = model.highs
    h.changeColsCost(structure.n, model.columns, c)
    if per_row or model.custom_rows:
        lower, upper = structure.row_bounds(*rhs)
        h.changeRowsBounds(len(lower), model.rows, lower, upper)
        model.custom_rows = per_row
    h.clearSolver()      # no start from the previous instance: results independent of order
    if h.run() == highspy.HighsStatus.kError and model.single_thread:
        # This thread's HiGHS scheduler was started with more threads (by a
        # solve of the user's): keep it, and HiGHS's default thread count.
        model.single_thread = False
        h.setOptionValue("threads", 0)
        h.clearSolver()
        h.run()
    status = h.getModelStatus()
    # A limit (time, nodes) may stop HiGHS with a feasible point: kept.
    usable = status == highspy.HighsModelStatus.kOptimal or (
        status in _LIMITS and h.getInfo().primal_solution_status == 2)   # 2: feasible
    x = np.array(h.getSolution().col_value) if usable else None
    return x, h.modelStatusToString(status)


# The bare solver class, without highspy.Highs's Python layer (callbacks, locks).
_RawHighs = None if highspy is None else getattr(highspy, "_Highs", highspy.Highs)
_LIMITS = () if highspy is None else (
    highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kIterationLimit,
    highspy.HighsModelStatus.kSolutionLimit, highspy.HighsModelStatus.kInterrupt)


class _ThreadModel:
    def __init__(self, structure):
        self.highs = _RawHighs()
        self.highs.setOptionValue("output_flag", False)
        # One HiGHS thread per solve: the parallelism is ours (joblib), and an
        # idle HiGHS worker spins, doubling the CPU time of a small MIP.
        self.single_thread = True
        self.highs.setOptionValue("threads", 1)
        # The feasibility-jump heuristic (HiGHS >= 1.10) costs about 3 ms a
        # solve: 1.3 to 3 times the whole solve of the 32- to 400-variable
        # knapsack, k-subset and assignment MIPs measured. Branch and bound
        # keeps its other heuristics.
        self.highs.setOptionValue("mip_heuristic_run_feasibility_jump", False)
        for key, value in structure.options.items():
            self.highs.setOptionValue(key, value)
        self.highs.passModel(_highs_lp(structure))
        self.columns = np.arange(structure.n, dtype=np.int32)
        self.rows = np.arange(structure.A.shape[0], dtype=np.int32)
        self.custom_rows = False


def _thread_model(structure):
    models = getattr(_local, "models", None)
    if models is None:
        models = _local.models = OrderedDict()
    model = models.get(structure.token)
    if model is None:
        model = models[structure.token] = _ThreadModel(structure)
        while len(models) > _MODELS_PER_THREAD:
            models.popitem(last=False)
    models.move_to_end(structure.token)
    return model


def _highs_lp(structure):
    lp = highspy.HighsLp()
    n, m = structure.n, structure.A.shape[0]
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_, lp.col_upper_ = structure.lo, structure.hi
    lp.row_lower_, lp.row_upper_ = structure.row_bounds(structure.b_ub, structure.b_eq)
    A = structure.A
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data
    if structure.integer.any():
        kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
        lp.integrality_ = [kinds[int(flag)] for flag in structure.integer]
    return lp


# ----------------------------------------------------------------------
# scipy.optimize.milp: one model per call (the fallback)
# ----------------------------------------------------------------------

# scipy's status codes, named as HiGHS names its model statuses.
_SCIPY_STATUS = {0: "Optimal", 1: "Time or iteration limit reached", 2: "Infeasible",
                 3: "Unbounded"}


def _solve_scipy(structure, c, rhs, per_row):
    constraints = ()
    if structure.A.shape[0]:
        constraints = LinearConstraint(structure.A, *structure.row_bounds(*rhs))
    res = milp(c, integrality=structure.integer.astype(np.int8),
               bounds=Bounds(structure.lo, structure.hi), constraints=constraints,
               options=dict(structure.options))
    x = None if res.x is None or res.status not in (0, 1) else np.asarray(res.x)
    return x, _SCIPY_STATUS.get(res.status, str(res.message))
