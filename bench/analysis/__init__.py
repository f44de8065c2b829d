"""Reading runs: statistics, significance, one grouping of turns, compare, gate, history, change points."""
