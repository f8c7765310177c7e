"""How many torch intra-op threads fitting and deciding use (``n_threads``).

torch's default pool has one thread per core, and every operator above a few
thousand elements forks and joins it. For the small networks and batches of
decision-focused learning one training step is a few hundred microseconds of
arithmetic, so the fork and join dominate; and when other processes keep the
cores busy, a worker that is descheduled stalls every step until it runs
again (the README's quick start took 20 times longer with two busy
processes beside it). One thread does the same work without waiting on
anyone.

The rule of ``n_threads=None`` (auto): the work of one call is the number of
multiply-adds of a forward pass through the network plus the solver's
output, ``rows * (network parameters + decision variables)``, and each thread
gets at least ``WORK_PER_THREAD`` of it, within the number of threads torch
has (``torch.get_num_threads()``: the cores, or what the user set). A linear
model of 5 features and 40 costs trained in batches of 32 is about 10^4
multiply-adds per step: one thread. A small CNN of 10^5 parameters on
batches of 64 is 6 * 10^6: six threads where there are six cores.
"""

import numbers

import torch

from .._validation import check_scalar

#: Multiply-adds per step below which one more thread costs more than it brings
#: (the fork/join of a parallel region is tens of microseconds, 1e6
#: multiply-adds about a millisecond on one core).
WORK_PER_THREAD = 1_000_000


def check_n_threads(n_threads):
    """Check the ``n_threads`` parameter: None (auto) or a positive integer."""
    return check_scalar(n_threads, "n_threads", kind=numbers.Integral, low=1,
                        allow_none=True)


def count_parameters(module):
    """Number of scalar weights of a torch module (0 for anything else)."""
    if not isinstance(module, torch.nn.Module):
        return 0
    return sum(p.numel() for p in module.parameters())


def auto_threads(rows, n_weights, n_outputs=0, max_threads=None):
    """Threads worth using for ``rows`` instances through a network and a solver.

    Parameters
    ----------
    rows : int
        Instances per call (the batch size when training).
    n_weights : int
        Parameters of the network.
    n_outputs : int, default=0
        Decision variables per instance (the solver's share of the work).
    max_threads : int, optional
        Upper bound; default ``torch.get_num_threads()``.

    Returns
    -------
    n_threads : int
        Between 1 and ``max_threads``.

    Examples
    --------
    >>> from skdfl.estimators._threads import auto_threads
    >>> auto_threads(32, n_weights=5 * 40 + 40, n_outputs=40, max_threads=8)
    1
    >>> auto_threads(64, n_weights=100_000, max_threads=8)
    6
    """
    max_threads = torch.get_num_threads() if max_threads is None else max_threads
    work = int(rows) * (int(n_weights) + int(n_outputs))
    return max(1, min(int(max_threads), work // WORK_PER_THREAD))


def threads_for(n_threads, rows, module=None, n_outputs=0):
    """``n_threads`` itself, or the auto rule's choice when it is None."""
    if n_threads is not None:
        return int(n_threads)
    return auto_threads(rows, count_parameters(module), n_outputs)


class torch_threads:
    """Run a block with ``n`` torch intra-op threads, then restore the caller's count.

    The count is restored on the way out, also when the block raises.

    Parameters
    ----------
    n : int
        Threads inside the block.

    Examples
    --------
    >>> import torch
    >>> from skdfl.estimators._threads import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """

    def __init__(self, n):
        self.n = int(n)

    def __enter__(self):
        self.previous = torch.get_num_threads()
        if self.n != self.previous:
            torch.set_num_threads(self.n)
        return self.n

    def __exit__(self, *exc):
        if torch.get_num_threads() != self.previous:
            torch.set_num_threads(self.previous)
        return False
