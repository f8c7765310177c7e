"""Real electricity prices and ICON scheduling instances: the energy-cost-aware scheduling data."""

import functools
import numbers
import zipfile
from importlib import resources

import numpy as np
from sklearn.utils import Bunch

from .._validation import check_scalar
from ..optimizers import MixedIntegerProgram
from ._scheduling_instance import parse_instance

N_SLOTS = 48
N_LOADS = 8
N_DAYS_PER_LOAD = 14
ARCHIVE = "energy_scheduling.zip"
PRICES = "data/prices2013.dat"
# The numeric columns of prices2013.dat, after the quoted DateTime and Holiday name.
NUMERIC_COLUMNS = (
    "HolidayFlag", "DayOfWeek", "WeekOfYear", "Day", "Month", "Year", "PeriodOfDay",
    "ForecastWindProduction", "SystemLoadEA", "SMPEA", "ORKTemperature", "ORKWindspeed",
    "CO2Intensity", "ActualWindProduction", "SystemLoadEP2", "SMPEP2")
TARGET = "SMPEP2"
FEATURE_COLUMNS = NUMERIC_COLUMNS[:-1]
# The 8 features of the benchmark's released data (Mandi et al.'s Data.npz).
BENCHMARK_COLUMNS = ("HolidayFlag", "DayOfWeek", "WeekOfYear", "Month",
                     "ForecastWindProduction", "SystemLoadEA", "SMPEA", "CO2Intensity")


def load_energy_scheduling(load=1, day=1, *, columns=None, return_X_y=False, n_jobs=None,
                           time_limit=None, mip_rel_gap=None):
    """Load the energy-cost-aware scheduling data: daily prices and one ICON instance.

    One row is one day: the features of its 48 half-hour slots (flattened
    slot-major, ready for ``per_item=True``) and the 48 actual prices
    ``SMPEP2`` to predict (Irish wholesale market, November 2011 to December
    2013). Every day is scheduled with the same instance ``load<load>/
    day<day>.txt`` of the ICON challenge: start every task once on a machine,
    within its time window and the machines' capacities, minimizing the energy
    cost ``sum_t price_t * energy_t``. The decision, which regret sees, is
    the 48-slot energy profile. Read more in ``DESCR``.

    Parameters
    ----------
    load : int, default=1
        Instance family, 1 to 8 (load 1: 10 tasks on 3 machines; load 8: 50
        tasks on 10 machines).
    day : int, default=1
        Instance of the family, 1 to 14.
    columns : sequence of str, optional
        Price-file columns used as per-slot features; default the 8 of the
        benchmark: HolidayFlag, DayOfWeek, WeekOfYear, Month,
        ForecastWindProduction, SystemLoadEA, SMPEA (the day-ahead price
        forecast) and CO2Intensity. Any of the numeric columns but the target
        ``SMPEP2`` may be given (``Day``, ``Year``, ``PeriodOfDay``,
        ``ORKTemperature``, ``ORKWindspeed``, ``ActualWindProduction``,
        ``SystemLoadEP2`` besides). Like ``CO2Intensity``, the weather
        columns and the last two are measurements of the day, not forecasts.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    n_jobs, time_limit, mip_rel_gap : optional
        Passed to the optimizer, :class:`~skdfl.optimizers.MixedIntegerProgram`
        (parallel solves, seconds per solve, HiGHS's relative gap).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (n_days, 48 * n_columns) features, slot 0's columns first;
        ``target`` (n_days, 48) prices; ``dates`` (n_days,) ``datetime64[D]``;
        ``feature_names``; ``columns`` the chosen columns; ``dropped_dates``
        the days left out for a missing value (see Notes); ``instance`` the
        parsed instance (tasks and machines; ``instance.milp()`` gives its
        matrices); ``optimizer`` its
        ``MixedIntegerProgram`` (``sense="minimize"``, ``n_params`` 48);
        ``DESCR`` the description with the licence attribution.
    (data, target) : tuple if ``return_X_y`` is True

    Notes
    -----
    The price file has 792 days. A day with a missing value in the target or
    in a chosen column is dropped: with the default columns 5 days (the two
    spring daylight-saving days lack two prices, three more days lack a
    feature entry), leaving 787; with every feature column 159 days, as the
    weather columns ORKTemperature and ORKWindspeed miss a few hundred entries.
    The formulation follows Mandi et al. (2020): machine idle, start-up and
    shut-down costs are left out; a slot's energy is the power of its running
    tasks times half an hour.

    Examples
    --------
    >>> from skdfl.datasets import load_energy_scheduling
    >>> energy = load_energy_scheduling(load=1, day=1)
    >>> energy.data.shape, energy.target.shape
    ((787, 384), (787, 48))
    >>> energy.instance.n_tasks, energy.instance.n_machines
    (10, 3)
    >>> str(energy.dates[0]), str(energy.dropped_dates[0])
    ('2011-11-01', '2012-03-25')
    >>> energy.optimizer.n_params
    48
    >>> schedule = energy.optimizer.solve(energy.target[:2])   # the 48-slot energy profiles
    >>> schedule.shape
    (2, 48)
    """
    check_scalar(load, "load", kind=numbers.Integral, low=1, high=N_LOADS)
    check_scalar(day, "day", kind=numbers.Integral, low=1, high=N_DAYS_PER_LOAD)
    columns = _check_columns(columns)
    values = _read_prices()
    days = values.reshape(-1, N_SLOTS, len(NUMERIC_COLUMNS))
    picked = days[:, :, [NUMERIC_COLUMNS.index(name) for name in columns]]
    target = days[:, :, NUMERIC_COLUMNS.index(TARGET)]
    complete = ~(np.isnan(picked).any(axis=(1, 2)) | np.isnan(target).any(axis=1))
    data = picked[complete].reshape(int(complete.sum()), -1)
    target = target[complete]
    if return_X_y:
        return data, target
    all_dates = _day_dates(days)
    instance = _read_instance(int(load), int(day))
    names = np.array([f"slot{s}_{name}" for s in range(N_SLOTS) for name in columns],
                     dtype=object)
    folder = resources.files("skdfl.datasets") / "data"
    return Bunch(data=data, target=target, dates=all_dates[complete],
                 dropped_dates=all_dates[~complete], feature_names=names,
                 columns=list(columns), instance=instance,
                 optimizer=_scheduling_optimizer(instance, n_jobs, time_limit, mip_rel_gap),
                 DESCR=(folder / "energy_scheduling.rst").read_text())


def _scheduling_optimizer(instance, n_jobs, time_limit, mip_rel_gap):
    milp = instance.milp()
    return MixedIntegerProgram(A_eq=milp["A_eq"], b_eq=milp["b_eq"], A_ub=milp["A_ub"],
                               b_ub=milp["b_ub"], bounds=(0, 1), integrality=1,
                               sense="minimize", decision_map=milp["decision_map"],
                               n_jobs=n_jobs, time_limit=time_limit,
                               mip_rel_gap=mip_rel_gap)


def _check_columns(columns):
    if columns is None:
        return BENCHMARK_COLUMNS
    if isinstance(columns, str):
        columns = (columns,)
    columns = tuple(columns)
    unknown = [name for name in columns if name not in FEATURE_COLUMNS]
    if unknown or not columns or len(set(columns)) != len(columns):
        what = (f"unknown {unknown[0]!r}" if unknown else
                "no column" if not columns else "a repeated name")
        raise ValueError(f"columns must be distinct names among {', '.join(FEATURE_COLUMNS)} "
                         f"(the target {TARGET} excluded); got {what}.")
    return columns


def _archive():
    return resources.files("skdfl.datasets") / "data" / ARCHIVE


@functools.lru_cache(maxsize=1)
def _read_prices():
    """The numeric columns of the price file, (n_days * 48, 16), read-only."""
    with resources.as_file(_archive()) as path, zipfile.ZipFile(path) as archive:
        lines = archive.read(PRICES).decode("ascii").splitlines()[1:]
    # A line is '"ddd d/m/yyyy hh:mm" "holiday name" numbers...': split at the quotes.
    parts = [line.split('"') for line in lines]
    values = np.array(" ".join(part[4] for part in parts).split(), dtype=float)
    values = values.reshape(len(lines), len(NUMERIC_COLUMNS))
    slots = values[:, NUMERIC_COLUMNS.index("PeriodOfDay")]
    if len(lines) % N_SLOTS or np.any(slots != np.arange(len(lines)) % N_SLOTS):
        raise RuntimeError(f"{PRICES} in {ARCHIVE} does not hold 48 slots per day.")
    values.setflags(write=False)
    return values


def _day_dates(days):
    year, month, day = (days[:, 0, NUMERIC_COLUMNS.index(name)].astype(np.int64)
                        for name in ("Year", "Month", "Day"))
    return np.array([f"{y:04d}-{m:02d}-{d:02d}" for y, m, d in zip(year, month, day)],
                    dtype="datetime64[D]")


def _read_instance(load, day):
    name = f"load{load}/day{day:02d}.txt"
    with resources.as_file(_archive()) as path, zipfile.ZipFile(path) as archive:
        text = archive.read(name).decode("ascii")
    return parse_instance(text, source=name)
