"""What to run: the scenario file, the targets, and the matrix of calls they expand to."""
