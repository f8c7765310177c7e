"""From the estimator's ``method=`` string to a training loss: one row per method.

Each row names the method, the loss that builds it, the estimator
parameters it reads (by their estimator name: ``lambd``, ``sigma``, ...),
what the optimizer must offer, and one sentence for the docs. Validation of
``method=``, ``"auto"`` and the user guide's method table all read this
table, so adding a method is one loss module and one row here.
"""

from dataclasses import dataclass

from ._aimle import AdaptiveImleRegret
from ._blackbox import BlackboxRegret
from ._contrastive import ContrastiveMAP, NoiseContrastiveEstimation
from ._identity import NegativeIdentityRegret
from ._imle import ImleRegret
from ._perturbed import PerturbedFenchelYoung, PerturbedRegret
from ._pg import PerturbationGradient
from ._ranking import ListwiseRankingLoss, PairwiseRankingLoss, PointwiseRankingLoss
from ._relaxation import RelaxationRegret, has_relaxation
from ._spo import SPOPlus
from ._two_stage import LogLoss, SquaredError


@dataclass(frozen=True)
class Method:
    """One training method of the estimators.

    Parameters
    ----------
    name : str
        The ``method=`` string.
    build : callable
        ``build(optimizer, **reads)`` returns the :class:`DecisionLoss`.
    reads : tuple of str
        Estimator parameters passed to ``build``; besides the estimator's
        hyperparameters, ``probabilities`` (a classifier), ``solution_size``
        (mean non-zeros of the true decisions), ``generator`` (the seeded
        ``torch.Generator`` of the perturbations) and ``pool`` (the
        :class:`SolutionPool` of training: the training optima, growing with
        every solve).
    needs : str
        What the optimizer must offer, for the docs.
    summary : str
        One sentence for the docs.
    """

    name: str
    build: object
    reads: tuple
    needs: str
    summary: str


def _two_stage(optimizer, probabilities=False):
    return LogLoss(optimizer) if probabilities else SquaredError(optimizer)


def _imle(optimizer, lambd, noise, tau, n_samples, solution_size, generator):
    return ImleRegret(optimizer, lambd=lambd, noise=noise, tau=tau, n_samples=n_samples,
                      k=solution_size, generator=generator)


def _aimle(optimizer, solution_size=None, **params):
    return AdaptiveImleRegret(optimizer, k=solution_size, **params)


def _dpo_mul(optimizer, **params):
    return PerturbedRegret(optimizer, multiplicative=True, **params)


def _fy_mul(optimizer, **params):
    return PerturbedFenchelYoung(optimizer, multiplicative=True, **params)


_NOT_BUILT_HERE = None   # taskmet trains through its own skorch net

METHOD_TABLE = (
    Method("two-stage", _two_stage, ("probabilities",), "any optimizer",
           "fit theta by mean squared error (log-loss for probabilities); the baseline"),
    Method("spo+", SPOPlus, (), "a linear objective",
           "convex upper bound of regret (Elmachtoub & Grigas); fast, robust default"),
    Method("dbb", BlackboxRegret, ("lambd",), "a linear objective",
           "regret with blackbox-differentiation gradients (Pogancic et al.)"),
    Method("imle", _imle, ("lambd", "noise", "tau", "n_samples", "solution_size",
                           "generator"), "a linear objective",
           "perturb-and-MAP with implicit maximum-likelihood gradients (Niepert et al.)"),
    Method("fy", PerturbedFenchelYoung, ("sigma", "n_samples", "generator"),
           "a linear objective", "perturbed Fenchel-Young loss, Gaussian noise (Berthet et al.)"),
    Method("nce", NoiseContrastiveEstimation, ("pool",), "a linear objective",
           "contrast the true decision with every pooled decision (Mulamba et al.)"),
    Method("cmap", ContrastiveMAP, ("pool",), "a linear objective",
           "contrast the true decision with the best pooled decision (Mulamba et al.)"),
    Method("ltr-point", PointwiseRankingLoss, ("pool",), "a linear objective",
           "regress the objective values of pooled decisions (Mandi et al.)"),
    Method("ltr-pair", PairwiseRankingLoss, ("pool",), "a linear objective",
           "rank the truly best pooled decision above each worse one (Mandi et al.)"),
    Method("ltr-list", ListwiseRankingLoss, ("tau", "pool"), "a linear objective",
           "match softmax distributions over pooled decisions, temperature tau (Mandi et al.)"),
    Method("nid", NegativeIdentityRegret, (), "a linear objective",
           "regret with the solver's backward taken as minus the identity (Sahoo et al.)"),
    Method("aimle", _aimle, ("lambd", "noise", "tau", "n_samples", "finite_difference",
                             "solution_size", "generator"), "a linear objective",
           "I-MLE whose step adapts to a target gradient density (Minervini et al.)"),
    Method("fy-mul", _fy_mul, ("sigma", "n_samples", "generator"), "a linear objective",
           "perturbed Fenchel-Young loss, multiplicative log-normal noise (Berthet et al.)"),
    Method("dpo", PerturbedRegret, ("sigma", "n_samples", "generator"), "a linear objective",
           "regret of the expected decision under Gaussian noise (Berthet et al.)"),
    Method("dpo-mul", _dpo_mul, ("sigma", "n_samples", "generator"), "a linear objective",
           "regret of the expected decision under multiplicative noise (Berthet et al.)"),
    Method("pg", PerturbationGradient, ("sigma", "finite_difference"), "a linear objective",
           "finite difference of the optimal value along the true costs (Huang & Gupta)"),
    Method("relaxation", RelaxationRegret, ("gamma",), "relax or an LP form",
           "regret of a smooth relaxation: QP for LPs, multilinear for coverage (Wilder et al.)"),
    Method("taskmet", _NOT_BUILT_HERE, (), "spo+ or relaxation",
           "learn a weighted prediction loss whose minimizer decides well (Bansal et al.)"),
)

REGISTRY = {method.name: method for method in METHOD_TABLE}
#: Every ``method=`` string, ``"auto"`` first.
METHODS = ("auto", *REGISTRY)


def resolve_method(method, optimizer, probabilities=False):
    """The concrete method name for ``method`` on ``optimizer`` (``probabilities``: a
    classifier's 0/1 labels, see ``auto_method``)."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)} or a DecisionLoss instance; "
                         f"got {method!r}.")
    if method == "auto":
        return auto_method(optimizer, probabilities)
    return method


def auto_method(optimizer, probabilities=False):
    """What ``method="auto"`` trains with on ``optimizer``.

    - A linear problem solved exactly at parameters of either sign:
      ``"spo+"`` (convex, one solve per instance at ``2 theta_hat - theta``);
      for a classifier (``probabilities``) ``"fy"``: on 0/1 labels through
      the sigmoid spo+ decided worst of the fast methods (normalized regret
      0.47 against fy's 0.35 on bipartite matchings, 4.6 linked pairs
      against 13.2 on Cora; ``benchmarks/defaults.py``).
    - A linear problem solved exactly only at non-negative parameters (a
      graph with a cycle, costs on cells): ``"fy-mul"``. Its log-normal
      noise multiplies the predictions, so it solves only at parameters of
      their sign, exactly, with the problem's own combinatorial solver
      (``n_samples`` batched solves a step). The relaxation, the other
      method that takes such a problem, solves a quadratic program over
      the problem's linear form, many times slower on anything but small
      graphs (about 46 s a batch of 32 on 12x12 cells, against well under
      a second for ``"fy-mul"``), and ``"spo+"`` would solve at negative
      parameters.
    - A non-linear problem with a relaxation: ``"relaxation"``.

    Raises ``ValueError`` for a non-linear problem without a relaxation.
    """
    if optimizer.is_linear:
        if not optimizer.any_sign:
            return "fy-mul"
        return "fy" if probabilities else "spo+"
    return task_loss_method(optimizer)


def task_loss_method(optimizer):
    """The decision loss behind ``method="taskmet"``: ``"spo+"`` or ``"relaxation"``."""
    if optimizer.is_linear and optimizer.any_sign:
        return "spo+"
    if has_relaxation(optimizer):
        return "relaxation"
    raise ValueError(f"method='auto' has no method for the non-linear optimizer "
                     f"{type(optimizer).__name__}, which has no continuous relaxation; "
                     "use method='two-stage'.")


def make_loss(method, optimizer, **params):
    """Build the training loss of a resolved method.

    Parameters
    ----------
    method : str
        A resolved method name (not ``"auto"``, not ``"taskmet"``).
    optimizer : Optimizer
        The decision problem.
    **params
        Values of the estimator parameters; each method takes those its row
        of the table ``reads`` (missing ones keep the loss's default).

    Returns
    -------
    loss : DecisionLoss
    """
    entry = REGISTRY.get(method) if isinstance(method, str) else None
    if entry is None or entry.build is None:
        raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}.")
    return entry.build(optimizer, **{name: params[name] for name in entry.reads
                                     if name in params})


def method_table_rst():
    """The user guide's method table (reStructuredText), from the registry."""
    rows = [("``method``", "needs", "in a sentence")]
    rows += [(f'``"{m.name}"``', m.needs, m.summary) for m in METHOD_TABLE]
    # "-" alone in a cell would be read as an empty bullet list.
    rows.append(('``"auto"``', "one of the above",
                 '``"spo+"`` (linear, any sign), ``"fy-mul"`` (linear, costs >= 0), '
                 'else ``"relaxation"``'))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(c.ljust(w) for c, w in zip(rows[0], widths)).rstrip(), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows[1:]]
    lines.append(rule)
    return "\n".join(lines) + "\n"
