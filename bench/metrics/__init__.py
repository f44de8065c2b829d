"""Metrics: pure functions of stored records, and the registry that describes them."""
