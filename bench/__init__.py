"""Benchmarks and load tests: `python -m bench` (or `ticketing bench`); see docs/bench.md."""
