"""The walking network: arrays, readers and cache, snapping, bounded search, isochrones, partitions."""
