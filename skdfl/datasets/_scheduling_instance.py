"""Energy-cost-aware scheduling instances (ICON challenge 2014): parser and MILP formulation."""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class SchedulingInstance:
    """One energy-cost-aware scheduling instance of the ICON challenge.

    Every task runs once, without interruption, on one machine: ``duration``
    consecutive slots starting at a slot ``s`` with ``earliest_start <= s``
    and ``s + duration <= latest_end`` (``latest_end`` is the slot the task
    must be finished by, so it may equal ``n_slots``). While it runs, a task
    uses ``usage[task, r]`` of every resource ``r`` of its machine and draws
    ``power`` (the machine's capacities bound the tasks running together).

    Attributes
    ----------
    minutes_per_slot : int
        Length of a slot; a day has ``n_slots = 1440 // minutes_per_slot``.
    capacity : ndarray of shape (n_machines, n_resources), int
        Capacity of every machine for every resource.
    idle_cost, up_cost, down_cost : ndarray of shape (n_machines,)
        The machines' idle, start-up and shut-down costs, as read. The
        benchmark formulation (:meth:`milp`) ignores them, like Mandi et al.
    duration, earliest_start, latest_end : ndarray of shape (n_tasks,), int
        Slots a task runs, first slot it may start, slot it must end by.
    power : ndarray of shape (n_tasks,)
        Power drawn by a task while it runs.
    usage : ndarray of shape (n_tasks, n_resources), int
        Resource use of a task on its machine while it runs.
    """

    minutes_per_slot: int
    capacity: np.ndarray
    idle_cost: np.ndarray
    up_cost: np.ndarray
    down_cost: np.ndarray
    duration: np.ndarray
    earliest_start: np.ndarray
    latest_end: np.ndarray
    power: np.ndarray
    usage: np.ndarray

    @property
    def n_slots(self):
        """Number of slots of the day."""
        return 1440 // self.minutes_per_slot

    @property
    def n_tasks(self):
        """Number of tasks."""
        return len(self.duration)

    @property
    def n_machines(self):
        """Number of machines."""
        return self.capacity.shape[0]

    @property
    def n_resources(self):
        """Number of resources per machine."""
        return self.capacity.shape[1]

    def milp(self):
        """The scheduling MILP over binary task-machine-start variables.

        One binary variable ``x[task, machine, start]`` per feasible start
        (ordered task, then machine, then start); each task starts exactly
        once; for every machine, resource and slot, the use of the tasks
        running there is within the machine's capacity. The energy cost
        ``sum_t price_t * energy_t`` is linear in the prices through the
        decision map, the energy ``power * minutes_per_slot / 60`` every
        running task draws in each slot (Mandi et al.'s objective).

        Returns
        -------
        milp : dict
            ``A_eq`` (n_tasks, n_vars) and ``b_eq`` (n_tasks,); ``A_ub``
            (n_machines * n_resources * n_slots, n_vars) and ``b_ub``, row
            ``(machine * n_resources + resource) * n_slots + slot``;
            ``decision_map`` (n_slots, n_vars), the energy each variable puts
            into each slot (sparse CSR matrices); ``task``, ``machine`` and
            ``start`` (n_vars,) naming every variable.

        Examples
        --------
        >>> from skdfl.datasets._scheduling_instance import parse_instance
        >>> text = "720\\n1\\n1\\n0 0 0 0\\n1\\n2\\n0 1 0 2 10.0\\n1\\n1 1 1 2 4.0\\n1\\n"
        >>> milp = parse_instance(text).milp()   # 2 slots of 12 h, 2 one-slot tasks
        >>> milp["A_ub"].toarray()               # capacity 1: never both in one slot
        array([[1., 0., 0.],
               [0., 1., 1.]])
        >>> milp["decision_map"].toarray()       # energy = power * 12 h
        array([[120.,   0.,   0.],
               [  0., 120.,  48.]])
        """
        n_starts = self.latest_end - self.duration - self.earliest_start + 1
        per_task = n_starts * self.n_machines
        task = np.repeat(np.arange(self.n_tasks), per_task)
        first_var = np.cumsum(per_task) - per_task
        within = np.arange(len(task)) - first_var[task]
        machine = within // n_starts[task]
        start = self.earliest_start[task] + within % n_starts[task]
        n_vars = len(task)

        # One entry per (variable, slot it runs in).
        runs = self.duration[task]
        var = np.repeat(np.arange(n_vars), runs)
        slot = start[var] + np.arange(len(var)) - np.repeat(np.cumsum(runs) - runs, runs)
        energy = self.power * (self.minutes_per_slot / 60.0)
        decision_map = sp.csr_matrix((energy[task[var]], (slot, var)),
                                     shape=(self.n_slots, n_vars))

        # One entry per (variable, slot, resource) in the row of its machine.
        n_res = self.n_resources
        resource = np.tile(np.arange(n_res), len(var))
        var_r, slot_r = np.repeat(var, n_res), np.repeat(slot, n_res)
        rows = (machine[var_r] * n_res + resource) * self.n_slots + slot_r
        A_ub = sp.csr_matrix((self.usage[task[var_r], resource].astype(float), (rows, var_r)),
                             shape=(self.n_machines * n_res * self.n_slots, n_vars))
        b_ub = np.repeat(self.capacity.astype(float).ravel(), self.n_slots)
        A_eq = sp.csr_matrix((np.ones(n_vars), (task, np.arange(n_vars))),
                             shape=(self.n_tasks, n_vars))
        return dict(A_eq=A_eq, b_eq=np.ones(self.n_tasks), A_ub=A_ub, b_ub=b_ub,
                    decision_map=decision_map, task=task, machine=machine, start=start)


def parse_instance(text, source="instance"):
    """Parse an ICON scheduling instance from the text of its file.

    The format, one number or group per non-empty line: minutes per slot;
    number of resources; number of machines; per machine ``id idle_cost
    up_cost down_cost`` then its capacity per resource; number of tasks; per
    task ``id duration earliest_start latest_end power`` then its use per
    resource.

    Parameters
    ----------
    text : str
        The file's contents.
    source : str, default="instance"
        Name used in error messages (e.g. ``"load1/day01.txt"``).

    Returns
    -------
    instance : SchedulingInstance

    Examples
    --------
    >>> from skdfl.datasets._scheduling_instance import parse_instance
    >>> text = "720\\n1\\n1\\n0 0 0 0\\n1\\n2\\n0 1 0 2 10.0\\n1\\n1 1 1 2 4.0\\n1\\n"
    >>> instance = parse_instance(text)
    >>> instance.n_slots, instance.n_tasks, instance.n_machines, instance.n_resources
    (2, 2, 1, 1)
    >>> instance.earliest_start, instance.latest_end
    (array([0, 1]), array([2, 2]))
    """
    lines = [line.split() for line in text.splitlines() if line.strip()]
    reader = _Lines(lines, source)
    minutes = reader.ints(1, "minutes per slot")[0]
    if minutes < 1 or 1440 % minutes:
        raise ValueError(f"{source}: minutes per slot must divide 1440; got {minutes}.")
    n_resources = reader.ints(1, "number of resources")[0]
    n_machines = reader.ints(1, "number of machines")[0]
    machines, capacity = [], []
    for m in range(n_machines):
        machines.append(reader.floats(4, f"machine {m}")[1:])
        capacity.append(reader.ints(n_resources, f"capacities of machine {m}"))
    n_tasks = reader.ints(1, "number of tasks")[0]
    tasks, usage = [], []
    for j in range(n_tasks):
        tasks.append(reader.floats(5, f"task {j}")[1:])
        usage.append(reader.ints(n_resources, f"resource use of task {j}"))
    reader.check_done()
    tasks = np.array(tasks, dtype=float).reshape(n_tasks, 4)
    machines = np.array(machines, dtype=float).reshape(n_machines, 3)
    instance = SchedulingInstance(
        minutes_per_slot=minutes,
        capacity=np.array(capacity, dtype=np.int64).reshape(n_machines, n_resources),
        idle_cost=machines[:, 0], up_cost=machines[:, 1], down_cost=machines[:, 2],
        duration=_integral(tasks[:, 0], "duration", source),
        earliest_start=_integral(tasks[:, 1], "earliest_start", source),
        latest_end=_integral(tasks[:, 2], "latest_end", source),
        power=tasks[:, 3],
        usage=np.array(usage, dtype=np.int64).reshape(n_tasks, n_resources))
    _check_instance(instance, source)
    return instance


class _Lines:
    """Read the lines of an instance file one at a time, naming what went wrong."""

    def __init__(self, lines, source):
        self.lines, self.source, self.at = lines, source, 0

    def _next(self, count, what):
        if self.at >= len(self.lines):
            raise ValueError(f"{self.source}: the file ends before the {what}.")
        tokens = self.lines[self.at]
        self.at += 1
        if len(tokens) != count:
            raise ValueError(f"{self.source}, line {self.at} ({what}): expected {count} "
                             f"number(s), got {len(tokens)}: {' '.join(tokens)[:60]!r}.")
        return tokens

    def ints(self, count, what):
        tokens = self._next(count, what)
        try:
            values = [int(token) for token in tokens]
        except ValueError:
            raise ValueError(f"{self.source}, line {self.at} ({what}): expected integers, "
                             f"got {' '.join(tokens)[:60]!r}.") from None
        if min(values) < 0:
            raise ValueError(f"{self.source}, line {self.at} ({what}): expected values "
                             f">= 0, got {' '.join(tokens)[:60]!r}.")
        return values

    def floats(self, count, what):
        tokens = self._next(count, what)
        try:
            values = [float(token) for token in tokens]
        except ValueError:
            raise ValueError(f"{self.source}, line {self.at} ({what}): expected numbers, "
                             f"got {' '.join(tokens)[:60]!r}.") from None
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{self.source}, line {self.at} ({what}): expected finite "
                             f"numbers, got {' '.join(tokens)[:60]!r}.")
        return values

    def check_done(self):
        if self.at != len(self.lines):
            raise ValueError(f"{self.source}: unexpected content after the last task, "
                             f"line {self.at + 1}.")


def _integral(values, name, source):
    if not np.all(values == np.round(values)):
        first = int(np.flatnonzero(values != np.round(values))[0])
        raise ValueError(f"{source}: {name} of task {first} must be an integer; "
                         f"got {values[first]}.")
    return values.astype(np.int64)


def _check_instance(instance, source):
    """Every task needs a start inside the day; power and capacities are non-negative."""
    checks = [
        (instance.duration < 1, "duration must be >= 1"),
        (instance.earliest_start < 0, "earliest_start must be >= 0"),
        (instance.latest_end > instance.n_slots,
         f"latest_end must be <= the {instance.n_slots} slots of the day"),
        (instance.earliest_start + instance.duration > instance.latest_end,
         "earliest_start + duration must be <= latest_end (no feasible start)"),
        (instance.power < 0, "power must be >= 0"),
    ]
    for bad, message in checks:
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{source}: task {first}: {message}; got duration "
                             f"{instance.duration[first]}, earliest_start "
                             f"{instance.earliest_start[first]}, latest_end "
                             f"{instance.latest_end[first]}, power {instance.power[first]}.")
