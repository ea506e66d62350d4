"""Inputs: the scenario, readers for every layer, validation, coordinates, the plan's projects."""
