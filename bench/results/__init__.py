"""The results store (DESIGN §5): records, run directories, summaries, schema versions."""

SCHEMA_VERSION = 1
"""Version of every file a run writes. Bump it and add a migration when a shape changes."""
