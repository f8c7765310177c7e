import itertools
import zipfile
from importlib import resources

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from skdfl.datasets import load_energy_knapsack, load_energy_scheduling
from skdfl.datasets._scheduling import FEATURE_COLUMNS
from skdfl.datasets._scheduling_instance import SchedulingInstance, parse_instance

DATA = resources.files("skdfl.datasets") / "data"


def _instance_text(minutes, capacity, tasks):
    """An instance file: capacity (n_machines, n_resources); tasks (d, es, le, power, use)."""
    lines = [str(minutes), str(len(capacity[0])), str(len(capacity))]
    for m, caps in enumerate(capacity):
        lines += [f"{m} 10 0.1 0.1", " ".join(map(str, caps))]
    lines.append(str(len(tasks)))
    for j, (duration, start, end, power, use) in enumerate(tasks):
        lines += [f"{j} {duration} {start} {end} {power}", " ".join(map(str, use))]
    return "\n".join(lines) + "\n"


def _random_instance(seed):
    """2-3 tasks on 1-2 machines, 6 slots of 4 hours, 1-2 resources."""
    rng = np.random.default_rng(seed)
    n_machines, n_resources, n_tasks = rng.integers(1, 3), rng.integers(1, 3), rng.integers(2, 4)
    capacity = rng.integers(2, 6, size=(n_machines, n_resources))
    tasks = []
    for _ in range(n_tasks):
        duration = int(rng.integers(1, 4))
        start = int(rng.integers(0, 6 - duration + 1))
        end = int(rng.integers(start + duration, 7))
        tasks.append((duration, start, end, round(float(rng.uniform(1, 50)), 2),
                      rng.integers(1, 4, size=n_resources)))
    return parse_instance(_instance_text(240, capacity, tasks))


def _brute_force(instance, prices):
    """Least energy cost over every machine and start of every task, or None if infeasible."""
    options = [[(m, s) for m in range(instance.n_machines)
                for s in range(instance.earliest_start[j],
                               instance.latest_end[j] - instance.duration[j] + 1)]
               for j in range(instance.n_tasks)]
    hours = instance.minutes_per_slot / 60
    best = None
    for choice in itertools.product(*options):
        use = np.zeros((instance.n_machines, instance.n_resources, instance.n_slots))
        energy = np.zeros(instance.n_slots)
        for j, (m, s) in enumerate(choice):
            run = slice(s, s + instance.duration[j])
            use[m, :, run] += instance.usage[j][:, None]
            energy[run] += instance.power[j] * hours
        if np.all(use <= instance.capacity[:, :, None]):
            cost = float(prices @ energy)
            best = cost if best is None else min(best, cost)
    return best


def _scipy_milp(problem, prices):
    cost = problem["decision_map"].T @ prices
    return milp(cost, integrality=np.ones(len(cost)), bounds=Bounds(0, 1),
                constraints=[LinearConstraint(problem["A_eq"], problem["b_eq"], problem["b_eq"]),
                             LinearConstraint(problem["A_ub"], -np.inf, problem["b_ub"])])


@pytest.mark.parametrize("seed", range(12))
def test_milp_equals_brute_force_on_tiny_instances(seed):
    instance = _random_instance(seed)
    prices = np.random.default_rng(100 + seed).uniform(-10, 60, size=instance.n_slots)
    problem = instance.milp()
    result = _scipy_milp(problem, prices)
    expected = _brute_force(instance, prices)
    if expected is None:
        assert result.status == 2  # infeasible
        return
    assert result.status == 0
    np.testing.assert_allclose(result.fun, expected, rtol=1e-9, atol=1e-9)
    # The decision map gives the solution's energy profile, slot by slot.
    x = np.round(result.x)
    profile = np.zeros(instance.n_slots)
    for v in np.flatnonzero(x):
        j, s = problem["task"][v], problem["start"][v]
        profile[s:s + instance.duration[j]] += instance.power[j] * instance.minutes_per_slot / 60
    np.testing.assert_allclose(problem["decision_map"] @ x, profile)


def test_tiny_instances_cover_both_outcomes():
    outcomes = {_brute_force(_random_instance(seed), np.ones(6)) is None for seed in range(12)}
    assert outcomes == {True, False}


def test_capacity_binds_on_a_hand_made_instance():
    # One machine, capacity 2; three 1-slot tasks using 1 each, all allowed in slots 0-1,
    # one slot of 12 hours cheap: at most two tasks fit there.
    text = _instance_text(720, [[2]], [(1, 0, 2, 1.0, [1])] * 3)
    instance = parse_instance(text)
    result = _scipy_milp(instance.milp(), np.array([1.0, 5.0]))
    assert result.fun == pytest.approx(12 * (1 + 1 + 5))


def _loop_formulation(instance, prices):
    """Mandi et al.'s model as written there: x[f, m, t] for all t, out-of-window starts zero."""
    F, M, T, R = instance.n_tasks, instance.n_machines, instance.n_slots, instance.n_resources
    index = {key: i for i, key in enumerate(itertools.product(range(F), range(M), range(T)))}
    cost, upper = np.zeros(len(index)), np.zeros(len(index))
    A_eq = np.zeros((F, len(index)))
    A_ub = np.zeros((M * R * T, len(index)))
    b_ub = np.zeros(M * R * T)
    for (f, m, t), i in index.items():
        D = instance.duration[f]
        if instance.earliest_start[f] <= t <= instance.latest_end[f] - D:
            upper[i] = 1
            cost[i] = instance.power[f] * prices[t:t + D].sum() * instance.minutes_per_slot / 60
        A_eq[f, i] = 1
    for k, (m, r, t) in enumerate(itertools.product(range(M), range(R), range(T))):
        b_ub[k] = instance.capacity[m, r]
        for f in range(F):
            for t1 in range(max(0, t - instance.duration[f] + 1), t + 1):
                A_ub[k, index[f, m, t1]] += instance.usage[f, r]
    return milp(cost, integrality=np.ones(len(cost)), bounds=Bounds(0, upper),
                constraints=[LinearConstraint(A_eq, 1, 1), LinearConstraint(A_ub, -np.inf, b_ub)])


def test_milp_equals_the_loop_formulation_on_load1_day01():
    energy = load_energy_scheduling(load=1, day=1)
    problem = energy.instance.milp()
    for prices in energy.target[[0, 400]]:
        ours, theirs = _scipy_milp(problem, prices), _loop_formulation(energy.instance, prices)
        assert ours.status == 0 and theirs.status == 0
        np.testing.assert_allclose(ours.fun, theirs.fun, rtol=1e-9)


def test_every_shipped_instance_parses_with_feasible_windows():
    with resources.as_file(DATA / "energy_scheduling.zip") as path, \
            zipfile.ZipFile(path) as archive:
        names = [name for name in archive.namelist() if name.startswith("load")
                 and name.endswith(".txt")]
        assert len(names) == 8 * 14
        for name in names:
            instance = parse_instance(archive.read(name).decode(), source=name)
            assert instance.minutes_per_slot == 30 and instance.n_slots == 48
            assert np.all(instance.earliest_start + instance.duration <= instance.latest_end)
            # Every task fits on some machine on its own.
            fits = (instance.usage[:, None, :] <= instance.capacity[None]).all(-1).any(-1)
            assert fits.all(), name


def test_load1_day01_is_parsed_as_written():
    instance = load_energy_scheduling(load=1, day=1).instance
    assert isinstance(instance, SchedulingInstance)
    assert (instance.n_tasks, instance.n_machines, instance.n_resources) == (10, 3, 1)
    np.testing.assert_array_equal(instance.capacity[:, 0], [5481, 5583, 5547])
    np.testing.assert_array_equal(instance.idle_cost, [190, 170, 130])
    assert (instance.duration[0], instance.earliest_start[0], instance.latest_end[0]) == (10, 1, 25)
    assert instance.power[0] == 471.40 and instance.usage[0, 0] == 2610
    assert instance.latest_end[5] == 48


@pytest.mark.parametrize("text, match", [
    ("30\n1\n1\n0 1 0 0\n10\n1\n0 2 0 5 1.0\n", "ends before the resource use of task 0"),
    ("30\n1\n1\n0 1 0 0\n10\n1\n0 2 0 5\n1\n", r"line 7 \(task 0\): expected 5"),
    ("30\n1\n1\n0 1 0 0\nten\n", "capacities of machine 0.*expected integers"),
    ("30\n1\n1\n0 1 0 0\n10\n1\n0 2.5 0 5 1.0\n1\n", "duration of task 0 must be an integer"),
    ("30\n1\n1\n0 1 0 0\n10\n1\n0 6 0 5 1.0\n1\n", "task 0: earliest_start \\+ duration"),
    ("30\n1\n1\n0 1 0 0\n10\n1\n0 2 0 49 1.0\n1\n", "latest_end must be <= the 48 slots"),
    ("30\n1\n1\n0 1 0 0\n10\n1\n0 2 0 5 -1.0\n1\n", "power must be >= 0"),
    ("30\n1\n1\n0 1 0 0\n-3\n1\n0 2 0 5 1.0\n1\n", "expected values >= 0"),
    ("7\n1\n1\n0 1 0 0\n10\n1\n0 2 0 5 1.0\n1\n", "minutes per slot must divide 1440"),
    ("30\n1\n1\n0 1 0 0\n10\n1\n0 2 0 5 1.0\n1\n9\n", "unexpected content"),
])
def test_parse_instance_errors_name_the_line(text, match):
    with pytest.raises(ValueError, match=match):
        parse_instance(text)


def test_load_energy_scheduling_shapes_and_values():
    energy = load_energy_scheduling()
    assert energy.data.shape == (787, 48 * 8) and energy.target.shape == (787, 48)
    assert np.isfinite(energy.data).all() and np.isfinite(energy.target).all()
    assert energy.dates.dtype == np.dtype("datetime64[D]") and len(energy.dates) == 787
    assert np.all(np.diff(energy.dates).astype(int) >= 1)
    assert len(energy.dates) + len(energy.dropped_dates) == 792
    assert [str(d) for d in energy.dropped_dates] == [
        "2012-03-25", "2012-04-25", "2012-10-27", "2013-03-13", "2013-03-31"]
    assert energy.feature_names[9] == "slot1_DayOfWeek" and len(energy.feature_names) == 384
    # First line of the file: "tue 1/11/2011 00:00", target SMPEP2 54.32.
    np.testing.assert_allclose(energy.data[0, :8],
                               [0, 1, 44, 11, 315.31, 3388.77, 49.26, 600.71])
    assert energy.target[0, 0] == 54.32 and str(energy.dates[0]) == "2011-11-01"
    assert "MIT" in energy.DESCR and "JayMan91" in energy.DESCR and "Mandi" in energy.DESCR
    X, y = load_energy_scheduling(return_X_y=True)
    np.testing.assert_array_equal(X, energy.data)
    np.testing.assert_array_equal(y, energy.target)


def test_features_agree_with_the_energy_knapsack_release():
    # The knapsack benchmark's Data.npz holds the same 8 columns; its first 145 days
    # (up to the first daylight-saving day) match the price file's row for row.
    ours = load_energy_scheduling().data[:145]
    knapsack = load_energy_knapsack().data[:145]
    np.testing.assert_allclose(ours, knapsack)


def test_columns_choose_the_features():
    energy = load_energy_scheduling(columns=["SMPEA", "PeriodOfDay"])
    # Only the two daylight-saving days lack a price or an SMPEA value.
    assert energy.data.shape == (790, 96) and energy.columns == ["SMPEA", "PeriodOfDay"]
    np.testing.assert_array_equal(energy.data[0, 1::2], np.arange(48))
    every = load_energy_scheduling(columns=FEATURE_COLUMNS)
    assert every.data.shape == (633, 48 * 15) and len(every.dropped_dates) == 159
    assert np.isfinite(every.data).all()
    assert load_energy_scheduling(columns="SMPEA").data.shape == (790, 48)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(load=0), ValueError, "load must be >= 1"),
    (dict(load=9), ValueError, "load must be <= 8"),
    (dict(day=15), ValueError, "day must be <= 14"),
    (dict(day=1.0), TypeError, "day must be"),
    (dict(load=True), TypeError, "load must be"),
    (dict(columns=["SMPEP2"]), ValueError, "unknown 'SMPEP2'"),
    (dict(columns=["Holiday"]), ValueError, "unknown 'Holiday'"),
    (dict(columns=[]), ValueError, "no column"),
    (dict(columns=["SMPEA", "SMPEA"]), ValueError, "repeated"),
])
def test_load_energy_scheduling_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_energy_scheduling(**kwargs)


def test_licence_and_description_ship_with_the_data():
    licence = (DATA / "energy_scheduling.LICENSE").read_text()
    assert "MIT License" in licence and "JayMan91" in licence
    assert (DATA / "energy_scheduling.zip").is_file()
    assert "energy_scheduling.LICENSE" in (DATA / "energy_scheduling.rst").read_text()


def test_numpy_integers_pick_the_instance():
    energy = load_energy_scheduling(load=np.int64(2), day=np.int64(3))
    assert (energy.instance.n_tasks, energy.instance.n_machines) == (15, 3)


@pytest.mark.parametrize("load, days", [(1, [0, 300, 700]), (2, [5, 500])])
def test_optimizer_solves_real_days_like_scipy(load, days):
    energy = load_energy_scheduling(load=load, day=1, mip_rel_gap=0.0)
    optimizer, instance = energy.optimizer, energy.instance
    assert optimizer.sense == "minimize" and optimizer.n_params == 48
    prices = energy.target[days]
    schedule = optimizer.solve(prices)
    assert schedule.shape == (len(days), 48) and np.all(schedule >= 0)
    # Every task runs exactly its duration, half an hour a slot.
    np.testing.assert_allclose(schedule.sum(1), (instance.power * instance.duration).sum() / 2)
    problem = instance.milp()
    for row, day_prices in enumerate(prices):
        expected = milp(problem["decision_map"].T @ day_prices,
                        integrality=np.ones(problem["A_eq"].shape[1]), bounds=Bounds(0, 1),
                        constraints=[LinearConstraint(problem["A_eq"], 1, 1),
                                     LinearConstraint(problem["A_ub"], -np.inf, problem["b_ub"])],
                        options={"mip_rel_gap": 0.0})
        assert expected.status == 0
        np.testing.assert_allclose(optimizer.objective(schedule[row:row + 1],
                                                       day_prices[None]), [expected.fun],
                                   rtol=1e-7)
