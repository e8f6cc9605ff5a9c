"""Benchmarks: every number in docs/benchmarks.md comes from one of these, run as `python -m bench.X`."""
