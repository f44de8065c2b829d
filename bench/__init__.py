"""realtime-bench: latency and quality benchmarks for realtime speech-to-speech endpoints."""

__version__ = "0.1.0"
