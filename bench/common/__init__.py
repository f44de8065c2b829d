"""Neutral parts both sides use: audio codecs and files, errors, ICE host selection,
YAML loading, number formats."""
