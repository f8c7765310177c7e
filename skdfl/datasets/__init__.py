"""Datasets: synthetic generators and real data."""

from ._energy import load_energy_knapsack
from ._knapsack import make_knapsack
from ._shortest_path import make_shortest_path

__all__ = ["load_energy_knapsack", "make_knapsack", "make_shortest_path"]
