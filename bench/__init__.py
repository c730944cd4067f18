"""Benchmarks of the call center (not tests): `python -m bench.run all` writes BENCHMARKS.md."""
