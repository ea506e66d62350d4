"""Siting: the problem, the MILP model, solving, covering models, frontier and costs."""
