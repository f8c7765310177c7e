"""Datasets: synthetic generators and real data."""

from ._cora import load_cora_matching
from ._energy import load_energy_knapsack
from ._knapsack import make_knapsack
from ._scheduling import load_energy_scheduling
from ._shortest_path import make_shortest_path
from ._terrain import make_terrain_shortest_path
from ._wilder import make_bipartite_matching, make_budget_allocation, make_diverse_recommendation

__all__ = ["load_cora_matching", "load_energy_knapsack", "load_energy_scheduling",
           "make_bipartite_matching", "make_budget_allocation", "make_diverse_recommendation",
           "make_knapsack", "make_shortest_path", "make_terrain_shortest_path"]
