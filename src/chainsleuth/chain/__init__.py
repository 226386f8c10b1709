"""Blockchain analytics over the chain store: clustering, tracing, exposure and path search."""
