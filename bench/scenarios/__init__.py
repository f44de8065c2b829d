"""Scenarios shipped inside the package (the quickstart is `rtbench run`'s default)."""
