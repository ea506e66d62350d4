"""Runs: the typed context, the pipeline, compare/sweep, the local and Dask engines, the demo city."""
