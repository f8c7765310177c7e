"""Learning-to-rank losses over a solution pool (Mandi et al., ICML 2022).

Deciding well means ranking the feasible decisions as the true parameters
do; over a pool of decisions seen so far that ranking is learned with the
losses of learning to rank: pointwise (regress each objective value),
pairwise (rank the true best above each worse one) and listwise (match the
softmax distributions over the pool). Every gradient is closed form.
"""

import torch

from .._validation import check_scalar
from ._base import with_gradient
from ._contrastive import PoolLoss, _masked_fill, _row_weights, _signed


def pool_values(theta, decisions):
    """Objective values ``theta @ x'`` of every pool entry for every row, shape (B, P)."""
    return theta @ decisions.to(theta).T


def true_and_predicted_values(theta, theta_hat, decisions, scale=1.0):
    """``scale * pool_values`` of ``theta`` and of ``theta_hat``.

    (Two products: at these sizes they cost less than one of the rows
    concatenated and split again.)
    """
    pool_t = decisions.to(theta_hat).T
    values = (theta.to(theta_hat) @ pool_t, theta_hat @ pool_t)
    if scale != 1.0:
        for part in values:
            part.mul_(scale)
    return values


class PointwiseRankingLoss(PoolLoss):
    """Pointwise ranking loss: squared error of the pool's objective values.

    The loss of an instance is the mean over the pool entries ``x'`` that
    suit the row of ``(theta_hat @ x' - theta @ x')^2``: the predictions
    should give every pooled decision its true objective value, which ranks
    the pool as the truth does.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    pool : SolutionPool, optional
        The pool of decisions to rank; see :class:`PoolLoss`. When None the
        loss keeps its own, started from the true decisions it sees and
        grown with every solve.

    References
    ----------
    J. Mandi, V. Bucarey, M. Mulamba Ke Tchomba and T. Guns, "Decision-Focused
    Learning: Through the Lens of Learning to Rank", ICML 2022.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import PointwiseRankingLoss, SolutionPool
    >>> from skdfl.optimizers import KSubset
    >>> pool = SolutionPool(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    >>> loss = PointwiseRankingLoss(KSubset(k=1), pool=pool)
    >>> theta = torch.tensor([[3.0, 1.0]])
    >>> float(loss(torch.tensor([[1.0, 2.0]]), theta))   # ((1 - 3)^2 + (2 - 1)^2) / 2
    2.5
    >>> float(loss(theta, theta))
    0.0
    """

    method_name = "ltr-point"

    def pool_loss(self, theta_hat, theta, x_true, decisions, feasible):
        with torch.no_grad():
            errors = pool_values(theta_hat - theta.to(theta_hat), decisions)
            if feasible is None:
                weights = errors / errors.shape[1]
            else:
                weights = _row_weights(errors.masked_fill(~feasible, 0.0), feasible.sum(-1))
            values = torch.linalg.vecdot(errors, weights)
            grad = (weights @ decisions).mul_(2.0)
        return with_gradient(theta_hat, values, grad)


class PairwiseRankingLoss(PoolLoss):
    """Pairwise ranking loss: the truly best pooled decision above each worse one.

    Let ``x_b`` be the pool entry that suits the row with the best true
    objective (the true optimal decision, which joins the pool). For a
    minimization the loss of an instance is the mean, over the entries
    ``x'`` that suit the row and are strictly worse than ``x_b`` under
    ``theta``, of the hinge ``max(0, margin + theta_hat @ x_b - theta_hat @ x')``:
    zero when the predictions rank ``x_b`` above each of them by at least
    ``margin``. A maximization mirrors the differences; a row whose
    entries all tie with ``x_b`` has zero loss.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    pool : SolutionPool, optional
        The pool of decisions to rank; see :class:`PoolLoss`. When None the
        loss keeps its own, started from the true decisions it sees and
        grown with every solve.
    margin : float, default=0.0
        How far, in objective value under ``theta_hat``, the best decision
        must be ranked above the others (0, as in PyEPO, penalizes only
        pairs ranked the wrong way round).

    References
    ----------
    J. Mandi, V. Bucarey, M. Mulamba Ke Tchomba and T. Guns, "Decision-Focused
    Learning: Through the Lens of Learning to Rank", ICML 2022.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import PairwiseRankingLoss, SolutionPool
    >>> from skdfl.optimizers import KSubset
    >>> pool = SolutionPool(torch.eye(3))
    >>> loss = PairwiseRankingLoss(KSubset(k=1), pool=pool)
    >>> theta = torch.tensor([[3.0, 1.0, 0.0]])                # item 0 is best
    >>> float(loss(torch.tensor([[1.0, 2.0, 0.5]]), theta))   # (1 + 0) / 2
    0.5
    >>> float(loss(theta, theta))
    0.0
    """

    method_name = "ltr-pair"

    def __init__(self, optimizer, pool=None, margin=0.0):
        super().__init__(optimizer, pool)
        self.margin = float(check_scalar(margin, "margin", low=0.0))

    def pool_loss(self, theta_hat, theta, x_true, decisions, feasible):
        sign = self.optimizer.sign
        with torch.no_grad():
            # Sign-adjusted values: lower is better for either sense. (The
            # masks are kept in floats: comparisons into bool tensors cost
            # several times more than arithmetic at these sizes.)
            true_cost, predicted = true_and_predicted_values(theta, theta_hat, decisions, sign)
            true_cost = _masked_fill(true_cost, feasible, torch.inf)
            best_cost, best = true_cost.min(-1, keepdim=True)
            worse = true_cost.sub_(best_cost).sign_()        # 1 where strictly worse
            if feasible is not None:         # infeasible entries, at +inf, are not "worse"
                worse.masked_fill_(~feasible, 0.0)
            pairs = worse.div_(worse.sum(-1, keepdim=True).clamp_(min=1))   # mean over pairs
            hinge = torch.sub(predicted.gather(-1, best), predicted).add_(self.margin).relu_()
            values = torch.linalg.vecdot(hinge, pairs)
            # Each pair whose hinge is active pulls x_b's value down and x''s up:
            # the gradient is sign * (sum(active) x_b - active @ pool), one product
            # of the pool with -active plus sum(active) at x_b.
            active = hinge.sign_().mul_(pairs)
            weights = active.neg().scatter_add_(-1, best, active.sum(-1, keepdim=True))
            grad = _signed(weights @ decisions, sign)
        return with_gradient(theta_hat, values, grad)


class ListwiseRankingLoss(PoolLoss):
    """Listwise ranking loss: cross-entropy of softmax distributions over the pool.

    Over the pool entries ``x'`` that suit the row, the true parameters
    define ``p(x') = softmax(-theta @ x' / tau)`` and the predictions
    ``q(x') = softmax(-theta_hat @ x' / tau)`` (for a minimization; a
    maximization drops the minus signs), so that better decisions are more
    likely. The loss of an instance is the cross-entropy
    ``-sum_{x'} p(x') log q(x')``, smallest when the predictions rank and
    space the pool as the truth does.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    pool : SolutionPool, optional
        The pool of decisions to rank; see :class:`PoolLoss`. When None the
        loss keeps its own, started from the true decisions it sees and
        grown with every solve.
    tau : float, default=1.0
        Temperature of both softmax distributions: small values put the
        true distribution's mass on the best decisions.

    References
    ----------
    J. Mandi, V. Bucarey, M. Mulamba Ke Tchomba and T. Guns, "Decision-Focused
    Learning: Through the Lens of Learning to Rank", ICML 2022.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import ListwiseRankingLoss, SolutionPool
    >>> from skdfl.optimizers import KSubset
    >>> pool = SolutionPool(torch.eye(2))
    >>> loss = ListwiseRankingLoss(KSubset(k=1), pool=pool, tau=1.0)
    >>> theta = torch.tensor([[2.0, 0.0]])
    >>> theta_hat = torch.tensor([[0.0, 0.0]], requires_grad=True)
    >>> loss(theta_hat, theta).backward()    # q is uniform, p favours item 0
    >>> theta_hat.grad
    tensor([[-0.3808,  0.3808]])
    """

    method_name = "ltr-list"

    def __init__(self, optimizer, pool=None, tau=1.0):
        super().__init__(optimizer, pool)
        self.tau = float(check_scalar(tau, "tau", low=0.0, low_inclusive=False))

    def pool_loss(self, theta_hat, theta, x_true, decisions, feasible):
        scale = -self.optimizer.sign / self.tau
        with torch.no_grad():
            true_scores, scores = (
                _masked_fill(values, feasible, -torch.inf)
                for values in true_and_predicted_values(theta, theta_hat, decisions, scale))
            p = torch.softmax(true_scores, -1)
            log_q = torch.log_softmax(scores, -1)
            # The cross-entropy's gradient in the scores is q - p.
            grad = (log_q.exp().sub_(p) @ decisions).mul_(scale)
            # Entries outside the row's feasible set have p = 0 and log q = -inf.
            values = torch.linalg.vecdot(p, _masked_fill(log_q, feasible, 0.0)).neg_()
        return with_gradient(theta_hat, values, grad)
