"""Fuzzing the numeric public API: optimizers, method layers and losses, metrics.

The contract checked for every call: it returns a finite result of the right
shape and kind, or it raises ``ValueError`` or ``TypeError`` whose message
names the offending argument. Never an error from deep inside torch, numpy or
scipy, never NaN from finite input, never a valid input refused. (The
estimators are fuzzed in ``test_reliability.py``.)

Decided here (issue "Hardening", item 1):

* **0 rows** is a batch of no instances, as in scikit-learn: ``solve`` and
  ``relax`` return shape ``(0, n_vars)``, ``objective`` ``(0,)``, the solver
  layers ``(0, n_vars)`` and ``regret(..., reduction="none")`` an empty array.
  What averages over the instances (``regret`` with ``"mean"`` or
  ``"normalized"``, every training loss) raises ``ValueError`` naming the
  argument, as scikit-learn's metrics do for empty input.
* **1-D** input is one instance; the result has no batch axis.
* **dtypes**: ints and bools are numbers (cast to float64); float16/32/64
  tensors keep their dtype; numpy input gives float64 numpy output.
* **NaN/inf** in data (``theta``, ``x``, ``y_true``, ``y_pred``, the true
  ``theta`` and ``x_true`` of a loss) raise ``ValueError`` naming it. In
  ``theta_hat``, a model's predictions, they propagate instead: the affected
  rows of a layer's output are NaN and a loss is non-finite. A diverging model
  is never hidden behind a finite loss, and the estimators report "training
  diverged" with the epoch and batch rather than an error about an internal
  tensor.
* ``objective`` does not depend on ``k``: ``KSubset(k=0, n_items=3).objective``
  answers; every other call with a bad constructor argument raises.
"""

import math
import re
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import LinearRegression

from skdfl.methods import (IMLE, BlackboxDifferentiation, BlackboxRegret, ImleRegret,
                           ListwiseRankingLoss, LogLoss, NegativeIdentityRegret,
                           NoiseContrastiveEstimation, PerturbationGradient,
                           PerturbedFenchelYoung, PerturbedRegret, Relaxation,
                           RelaxationRegret, SPOPlus, SquaredError, gumbel_noise,
                           standard_gamma, sum_of_gamma_noise)
from skdfl.metrics import make_regret_scorer, regret
from skdfl.optimizers import (CoverageMaximizer, KSubset, Knapsack, LinearProgram,
                              ShortestPath)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
ERRORS = (ValueError, TypeError)
CYCLIC = dict(edges=[(0, 1), (1, 2), (2, 0), (1, 3), (0, 3), (3, 2)], source=0, target=2)
FLOATS = ("float64", "float32", "float16")
DTYPES = FLOATS + ("int64", "int32", "bool")
SHAPES = ("2d",) * 5 + ("1d", "1d", "0rows", "wide", "narrow", "3d", "0d", "0cols")
DOMAIN = {"real": (-20.0, 20.0), "nonneg": (0.0, 20.0), "prob": (0.0, 1.0)}


# ------------------------------------------------------------------ problems

@dataclass
class Problem:
    optimizer: object
    width: int            # columns of theta (KSubset without n_items: drawn)
    domain: str           # the values theta may take: "real", "nonneg" or "prob"
    discrete: bool = True  # decisions are 0/1

    @property
    def sized_by_data(self):
        return self.optimizer.n_params is None

    def accepts_width(self, width):
        if self.sized_by_data:
            return width >= self.optimizer.k
        return width == self.optimizer.n_params

    def n_vars(self, width):
        return width if self.sized_by_data else self.optimizer.n_vars

    def names(self):
        """Arguments an error about theta's width may name besides theta."""
        return ("k",) if self.sized_by_data else ()


@st.composite
def problems(draw, kinds=("grid", "cyclic", "ksubset", "knapsack", "lp", "coverage")):
    kind = draw(st.sampled_from(kinds))
    if kind == "grid":
        sp = ShortestPath(grid=draw(st.sampled_from([(1, 2), (2, 1), (2, 2), (2, 3), (3, 2)])))
        return Problem(sp, sp.n_params, "real")
    if kind == "cyclic":
        return Problem(ShortestPath(**CYCLIC), 6, "nonneg")
    if kind == "ksubset":
        n = draw(st.integers(1, 5))
        k = draw(st.integers(1, n))
        return Problem(KSubset(k=k, n_items=draw(st.sampled_from([None, n]))), n, "real")
    if kind == "knapsack":
        n = draw(st.integers(1, 4))
        weights = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
        return Problem(Knapsack(weights, draw(st.integers(0, 6))), n, "real")
    if kind == "lp":
        lp = draw(st.sampled_from([
            LinearProgram.bipartite_matching(2, 2),
            LinearProgram(A_eq=[[1.0, 1.0, 1.0]], b_eq=[1.0], sense="minimize"),
            LinearProgram(A_ub=[[1.0, 1.0, 1.0]], b_ub=[2.0], bounds=(0, 1))]))
        return Problem(lp, lp.n_params, "real", discrete=False)
    n, m = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    weights = draw(st.sampled_from([None, np.arange(1.0, m + 1.0), np.zeros(m)]))
    cover = CoverageMaximizer(k=draw(st.integers(1, n)), n_items=n, n_targets=m,
                              weights=weights)
    return Problem(cover, n * m, "prob")


# -------------------------------------------------------------------- inputs

@dataclass
class Input:
    value: object
    array: np.ndarray     # the values as float64
    ndim: int
    rows: int
    width: int
    finite: bool
    in_domain: bool
    dtype: str
    kind: str

    @property
    def is_tensor(self):
        return isinstance(self.value, torch.Tensor)

    @property
    def batch_shape(self):
        """Shape after turning 1-D input into one row; None when neither 1-D nor 2-D."""
        if self.ndim == 2:
            return (self.rows, self.width)
        return (1, self.width) if self.ndim == 1 else None

    def finite_rows_in(self, lo, hi):
        """Whether every row without NaN or inf lies in [lo, hi]."""
        rows = self.array.reshape(-1, self.width) if self.width else self.array.reshape(0, 1)
        finite = np.isfinite(rows).all(1)
        return bool(((rows[finite] >= lo) & (rows[finite] <= hi)).all())

    def result_shape(self, n_cols):
        return (self.rows, n_cols) if self.ndim == 2 else (n_cols,)

    def float_dtype(self):
        """The dtype of results computed from this input."""
        if self.is_tensor and self.value.is_floating_point():
            return self.value.dtype
        return torch.float64 if self.is_tensor else np.float64


@st.composite
def inputs(draw, width, domain="real", shapes=SHAPES, libraries=("numpy", "torch"),
           dtypes=DTYPES, defects=True, rows=None):
    """An array of instances in every kind, shape and dtype, maybe with NaN/inf or a
    value outside the problem's domain; ``rows`` instances where given."""
    shape_kind = draw(st.sampled_from(shapes))
    rows = rows or draw(st.integers(1, 3))
    shape = {"2d": (rows, width), "1d": (width,), "0rows": (0, width),
             "wide": (rows, width + 1), "narrow": (rows, width - 1), "3d": (2, rows, width),
             "0d": (), "0cols": (rows, 0)}[shape_kind]
    dtype = draw(st.sampled_from(dtypes))
    lo, hi = DOMAIN[domain]
    elements = st.one_of(st.floats(lo, hi), st.sampled_from([lo, hi, 0.0, round((lo + hi) / 2)]))
    values = draw(arrays(np.float64, shape, elements=elements))
    defects = defects and draw(st.booleans())
    if dtype == "bool":
        values = np.asarray(values != 0)
    elif dtype.startswith("int"):
        values = np.asarray(np.round(values).astype(dtype))
    else:
        values = np.asarray(values.astype(dtype))
    if (defects and values.size and domain != "real" and dtype != "bool"
            and draw(st.sampled_from([0, 0, 1]))):
        values.flat[draw(st.integers(0, values.size - 1))] = draw(
            st.sampled_from([-1, 2] if domain == "prob" else [-1]))
    if defects and values.size and dtype in FLOATS and draw(st.sampled_from([0, 0, 1])):
        values.flat[draw(st.integers(0, values.size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf]))
    array = values.astype(np.float64)
    finite = bool(np.isfinite(array).all())
    in_domain = bool(((array >= lo) & (array <= hi)).all())     # NaN and inf: outside
    if draw(st.sampled_from(libraries)) == "torch":
        values = torch.from_numpy(values.copy())
    ndim = len(shape)
    return Input(values, array, ndim, shape[0] if ndim == 2 else (1 if ndim == 1 else 0),
                 shape[-1] if ndim else 0, finite, in_domain, dtype, shape_kind)


def like(inp):
    """Shapes for a second input: mostly those of the first one."""
    return (inp.kind,) * 6 + SHAPES


def theta_is_valid(problem, inp):
    return (inp.ndim in (1, 2) and problem.accepts_width(inp.width) and inp.finite
            and inp.in_domain)


def to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)


def names_one_of(message, names):
    """Whether ``message`` names one of ``names`` as a word (``theta`` is not ``theta_hat``)."""
    return any(re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message) for name in names)


def answer(call, valid, names, *, also_valid=()):
    """Run ``call``: a valid input must be answered, an invalid one refused clearly.

    Returns the result, or None after a clear refusal. ``also_valid`` lists
    message fragments of documented refusals of valid input.
    """
    event("valid input" if valid else "invalid input")
    try:
        result = call()
    except ERRORS as exc:
        message = str(exc)
        if any(fragment in message for fragment in also_valid):
            return None
        assert not valid, f"a valid input was refused: {type(exc).__name__}: {message}"
        assert names_one_of(message, names), (
            f"the message does not name any of {names}: {message}")
        return None
    assert valid, f"an invalid input was accepted: {result!r}"
    return result


def assert_batch_result(result, inp, n_cols):
    """Kind, dtype, shape and finiteness of a result with one row per instance."""
    if inp.is_tensor:
        assert isinstance(result, torch.Tensor)
    else:
        assert isinstance(result, np.ndarray)
    assert result.dtype == inp.float_dtype()
    assert tuple(result.shape) == inp.result_shape(n_cols)
    assert np.isfinite(to_numpy(result)).all()


# -------------------------------------------------------------- optimizers

@FUZZ
@given(st.data())
def test_solve_answers_or_names_theta(data):
    problem = data.draw(problems())
    theta = data.draw(inputs(problem.width, problem.domain))
    valid = theta_is_valid(problem, theta)
    x = answer(lambda: problem.optimizer.solve(theta.value), valid, ("theta",) + problem.names())
    if x is not None:
        assert_batch_result(x, theta, problem.n_vars(theta.width))
        if problem.discrete:
            assert np.isin(to_numpy(x), (0.0, 1.0)).all()


@FUZZ
@given(st.data())
def test_objective_answers_or_names_x_and_theta(data):
    problem = data.draw(problems())
    opt = problem.optimizer
    theta = data.draw(inputs(problem.width, problem.domain))
    n_vars = problem.n_vars(problem.width)
    x = data.draw(inputs(n_vars, "prob", shapes=like(theta), rows=theta.rows or None))
    if problem.sized_by_data:      # objective needs no k: any width, the same for both
        widths_ok = x.width == theta.width
    else:
        widths_ok = theta.width == opt.n_params and x.width == opt.n_vars
    valid = (theta.ndim in (1, 2) and x.ndim in (1, 2) and widths_ok
             and theta.finite and (theta.in_domain or opt.is_linear) and x.finite
             and x.batch_shape[0] == theta.batch_shape[0])
    # x @ theta needs no domain (a path's cost may be negative); coverage needs
    # probabilities
    value = answer(lambda: opt.objective(x.value, theta.value), valid, ("x", "theta"))
    if value is not None:
        assert isinstance(value, torch.Tensor) == theta.is_tensor
        assert value.dtype == theta.float_dtype()
        assert tuple(value.shape) == ((theta.rows,) if theta.ndim == 2 else ())
        assert np.isfinite(to_numpy(value)).all()


@FUZZ
@given(st.data())
def test_relax_answers_or_names_theta_and_gamma(data):
    problem = data.draw(problems())
    opt = problem.optimizer
    theta = data.draw(inputs(problem.width, problem.domain))
    gamma = data.draw(st.sampled_from([0.5, 2.0, 0.05, 1, 0.0, -1.0, np.nan, np.inf, "1", None,
                                       True, np.float32(0.5)]))
    nonlinear = not opt.is_linear
    gamma_ok = (isinstance(gamma, (int, float, np.floating)) and not isinstance(gamma, bool)
                and math.isfinite(gamma) and (gamma > 0 or (nonlinear and gamma == 0)))
    # a linear relaxation is a projection, defined for every theta (negative costs on a
    # graph with a cycle included); coverage needs probabilities
    valid = (theta.ndim in (1, 2) and problem.accepts_width(theta.width) and theta.finite
             and (theta.in_domain or opt.is_linear) and gamma_ok)
    x = answer(lambda: opt.relax(theta.value, gamma), valid,
               ("theta", "gamma") + problem.names())
    if x is not None:
        assert_batch_result(x, theta, problem.n_vars(theta.width))
        values = to_numpy(x)
        assert (values >= -1e-6).all() and (values <= 1 + 1e-6).all()


# --------------------------------------------------- bad constructor arguments

def _theta(opt_width):
    return np.full((2, opt_width), 0.5)


GOOD = {
    KSubset: (dict(k=2, n_items=3), 3),
    Knapsack: (dict(weights=[1, 2, 3], capacity=3), 3),
    CoverageMaximizer: (dict(k=1, n_items=2, n_targets=2), 4),
    ShortestPath: (dict(edges=[(0, 1), (1, 2), (0, 2)], source=0, target=2), 3),
    LinearProgram: (dict(A_ub=[[1.0, 1.0]], b_ub=[1.0], bounds=(0, 1)), 2),
}
BAD = [
    (KSubset, "k", [0, -1, 1.5, True, None, "2", np.nan, 4]),
    (KSubset, "n_items", [0, -3, 2.5, True, "4", np.nan]),
    (Knapsack, "weights", [[], [[1, 2, 3]], [1.5, 2, 3], [-1, 2, 3], [np.nan, 1, 1], [np.inf, 1, 1],
                           ["a", "b", "c"], None, 3, [1e20, 1, 1]]),
    (Knapsack, "capacity", [-1, 2.5, None, True, "3", np.nan, np.inf]),
    (CoverageMaximizer, "k", [0, -1, 1.5, True, None, 3]),
    (CoverageMaximizer, "n_items", [0, -1, 2.5, None, True]),
    (CoverageMaximizer, "n_targets", [0, -1, 2.5, None, "2"]),
    (CoverageMaximizer, "weights", [[-1, 1], [np.nan, 1], [1, 1, 1], "ab", [[1, 1]], [np.inf, 1]]),
    (ShortestPath, "edges", [[(0, 0), (0, 2)], [(0.5, 1)], [], "ab", [(-1, 0), (0, 2)],
                             np.zeros((2, 2, 2), dtype=int), [(0, 1), (2, 3)]]),
    (ShortestPath, "source", [None, -1, 9, 0.0, True, "0", 2]),
    (ShortestPath, "target", [None, -1, 9, 2.0, False, 0]),
    (ShortestPath, "grid", [(0, 2), (2,), (1, 1), (2.0, 3), (True, 2), "22", 5]),
    (LinearProgram, "A_ub", ["ab", [[np.nan, 1.0]], np.ones((1, 1, 2)), [[]], [1.0, 2.0], None]),
    (LinearProgram, "b_ub", [None, [np.nan], ["a"], [1.0, 2.0], [[1.0]]]),
    (LinearProgram, "A_eq", [[[1.0, 1.0]], [[1.0, 1.0, 1.0]]]),
    (LinearProgram, "b_eq", [[1.0]]),
    (LinearProgram, "bounds", ["ab", (2, 1), (np.nan, 1), [(0, 1)], (None, "x"),
                               [(0, 1)] * 3, (np.inf, None)]),
    (LinearProgram, "sense", ["max", None, 1, "MAXIMIZE"]),
]
# Arguments an error about another argument may rightly name too.
RELATED = {"k": ("n_items",), "n_items": ("k",), "source": ("target", "edges"),
           "target": ("source", "edges"), "edges": ("source", "target"),
           "grid": ("edges", "source", "target"), "A_ub": ("b_ub", "variables"),
           "b_ub": ("A_ub",), "A_eq": ("b_eq", "A_ub"), "b_eq": ("A_eq",),
           "bounds": ("variables",), "weights": ("capacity",), "capacity": ("weights",)}
BAD_CASES = [(cls, arg, value) for cls, arg, values in BAD for value in values]


@pytest.mark.parametrize("cls, arg, value", BAD_CASES,
                         ids=[f"{c.__name__}-{a}-{i}" for i, (c, a, v) in enumerate(BAD_CASES)])
def test_bad_constructor_argument_is_named_by_every_call(cls, arg, value):
    params, width = GOOD[cls]
    params = {**params, arg: value}
    if cls is ShortestPath and arg == "grid":
        params = dict(grid=value)
    if arg == "A_eq":                     # A_eq with b_eq (or without)
        params.setdefault("b_eq", None)
    if arg == "b_eq":
        params["A_eq"] = None
    opt = cls(**params)                   # __init__ only stores
    clone(opt)
    names = (arg,) + RELATED.get(arg, ())
    theta = _theta(width)
    calls = {"n_params": lambda: opt.n_params, "solve": lambda: opt.solve(theta),
             "relax": lambda: opt.relax(torch.as_tensor(theta), 0.5),
             "objective": lambda: opt.objective(np.zeros((2, width // 2 if cls is
                                                          CoverageMaximizer else width)), theta)}
    if cls is KSubset and arg == "k":
        del calls["n_params"], calls["objective"]      # neither depends on k
    for name, call in calls.items():
        with pytest.raises(ERRORS) as info:
            call()
        assert names_one_of(str(info.value), names), (name, str(info.value))


# ------------------------------------------------------- layers and losses

LINEAR_KINDS = ("grid", "cyclic", "ksubset", "knapsack", "lp")
HYPER = {
    "lambd": ([10.0, 0.5, 3], [0, -1.0, np.nan, np.inf, "1", None, True]),
    "gamma": ([0.1, 1.0, 0.0], [-0.5, np.nan, np.inf, "a", None, True]),
    "tau": ([1.0, 0.3], [0, -1, np.nan]),
    "n_samples": ([1, 3], [0, -2, 1.5, True, None]),
    "noise": (["sog", "gumbel", None], ["normal", "x", 3]),
    "sigma": ([1.0, 0.2], [0, -1, np.inf, "s"]),
    "k": ([None, 2.0], [0, -1, np.nan]),
}
# method -> (factory, its hyperparameters, is a loss, needs a linear optimizer)
METHODS = {
    "spo+": (lambda opt, **p: SPOPlus(opt), (), True, True),
    "dbb": (lambda opt, **p: BlackboxRegret(opt, **p), ("lambd",), True, True),
    "imle": (lambda opt, **p: ImleRegret(opt, **p), ("lambd", "noise", "tau", "n_samples", "k"),
             True, True),
    "fy": (lambda opt, **p: PerturbedFenchelYoung(opt, **p), ("sigma", "n_samples"), True, True),
    "relaxation": (lambda opt, **p: RelaxationRegret(opt, **p), ("gamma",), True, False),
    "two-stage": (lambda opt, **p: SquaredError(opt), (), True, False),
    "log-loss": (lambda opt, **p: LogLoss(opt), (), True, False),
    "dbb-layer": (lambda opt, **p: BlackboxDifferentiation(opt, **p), ("lambd",), False, True),
    "imle-layer": (lambda opt, **p: IMLE(opt, **p), ("lambd", "noise", "tau", "n_samples", "k"),
                   False, True),
    "relaxation-layer": (lambda opt, **p: Relaxation(opt, **p), ("gamma",), False, False),
    "nid": (lambda opt, **p: NegativeIdentityRegret(opt), (), True, True),
    "dpo": (lambda opt, **p: PerturbedRegret(opt, **p), ("sigma", "n_samples"), True, True),
    "pg": (lambda opt, **p: PerturbationGradient(opt, **p), ("sigma",), True, True),
    "nce": (lambda opt, **p: NoiseContrastiveEstimation(opt), (), True, True),
    "ltr-list": (lambda opt, **p: ListwiseRankingLoss(opt, **p), ("tau",), True, True),
}


@st.composite
def methods(draw):
    """(name, factory, optimizer, hyperparameters, the names of the bad ones, problem)."""
    name = draw(st.sampled_from(sorted(METHODS)))
    factory, hyper, _, linear = METHODS[name]
    kinds = LINEAR_KINDS + (() if linear and draw(st.sampled_from([1, 1, 1, 0])) else
                            ("coverage",))
    problem = draw(problems(kinds))
    params, bad = {}, set()
    for param in hyper:
        good, wrong = HYPER[param]
        if draw(st.sampled_from([1, 1, 1, 1, 0])):
            params[param] = draw(st.sampled_from(good))
        else:
            params[param] = draw(st.sampled_from(wrong))
            bad.add(param)
    optimizer = draw(st.sampled_from([problem.optimizer] * 6 + [None, "grid",
                                                                  LinearRegression()]))
    if optimizer is not problem.optimizer or (linear and not problem.optimizer.is_linear):
        bad.add("optimizer")
    elif linear and not problem.optimizer.any_sign:     # perturbed costs can be negative
        bad.add("optimizer")
    return name, factory, optimizer, params, bad, problem


def _rows_ok(inp, rows):
    return inp.batch_shape is not None and inp.batch_shape[0] == rows


@FUZZ
@given(st.data())
def test_layers_and_losses_forward_and_backward(data):
    name, factory, optimizer, params, bad, problem = data.draw(methods())
    _, _, is_loss, _ = METHODS[name]
    torch.manual_seed(0)
    try:
        module = factory(optimizer, **params)
    except ERRORS as exc:
        assert bad, f"valid hyperparameters refused: {exc}"
        assert names_one_of(str(exc), bad), str(exc)
        return
    assert not bad, f"bad {bad} accepted: {params}"
    if params.get("gamma") == 0.0 and problem.optimizer.is_linear:
        bad = {"gamma"}     # allowed by the layer, refused by the linear relaxations
    theta_hat = data.draw(inputs(problem.width, problem.domain,
                                 libraries=("torch",) * 5 + ("numpy",)))
    hat = theta_hat.value
    if theta_hat.is_tensor and hat.is_floating_point():
        hat.requires_grad_(True)
    names = ("theta_hat", "gamma") + problem.names()
    hat_ok = (theta_hat.is_tensor and theta_hat.ndim in (1, 2)
              and problem.accepts_width(theta_hat.width))
    if name in ("relaxation-layer", "relaxation") and not problem.optimizer.is_linear:
        # the coverage relaxation is defined on probabilities only (rows with NaN
        # or inf are not relaxed: they come out NaN)
        hat_ok = hat_ok and theta_hat.finite_rows_in(*DOMAIN[problem.domain])
    if not is_loss:
        valid = hat_ok and not bad
        x = answer(lambda: module(hat), valid, names)
        if x is None:
            return
        n_vars = problem.n_vars(theta_hat.width)
        assert isinstance(x, torch.Tensor) and x.dtype == theta_hat.float_dtype()
        assert tuple(x.shape) == theta_hat.result_shape(n_vars)
        rows_finite = torch.isfinite(hat.detach().reshape(-1, theta_hat.width)).all(-1)
        x_rows = x.detach().reshape(-1, n_vars)
        assert torch.isfinite(x_rows[rows_finite]).all()
        assert torch.isnan(x_rows[~rows_finite]).all()         # NaN in, NaN out
        if x.requires_grad:
            x_finite = x.reshape(-1, n_vars)[rows_finite]
            weights = torch.linspace(-1.0, 1.0, x_finite.numel(), dtype=x.dtype)
            (x_finite * weights.reshape(x_finite.shape)).sum().backward()
            assert hat.grad.shape == hat.shape
            grad_rows = hat.grad.reshape(-1, theta_hat.width)
            assert torch.isfinite(grad_rows[rows_finite]).all()
        return
    theta = data.draw(inputs(problem.width, problem.domain, shapes=like(theta_hat),
                             rows=theta_hat.rows or None))
    x_true_kind = data.draw(st.sampled_from(["none", "none", "exact", "wrong"]))
    rows = theta_hat.batch_shape[0] if theta_hat.batch_shape else None
    theta_ok = (theta.ndim in (1, 2) and theta.finite and theta.in_domain
                and theta.batch_shape == (theta_hat.batch_shape or ()))
    x_true, x_true_ok = None, True
    if x_true_kind != "none" and theta_ok and hat_ok and rows:
        n_vars = problem.n_vars(theta_hat.width)
        x_true = problem.optimizer.with_n_params(theta.width).solve(
            torch.as_tensor(to_numpy(theta.value)).reshape(-1, theta.width))
        if x_true_kind == "wrong":
            x_true = x_true[:, :-1] if n_vars > 1 else x_true[:0]
            x_true_ok = False
    valid = hat_ok and bool(rows) and theta_ok and x_true_ok and not bad
    loss = answer(lambda: module(hat, theta.value, x_true), valid,
                  names + ("theta", "x_true", "logits"))
    if loss is None:
        return
    assert isinstance(loss, torch.Tensor) and loss.shape == ()
    if not theta_hat.finite:
        assert not torch.isfinite(loss), "a non-finite theta_hat gave a finite loss"
        return
    assert torch.isfinite(loss), float(loss)
    if loss.requires_grad:
        loss.backward()
        assert hat.grad.shape == hat.shape and torch.isfinite(hat.grad).all()


@FUZZ
@given(which=st.sampled_from(["gamma", "gumbel", "sog"]),
       value=st.sampled_from([1.0, 0.3, 5, 1e-6, 1e6, 0, -1.0, np.nan, np.inf, "1", None, True]),
       dtype=st.sampled_from([torch.float64, torch.float32, torch.float16, torch.int64, "float"]),
       shape=st.sampled_from([(3,), (2, 4), (0, 3), ()]))
def test_noise_draws_answer_or_name_the_parameter(which, value, dtype, shape):
    generator = torch.Generator().manual_seed(0)
    name, call = {
        "gamma": ("concentration", lambda: standard_gamma(value, shape, generator=generator,
                                                          dtype=dtype)),
        "gumbel": ("tau", lambda: gumbel_noise(shape, value, generator, dtype=dtype)),
        "sog": ("k", lambda: sum_of_gamma_noise(shape, value, generator=generator,
                                                dtype=dtype))}[which]
    value_ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value) and value > 0)
    dtype_ok = isinstance(dtype, torch.dtype) and dtype.is_floating_point
    draws = answer(call, value_ok and dtype_ok, (name, "dtype"))
    if draws is not None:
        assert draws.shape == shape and draws.dtype == dtype
        scale = 1.0 / value if which == "sog" else value      # SoG noise is about tau / k
        if scale > torch.finfo(dtype).max / 100:
            return      # draws of size 1e6 are beyond float16: they round to inf
        assert torch.isfinite(draws).all()
        if which == "gamma":
            assert (draws >= 0).all()


# ---------------------------------------------------------------- metrics

REDUCTIONS = ["normalized", "mean", "none", "sum", None, 1]


@FUZZ
@given(st.data())
def test_regret_answers_or_names_the_argument(data):
    problem = data.draw(problems())
    y_true = data.draw(inputs(problem.width, problem.domain))
    y_pred = data.draw(inputs(problem.width, problem.domain, shapes=like(y_true),
                              rows=y_true.rows or None))
    reduction = data.draw(st.sampled_from(REDUCTIONS[:3] * 3 + REDUCTIONS))
    optimizer = data.draw(st.sampled_from([problem.optimizer] * 8 + [LinearRegression(), None]))
    valid = (optimizer is problem.optimizer and reduction in REDUCTIONS[:3]
             and theta_is_valid(problem, y_true) and theta_is_valid(problem, y_pred)
             and y_true.batch_shape == y_pred.batch_shape
             and (y_true.batch_shape[0] > 0 or reduction == "none"))
    value = answer(lambda: regret(y_true.value, y_pred.value, optimizer=optimizer,
                                  reduction=reduction), valid,
                   ("y_true", "y_pred", "reduction", "optimizer") + problem.names(),
                   also_valid=("normalized regret is undefined",))
    if value is None:
        return
    if reduction == "none":
        assert isinstance(value, np.ndarray) and value.shape == (y_true.batch_shape[0],)
        assert np.isfinite(value).all()
        if not isinstance(problem.optimizer, CoverageMaximizer):     # exact solvers
            assert (value >= -1e-9 * (1 + np.abs(to_numpy(y_true.value)).sum())).all()
    else:
        assert isinstance(value, float) and math.isfinite(value)


class _Predicts(RegressorMixin, BaseEstimator):
    """A fitted stand-in whose predictions are given."""

    def __init__(self, predictions):
        self.predictions = predictions

    def fit(self, X, y):
        return self

    def predict(self, X):
        return self.predictions


@FUZZ
@given(st.data())
def test_regret_scorer_answers_or_names_the_argument(data):
    problem = data.draw(problems(("grid", "ksubset", "knapsack", "coverage")))
    reduction = data.draw(st.sampled_from(REDUCTIONS[:2] * 3 + REDUCTIONS))
    optimizer = data.draw(st.sampled_from([problem.optimizer] * 8 + ["grid", None]))
    scorer = answer(lambda: make_regret_scorer(optimizer, reduction=reduction),
                    optimizer is problem.optimizer and reduction in REDUCTIONS[:2],
                    ("optimizer", "reduction"))
    if scorer is None:
        return
    y = data.draw(inputs(problem.width, problem.domain, libraries=("numpy",)))
    y_pred = data.draw(inputs(problem.width, problem.domain, libraries=("numpy",),
                              shapes=like(y), rows=y.rows or None))
    X = np.zeros((y.batch_shape[0] if y.batch_shape else 1, 2))
    valid = (theta_is_valid(problem, y) and theta_is_valid(problem, y_pred)
             and y.batch_shape == y_pred.batch_shape and y.batch_shape[0] > 0)
    score = answer(lambda: scorer(_Predicts(y_pred.value), X, y.value), valid,
                   ("y_true", "y_pred") + problem.names(),
                   also_valid=("normalized regret is undefined",))
    if score is not None:
        assert isinstance(score, float) and math.isfinite(score)
        assert score == -regret(y.value, y_pred.value, optimizer=optimizer, reduction=reduction)


# --------------------------------------------------------- documented cases

@pytest.mark.parametrize("problem", [
    Problem(ShortestPath(grid=(2, 3)), 7, "real"), Problem(ShortestPath(**CYCLIC), 6, "nonneg"),
    Problem(KSubset(k=2), 4, "real"), Problem(Knapsack([1, 2, 0], 2), 3, "real"),
    Problem(LinearProgram.bipartite_matching(2, 2), 4, "real", False),
    Problem(CoverageMaximizer(1, 2, 2), 4, "prob")], ids=lambda p: type(p.optimizer).__name__)
@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_zero_rows_give_empty_results(problem, library):
    opt, width = problem.optimizer, problem.width
    n_vars = problem.n_vars(width)
    empty = np.zeros((0, width)) if library == "numpy" else torch.zeros(0, width)
    assert tuple(opt.solve(empty).shape) == (0, n_vars)
    assert tuple(opt.objective(np.zeros((0, n_vars)), empty).shape) == (0,)
    assert tuple(opt.relax(empty, 0.5).shape) == (0, n_vars)
    assert regret(empty, empty, optimizer=opt, reduction="none").shape == (0,)
    for reduction in ("mean", "normalized"):
        with pytest.raises(ValueError, match=f"y_true must hold at least one instance.*"
                                             f"{reduction}"):
            regret(empty, empty, optimizer=opt, reduction=reduction)


def test_zero_rows_through_layers_and_losses():
    opt = ShortestPath(grid=(2, 2))
    empty = torch.zeros(0, 4, requires_grad=True)
    for layer in (BlackboxDifferentiation(opt), IMLE(opt), Relaxation(opt)):
        x = layer(empty)
        assert x.shape == (0, 4)
        x.sum().backward()
    for loss in (SPOPlus(opt), BlackboxRegret(opt), ImleRegret(opt),
                 PerturbedFenchelYoung(opt), RelaxationRegret(opt), SquaredError(opt)):
        with pytest.raises(ValueError, match="theta_hat must hold at least one instance"):
            loss(empty, torch.zeros(0, 4))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_predictions_propagate(bad):
    opt = KSubset(k=1)
    theta = torch.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 1.0]])
    theta_hat = theta.clone()
    theta_hat[1, 2] = bad
    for layer in (BlackboxDifferentiation(opt), IMLE(opt, noise=None), Relaxation(opt)):
        x = layer(theta_hat)
        assert torch.isfinite(x[0]).all() and torch.isnan(x[1]).all()
    for loss in (SPOPlus(opt), BlackboxRegret(opt), ImleRegret(opt), PerturbedFenchelYoung(opt),
                 RelaxationRegret(opt), SquaredError(opt), LogLoss(opt)):
        assert not torch.isfinite(loss(theta_hat, theta.clamp(0, 1))), type(loss).__name__
