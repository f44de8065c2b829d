"""Measuring: sessions over transports (bytes) and dialects (meaning), the runner that schedules them."""
