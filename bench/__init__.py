"""Benchmarks that drive the real processes (run `python -m bench.bench_chat`)."""
