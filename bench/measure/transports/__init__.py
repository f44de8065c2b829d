"""Transports move bytes and stamp times; they know nothing of event meanings."""
